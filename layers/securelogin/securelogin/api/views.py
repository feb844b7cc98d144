"""What the API shows of domain objects and service results (the types of api/responses.py):
never a secret, times as ISO-8601 UTC. Every answer a route builds from them is built here."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from securelogin.api import responses
from securelogin.clock import iso
from securelogin.domain.models import AuditEvent, Device, FlowStatus, Identity, Share, User
from securelogin.domain.phones import mask

if TYPE_CHECKING:  # only their types: each function imports the services it uses
    from securelogin.domain.limits import Availability
    from securelogin.services.activation import ActivationStarted, QrEnrolled, QrSession, QrSessionState
    from securelogin.services.backoffice_devices import IssuedDevice, TemporaryCode
    from securelogin.services.enrolment import Enrolled
    from securelogin.services.flows import ChallengeIssued
    from securelogin.services.login import LoginStarted
    from securelogin.services.recovery import RecoveryStarted
    from securelogin.services.sessions import GrantedSession
    from securelogin.services.sharing import ShareStarted
    from securelogin.services.sls_mode import SecureLoginSetting
    from securelogin.services.step_up import StepUpStarted
    from securelogin.services.user_devices import DscPlusRequested, OnlineCard
    from securelogin.services.users import UserView
    from securelogin.services.withdrawals import WithdrawalStarted

QR_URI = "ibkr-ibkey://activate?session_id={session_id}"


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


# ------------------------------------------------------------------ devices and users

def device_fields(d: Device, now: datetime) -> dict[str, Any]:
    """The fields of a device object; those that do not apply to its type are left out."""
    shown: dict[str, Any] = {
        "device_id": d.device_id,
        "type": d.type.value,
        "label": d.label,
        "status": d.status_at(now).value,
        "security_level": d.security_level,
        "created_at": iso(d.created_at),
        "last_used_at": iso(d.last_used_at) if d.last_used_at else None,
    }
    optional = {"serial": d.serial, "ocra_suite": d.ocra_suite, "app_instance_id": d.app_instance_id,
                "platform": d.platform, "valid_until": iso(d.valid_until) if d.valid_until else None,
                "phone_masked": mask(d.phone) if d.phone else None}
    shown.update({k: v for k, v in optional.items() if v is not None})
    return shown


def device(d: Device, now: datetime) -> responses.Device:
    return responses.Device(**device_fields(d, now))


# What only the device's user sees once logged in: with an app instance's id, anyone who has
# the password could guess that app's PIN until it locks.
NOT_BEFORE_THE_SECOND_FACTOR = ("app_instance_id",)


def offered_device(d: Device, now: datetime) -> responses.Device:
    """A device offered on the strength of a password alone (the login's password step)."""
    shown = device_fields(d, now)
    for name in NOT_BEFORE_THE_SECOND_FACTOR:
        shown.pop(name, None)
    return responses.Device(**shown)


def issued_device(issued: IssuedDevice, now: datetime) -> responses.IssuedDevice:
    """A device just issued, with the generated seed or the card's values it has, shown this once."""
    shown_once = {"seed_hex": issued.generated_seed_hex, "card": issued.card}
    return responses.IssuedDevice(**device_fields(issued.device, now),
                                  **{name: value for name, value in shown_once.items() if value})


def identity(i: Identity) -> responses.IdentityShown:
    return responses.IdentityShown(
        date_of_birth=i.date_of_birth,
        citizenship=i.citizenship,
        country_of_residence=i.country_of_residence,
        id_document=responses.IdDocumentShown(type=i.id_document.type, number_last4=i.id_document.number[-4:]),
        ssn_last4=i.ssn[-4:] if i.ssn else None,
    )


def user_fields(u: User) -> dict[str, Any]:
    """The fields every view of a user shows (the back office's and the user's own)."""
    return {
        "username": u.username,
        "account_id": u.account_id,
        "entity_id": u.entity_id,
        "primary": u.primary,
        "phones": u.phones,
        "balance_usd": u.balance_usd,
        "jurisdiction": u.jurisdiction,
        "sls_mode": u.sls_mode.value,
        "restrictions": u.restrictions,
        "created_at": iso(u.created_at),
    }


def user_record(seen: UserView, now: datetime) -> responses.UserRecord:
    """A user as the back office sees them: identity (in part) and devices."""
    return responses.UserRecord(**user_fields(seen.user), identity=identity(seen.identity),
                                devices=[device(d, now) for d in seen.devices])


def profile(user: User, devices: list[Device], withdrawal_limits: dict[str, dict[str, float | None]],
            now: datetime) -> responses.Profile:
    """The signed-in user's own view: devices, and the withdrawal limits of each kind of device."""
    return responses.Profile(**user_fields(user), devices=[device(d, now) for d in devices],
                             withdrawal_limits=withdrawal_limits)


def temporary_code(issued: TemporaryCode) -> responses.TemporaryCode:
    return responses.TemporaryCode(device_id=issued.device.device_id, code=issued.code,
                                   full_access_until=iso(issued.device.full_access_until),
                                   portal_access_until=iso(issued.device.valid_until))


def share(s: Share) -> responses.Share:
    shown: dict[str, Any] = {"share_id": s.share_id, "status": s.status, "requester_username": s.requester,
                             "owner_username": s.owner, "device_id": s.device_id, "same_entity": s.same_entity,
                             "created_at": iso(s.created_at)}
    if s.reason:
        shown["reason"] = s.reason
    return responses.Share(**shown)


def shares(listed: list[Share]) -> responses.Shares:
    return responses.Shares(shares=[share(s) for s in listed])


def audit_event(e: AuditEvent) -> responses.AuditEvent:
    return responses.AuditEvent(**{**jsonable(e.details), "at": iso(e.at), "type": e.type})


def audit_trail(events: list[AuditEvent]) -> responses.AuditTrail:
    return responses.AuditTrail(events=[audit_event(e) for e in events])


# ------------------------------------------------------------------ challenges

def challenge_issued(issued: ChallengeIssued) -> responses.ChallengeIssued:
    """A challenge to a device, in any flow (login, withdrawal)."""
    return responses.ChallengeIssued(device_id=issued.device.device_id, type=issued.device.type,
                                     method=issued.method, challenge=jsonable(issued.public))


# ------------------------------------------------------------------ login and sessions

def session_fields(granted: GrantedSession) -> dict[str, Any]:
    """The fields of a session a flow opened (a login's answer, its status, an opted-out login)."""
    return {"session_token": granted.token, "scope": granted.session.scope,
            "expires_at": iso(granted.session.expires_at)}


def session_granted(granted: GrantedSession) -> responses.SessionGranted:
    return responses.SessionGranted(**session_fields(granted))


def login_started(started: LoginStarted, now: datetime) -> responses.LoginStarted:
    """The devices to choose from; an opted-out user's trading session and restrictions too."""
    shown: dict[str, Any] = {"login_id": started.login_id, "expires_at": iso(started.expires_at),
                             "devices": [offered_device(d, now) for d in started.devices],
                             "default_device_id": started.default_device_id}
    if started.trading_session is not None:
        # The session's expiry replaces the login's: the session is what the client holds now.
        shown |= session_fields(started.trading_session) | {"restrictions": started.restrictions}
    return responses.LoginStarted(**shown)


def login_status(status: FlowStatus, granted: GrantedSession | None) -> responses.LoginStatus:
    """A login's status, with its session when this read is the one that hands it out."""
    if granted is None:
        return responses.LoginStatus(status=status.value)
    return responses.LoginStatus(status=status.value, **session_fields(granted))


# ------------------------------------------------------------------ IB Key activation and recovery

def activation_sent(started: ActivationStarted) -> responses.ActivationSent:
    return responses.ActivationSent(activation_id=started.activation_id, sent_to=started.sent_to,
                                    expires_at=iso(started.expires_at))


def qr_session(session: QrSession) -> responses.QrSession:
    """The session ID in groups of four for a person to read, as the URI the app scans, and
    that URI drawn as a QR code."""
    import segno  # on first use: the functions that never draw a QR code do not load it

    from securelogin.crypto.session_ids import grouped

    payload = QR_URI.format(session_id=session.session_id)
    return responses.QrSession(session_id=grouped(session.session_id), qr_payload=payload,
                               qr_svg=segno.make(payload, error="m").svg_inline(scale=4),
                               expires_at=iso(session.expires_at))


def qr_session_status(state: QrSessionState) -> responses.QrSessionStatus:
    if state.device_id is None:
        return responses.QrSessionStatus(status=state.status)
    return responses.QrSessionStatus(status=state.status, device_id=state.device_id)


def enrolled(done: Enrolled) -> responses.AppEnrolled:
    """An IB Key set up in the app, by activation or by recovery."""
    return responses.AppEnrolled(device_id=done.device_id, app_instance_id=done.app_instance_id,
                                 ocra_suite=done.ocra_suite, ocra_secret_hex=done.ocra_secret_hex)


def qr_enrolled(done: QrEnrolled) -> responses.QrAppEnrolled:
    """An IB Key set up in the app by a QR session, and whose session that was."""
    return responses.QrAppEnrolled(**enrolled(done).model_dump(), username=done.username)


def recovery_started(started: RecoveryStarted) -> responses.RecoveryStarted:
    """By SMS, where the code went; by device, the device and its challenge."""
    shown: dict[str, Any] = {"recovery_id": started.recovery_id, "method": started.method,
                             "expires_at": iso(started.expires_at)}
    if started.sent_to:
        shown["sent_to"] = started.sent_to
    if started.device_id:
        shown |= {"device_id": started.device_id, "challenge": jsonable(started.challenge)}
    return responses.RecoveryStarted(**shown)


# ------------------------------------------------------------------ the user's devices

def dsc_plus_requested(requested: DscPlusRequested) -> responses.DscPlusRequested:
    return responses.DscPlusRequested(request_id=requested.request_id, status="requested",
                                      fee_usd=requested.fee_usd, reserve_usd=requested.reserve_usd)


def device_challenge(challenge_code: str, expires_at: datetime) -> responses.DeviceChallenge:
    """A challenge of a device's own: to activate a card that arrived, or before changing a DSC+'s PIN."""
    return responses.DeviceChallenge(challenge_code=challenge_code, expires_at=iso(expires_at))


def online_card(made: OnlineCard) -> responses.OnlineCard:
    return responses.OnlineCard(device_id=made.device.device_id, card=made.card,
                                valid_until=iso(made.device.valid_until))


# ------------------------------------------------------------------ settings

def secure_login_setting(setting: SecureLoginSetting) -> responses.SecureLoginSetting:
    return responses.SecureLoginSetting(mode=setting.mode, can_change=setting.can_change,
                                        primary_username=setting.primary_username,
                                        restrictions=setting.restrictions)


def secure_login_changed(setting: SecureLoginSetting) -> responses.SecureLoginChanged:
    return responses.SecureLoginChanged(mode=setting.mode, restrictions=setting.restrictions)


# ------------------------------------------------------------------ withdrawals

def withdrawal_started(started: WithdrawalStarted) -> responses.WithdrawalStarted:
    return responses.WithdrawalStarted(withdrawal_id=started.withdrawal_id, statement=started.statement,
                                       eligible_devices=started.eligible_device_ids,
                                       expires_at=iso(started.expires_at))


def withdrawal_authorized(left: Availability) -> responses.WithdrawalAuthorized:
    """An authorized withdrawal, and what the confirming device's limits still allow."""
    remaining = responses.Remaining(today=left.today, five_business_days=left.five_business_days)
    return responses.WithdrawalAuthorized(status="authorized", remaining=remaining)


# ------------------------------------------------------------------ sharing

def share_started(started: ShareStarted, now: datetime) -> responses.ShareStarted:
    """A share asked for: the owner's device it would use, and that device's challenge."""
    return responses.ShareStarted(share_id=started.share.share_id, device=offered_device(started.device, now),
                                  challenge=jsonable(started.challenge))


def share_state(s: Share) -> responses.ShareState:
    return responses.ShareState(share_id=s.share_id, status=s.status)


# ------------------------------------------------------------------ step-up

def step_up_started(started: StepUpStarted, now: datetime) -> responses.StepUpStarted:
    return responses.StepUpStarted(step_up_id=started.step_up_id, devices=[device(d, now) for d in started.devices],
                                   expires_at=iso(started.expires_at))


def step_up_state(status: FlowStatus, until: datetime | None) -> responses.StepUpState:
    if until is None:
        return responses.StepUpState(status=status.value)
    return responses.StepUpState(status=status.value, stepped_up_until=iso(until))
