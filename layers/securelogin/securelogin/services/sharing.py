"""Sharing one physical device between usernames of the same person (rules.md "Device
sharing"): the requester names the owner, proves the owner's password and possession of
the device; same-entity shares are approved at once, others wait for Compliance."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from securelogin.clock import Clock
from securelogin.crypto.codes import lookup_key
from securelogin.domain import statements
from securelogin.domain.models import (
    Device,
    DeviceStatus,
    DeviceType,
    Identity,
    Method,
    Purpose,
    Share,
    ShareStatus,
    User,
    most_secure,
)
from securelogin.errors import Conflict, Gone, NotFound
from securelogin.policy import Policy
from securelogin.ports import Completing, DeviceStore, ShareStore, StaleWrite, UserStore, together
from securelogin.services.audit import AuditTrail
from securelogin.services.flows import FlowEngine
from securelogin.services.notify import Notifier
from securelogin.services.passwords import PasswordGate
from securelogin.services.users import UserService

PURPOSE = Purpose.SHARE


@dataclass(frozen=True)
class ShareStarted:
    share: Share
    device: Device
    challenge: dict[str, Any]


def same_person(a: Identity, b: Identity) -> bool:
    """Equal birth date, citizenship and residence, and the same identity document, or
    (for US persons) the same SSN."""
    if (a.date_of_birth, a.citizenship, a.country_of_residence) != (b.date_of_birth, b.citizenship,
                                                                    b.country_of_residence):
        return False
    same_document = (a.id_document.type.lower(), a.id_document.number) == (b.id_document.type.lower(),
                                                                           b.id_document.number)
    us_person = a.citizenship == "US" or a.country_of_residence == "US"
    return same_document or (us_person and a.ssn is not None and a.ssn == b.ssn)


class SharingService:
    def __init__(self, passwords: PasswordGate, users: UserService, user_store: UserStore, devices: DeviceStore,
                 store: ShareStore, flows: FlowEngine, audit: AuditTrail, notifier: Notifier, clock: Clock,
                 policy: Policy) -> None:
        self._passwords = passwords
        self._users = users
        self._user_store = user_store
        self._devices = devices
        self._store = store
        self._flows = flows
        self._audit = audit
        self._notifier = notifier
        self._clock = clock
        self._policy = policy

    def start(self, requester: str, owner: str, owner_password: str) -> ShareStarted:
        now = self._clock.now()
        checked = self._passwords.check(owner, owner_password, PURPOSE).user
        assert checked is not None
        owner = checked.username
        if owner == requester:
            raise Conflict("no_shareable_device", "A device cannot be shared with its own user.")
        asking, owning = self._users.view(requester), self._users.view(owner)
        if not same_person(asking.identity, owning.identity):
            raise Conflict("different_identification", "The two usernames do not belong to the same person.")
        if any(d.temporary and d.status_at(now) == DeviceStatus.ACTIVE
               for d in [*asking.devices, *owning.devices]):
            raise Conflict("temporary_device_assigned", "A temporary device is assigned to one of the usernames.")
        device = most_secure([d for d in owning.devices
                              if d.physical and d.status_at(now) == DeviceStatus.ACTIVE and d.shared_from is None])
        if device is None:
            if any(d.type == DeviceType.IB_KEY and d.status == DeviceStatus.ACTIVE for d in owning.devices):
                raise Conflict("ib_key_use_add_user", "IB Key users add the other username to the app instead.")
            raise Conflict("no_shareable_device", "The owner has no physical device to share.")
        own_levels = [d.security_level for d in asking.devices
                      if d.physical and d.status_at(now) == DeviceStatus.ACTIVE]
        if own_levels and max(own_levels) > device.security_level:
            raise Conflict("less_secure_device", "Only the most secure device of the two usernames can be shared.")

        share_id, flow, issued = self._flows.start_challenged(PURPOSE, requester, self._policy.challenge_ttl, device,
                                                              statements.operation(PURPOSE, requester),
                                                              Method.CHALLENGE_RESPONSE,
                                                              details={"device_user": owner})
        share = Share(share_id=share_id, key=flow.key, requester=requester, owner=owner, device_id=device.device_id,
                      status=ShareStatus.CHALLENGED, same_entity=asking.user.entity_id == owning.user.entity_id,
                      created_at=now, expires_at=flow.expires_at)
        self._store.create(share, together(*(
            self._audit.recording(who, "sharing.requested", share_id=share_id, requester=requester, owner=owner,
                                  device_id=device.device_id) for who in (requester, owner))))
        return ShareStarted(share, device, issued.public)

    def complete(self, requester: str, share_id: str, response: str) -> Share:
        """The requester's answer from the owner's device, counted like any other answer
        to that device (it is one device, whoever answers with it)."""
        share = self._share(share_id, requester)
        if share.status != ShareStatus.CHALLENGED:
            raise Gone("share_expired", "This share request has expired or was answered. Start again.")
        right = self._flows.answer(self._flows.open(PURPOSE, share_id, owner=requester), response)
        assert right.device is not None
        if share.same_entity:
            with self._flows.settling(right):
                return self._approve(share, ShareStatus.CHALLENGED, right.device, None,
                                     completing=self._flows.completing(right))
        events = [self._audit.recording(who, "sharing.pending_compliance", share_id=share_id)
                  for who in (share.requester, share.owner)]
        try:
            with self._flows.settling(right):
                self._store.await_compliance(share, together(self._flows.completing(right), *events))
        except StaleWrite:
            raise Gone("share_expired", "This share request was already answered.") from None
        return replace(share, status=ShareStatus.PENDING_COMPLIANCE)

    def decide(self, share_id: str, approve: bool, reason: str, actor: str) -> Share:
        share = self._share(share_id, None)
        if share.status != ShareStatus.PENDING_COMPLIANCE:
            raise Conflict("not_pending", "Only a share waiting for Compliance can be decided.")
        if approve:
            device = self._devices.get(share.owner, share.device_id)
            if device is None or device.status != DeviceStatus.ACTIVE:
                raise Conflict("device_not_active", "The owner's device is no longer active.")
            return self._approve(share, ShareStatus.PENDING_COMPLIANCE, device, reason, actor)
        events = [self._audit.recording(who, "sharing.rejected", share_id=share_id, by=actor, reason=reason)
                  for who in (share.requester, share.owner)]
        notices = self._notices_to_both(share, "the request to share a security device was rejected by Compliance.")
        try:
            self._store.reject(share, reason, together(*events, notices))
        except StaleWrite:
            raise Conflict("not_pending", "This share was decided meanwhile.") from None
        return replace(share, status=ShareStatus.REJECTED, reason=reason)

    def cancel(self, requester: str, share_id: str) -> Share:
        share = self._share(share_id, requester)
        if share.status not in (ShareStatus.CHALLENGED, ShareStatus.PENDING_COMPLIANCE, ShareStatus.APPROVED):
            raise Conflict("not_active", "This share has already ended.")
        events = [self._audit.recording(who, "sharing.cancelled", share_id=share_id)
                  for who in (share.requester, share.owner)]
        notices = self._notices_to_both(share, "the sharing of a security device between your usernames has ended.")
        try:
            self._store.cancel(share, self._still_inactive(share), together(*events, notices))
        except StaleWrite:
            raise Conflict("share_changed", "This share changed meanwhile. Try again.") from None
        return replace(share, status=ShareStatus.CANCELLED)

    def pending(self) -> list[Share]:
        return self._store.pending()

    # ------------------------------------------------------------------ helpers

    def _approve(self, share: Share, expected: ShareStatus, device: Device, reason: str | None,
                 actor: str | None = None, completing: Completing | None = None) -> Share:
        asking = self._user_store.partition(share.requester)
        own = [d for d in asking.devices
               if d.physical and d.status == DeviceStatus.ACTIVE and d.shared_from is None]
        # A link only: the device's state and secrets stay in the owner's item.
        link = replace(device, username=share.requester, shared_from=share.owner, status=DeviceStatus.ACTIVE,
                       consecutive_failures=0, locked_until=None, lock_count=0, open_pair=None,
                       sealed_secret=None, created_at=self._clock.now())
        events = [self._audit.recording(who, "sharing.approved", share_id=share.share_id, device_id=device.device_id,
                                        device_type=device.type.value, by=actor or "same_entity", reason=reason)
                  for who in (share.requester, share.owner)]
        notices = self._notices_to_both(
            share, f"{share.requester} may now log in with a security device of {share.owner}.", known=asking.user)
        try:
            self._store.approve(share, expected, link, own, reason, together(completing, *events, notices))
        except StaleWrite:
            raise Gone("share_expired", "This share request was already answered.") from None
        return replace(share, status=ShareStatus.APPROVED, deactivated=[d.device_id for d in own], reason=reason)

    def _still_inactive(self, share: Share) -> list[str]:
        """The requester's own devices that the approved share made inactive and that still
        are: cancelling brings these back. One the back office marked lost meanwhile (or that
        ended otherwise) stays as it is."""
        if share.status != ShareStatus.APPROVED or not share.deactivated:
            return []
        own = {d.device_id: d for d in self._user_store.partition(share.requester, resolve_links=False).devices}
        return [device_id for device_id in share.deactivated
                if device_id in own and own[device_id].status == DeviceStatus.INACTIVE]

    def _share(self, share_id: str, requester: str | None) -> Share:
        share = self._store.get(lookup_key(share_id))
        if share is None or (requester is not None and share.requester != requester):
            raise NotFound("share_not_found", "No such share of yours.")
        return share

    def _notices_to_both(self, share: Share, text: str, known: User | None = None) -> Completing:
        return together(*(self._notifier.notice(known, text) if known is not None and known.username == username
                          else self._notifier.notice_to(username, text) for username in (share.requester, share.owner)))


