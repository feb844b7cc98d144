"""Data access for device shares between usernames of the same person."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pynamodb.exceptions import UpdateError

from securelogin.adapters.records import device_item
from securelogin.adapters.stores import Completing, StaleWrite, conditional_transaction, failed_on_condition
from securelogin.adapters.table import DeviceItem, ShareItem, user_pk
from securelogin.domain.models import Device, DeviceStatus

PENDING = "SHARES#pending_compliance"


@dataclass
class Share:
    share_id: str
    key: str
    requester: str
    owner: str
    device_id: str
    status: str  # challenged, pending_compliance, approved, rejected, cancelled
    same_entity: bool
    created_at: datetime
    expires_at: datetime
    deactivated: list[str] = field(default_factory=list)
    reason: str | None = None


def _share_from(item: ShareItem) -> Share:
    return Share(share_id=item.share_id, key=item.pk.removeprefix("SHARE#"), requester=item.requester,
                 owner=item.owner, device_id=item.device_id, status=item.status, same_entity=bool(item.same_entity),
                 created_at=item.created_at, expires_at=item.expires_at, deactivated=list(item.deactivated or []),
                 reason=item.reason)


def _item(key: str) -> ShareItem:
    return ShareItem(pk=f"SHARE#{key}", sk="SHARE")


class ShareStore:
    def create(self, share: Share) -> None:
        ShareItem(pk=f"SHARE#{share.key}", sk="SHARE", share_id=share.share_id, requester=share.requester,
                  owner=share.owner, device_id=share.device_id, status=share.status, same_entity=share.same_entity,
                  created_at=share.created_at, expires_at=share.expires_at,
                  ).save(condition=ShareItem.pk.does_not_exist())

    def get(self, key: str) -> Share | None:
        try:
            return _share_from(ShareItem.get(f"SHARE#{key}", "SHARE", consistent_read=True))
        except ShareItem.DoesNotExist:
            return None

    def pending(self, limit: int = 100) -> list[Share]:
        return [_share_from(i) for i in ShareItem.gsi1.query(PENDING, limit=limit)]

    def await_compliance(self, share: Share, completing: Completing) -> None:
        """The device was proven: the share waits for Compliance (one transaction with
        the completion of its challenge)."""
        with conditional_transaction(share.key) as tx:
            tx.update(_item(share.key), actions=[ShareItem.status.set("pending_compliance"),
                                                 ShareItem.gsi1pk.set(PENDING),
                                                 ShareItem.gsi1sk.set(share.created_at.isoformat())],
                      condition=ShareItem.status == "challenged")
            completing(tx)

    def approve(self, share: Share, expected_status: str, link: Device, deactivate: list[Device],
                reason: str | None, completing: Completing | None = None) -> None:
        """The share is approved: the requester gets a link to the owner's device and their
        own physical devices become inactive, in one transaction (with the completion of
        its challenge, when the approval follows the answer at once)."""
        actions = [ShareItem.status.set("approved"), ShareItem.gsi1pk.remove(), ShareItem.gsi1sk.remove(),
                   ShareItem.deactivated.set([d.device_id for d in deactivate])]
        if reason:
            actions.append(ShareItem.reason.set(reason))
        with conditional_transaction(share.key) as tx:
            tx.update(_item(share.key), actions=actions, condition=ShareItem.status == expected_status)
            tx.save(device_item(link))
            for own in deactivate:
                tx.update(DeviceItem(pk=user_pk(own.username), sk=f"DEVICE#{own.device_id}"),
                          actions=[DeviceItem.status.set(DeviceStatus.INACTIVE.value)],
                          condition=DeviceItem.status == DeviceStatus.ACTIVE.value)
            if completing is not None:
                completing(tx)

    def reject(self, share: Share, reason: str) -> None:
        try:
            _item(share.key).update(actions=[ShareItem.status.set("rejected"), ShareItem.reason.set(reason),
                                             ShareItem.gsi1pk.remove(), ShareItem.gsi1sk.remove()],
                                    condition=ShareItem.status == "pending_compliance")
        except UpdateError as exc:
            if failed_on_condition(exc):
                raise StaleWrite(share.key) from exc
            raise

    def cancel(self, share: Share) -> None:
        """Ends a share: the link is revoked and the requester's own devices come back."""
        with conditional_transaction(share.key) as tx:
            tx.update(_item(share.key), actions=[ShareItem.status.set("cancelled"), ShareItem.gsi1pk.remove(),
                                                 ShareItem.gsi1sk.remove()],
                      condition=ShareItem.status == share.status)  # what is undone depends on it
            if share.status == "approved":
                tx.update(DeviceItem(pk=user_pk(share.requester), sk=f"DEVICE#{share.device_id}"),
                          actions=[DeviceItem.status.set(DeviceStatus.REVOKED.value)],
                          condition=DeviceItem.shared_from == share.owner)
                for device_id in share.deactivated:
                    tx.update(DeviceItem(pk=user_pk(share.requester), sk=f"DEVICE#{device_id}"),
                              actions=[DeviceItem.status.set(DeviceStatus.ACTIVE.value)],
                              condition=DeviceItem.status == DeviceStatus.INACTIVE.value)
