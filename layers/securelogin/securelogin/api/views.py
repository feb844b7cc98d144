"""What the API shows of domain objects (the types of api/responses.py): never a secret,
times as ISO-8601 UTC."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from securelogin.api import responses
from securelogin.clock import iso
from securelogin.domain.models import AuditEvent, Device, Identity, Share, User
from securelogin.domain.phones import mask

if TYPE_CHECKING:  # only their types: each function imports the services it uses
    from securelogin.services.activation import Enrolled
    from securelogin.services.flows import ChallengeIssued
    from securelogin.services.sessions import GrantedSession


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


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


def share(s: Share) -> responses.Share:
    shown: dict[str, Any] = {"share_id": s.share_id, "status": s.status, "requester_username": s.requester,
                             "owner_username": s.owner, "device_id": s.device_id, "same_entity": s.same_entity,
                             "created_at": iso(s.created_at)}
    if s.reason:
        shown["reason"] = s.reason
    return responses.Share(**shown)


def audit_event(e: AuditEvent) -> responses.AuditEvent:
    return responses.AuditEvent(**{**jsonable(e.details), "at": iso(e.at), "type": e.type})


def challenge_issued(issued: ChallengeIssued) -> responses.ChallengeIssued:
    """A challenge to a device, in any flow (login, withdrawal)."""
    return responses.ChallengeIssued(device_id=issued.device.device_id, type=issued.device.type,
                                     method=issued.method, challenge=jsonable(issued.public))


def session_granted(granted: GrantedSession) -> dict[str, Any]:
    """The fields of a session a flow opened (a login's answer, its status, an opted-out login)."""
    return {"session_token": granted.token, "scope": granted.session.scope,
            "expires_at": iso(granted.session.expires_at)}


def enrolled(done: Enrolled) -> responses.AppEnrolled:
    """An IB Key set up in the app, by activation or by recovery."""
    return responses.AppEnrolled(device_id=done.device_id, app_instance_id=done.app_instance_id,
                                 ocra_suite=done.ocra_suite, ocra_secret_hex=done.ocra_secret_hex)
