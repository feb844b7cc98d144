"""What the API shows of domain objects: never a secret, times as ISO-8601 UTC."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from securelogin.adapters.shares import Share
from securelogin.clock import iso
from securelogin.domain.models import AuditEvent, Device, Identity, User
from securelogin.domain.phones import mask


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def device(d: Device, now: datetime) -> dict[str, Any]:
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


def identity(i: Identity) -> dict[str, Any]:
    return {
        "date_of_birth": i.date_of_birth,
        "citizenship": i.citizenship,
        "country_of_residence": i.country_of_residence,
        "id_document": {"type": i.id_document.type, "number_last4": i.id_document.number[-4:]},
        "ssn_last4": i.ssn[-4:] if i.ssn else None,
    }


def user(u: User) -> dict[str, Any]:
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


def share(s: Share) -> dict[str, Any]:
    shown: dict[str, Any] = {"share_id": s.share_id, "status": s.status, "requester_username": s.requester,
                             "owner_username": s.owner, "device_id": s.device_id, "same_entity": s.same_entity,
                             "created_at": iso(s.created_at)}
    if s.reason:
        shown["reason"] = s.reason
    return shown


def audit_event(e: AuditEvent) -> dict[str, Any]:
    return {"at": iso(e.at), "type": e.type, **jsonable(e.details)}
