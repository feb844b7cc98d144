"""Conversions between table items and domain objects, in one place."""
from __future__ import annotations

import json
from datetime import timedelta

from securelogin.adapters.table import ChallengeAttribute, DeviceItem, FlowItem, PushItem, SessionItem, UserItem
from securelogin.domain.models import (
    Challenge,
    Device,
    DeviceStatus,
    DeviceType,
    Flow,
    FlowStatus,
    Method,
    Purpose,
    Push,
    Scope,
    Session,
    SlsMode,
    User,
)


def user_from(item: UserItem) -> User:
    return User(
        username=item.username,
        password_hash=item.password_hash,
        account_id=item.account_id,
        entity_id=item.entity_id,
        primary=item.primary,
        phones=list(item.phones or []),
        balance_usd=float(item.balance_usd),
        jurisdiction=item.jurisdiction,
        created_at=item.created_at,
        sls_mode=SlsMode(item.sls_mode),
        restrictions=list(item.restrictions or []),
        preferred_device_id=item.preferred_device_id,
        awaiting_permanent_device=bool(item.awaiting_permanent_device),
        reserves={k: float(v) for k, v in (item.reserves.as_dict() if item.reserves else {}).items()},
        open_request_id=item.open_request_id, devices_version=int(item.devices_version or 0),
    )


def user_item(user: User, sealed_identity: str) -> UserItem:
    return UserItem.keyed(
        user.username, gsi1pk=UserItem.account(user.account_id), gsi1sk=UserItem.key(user.username)[0],
        username=user.username, password_hash=user.password_hash,
        account_id=user.account_id, entity_id=user.entity_id, primary=user.primary, phones=user.phones,
        balance_usd=user.balance_usd, jurisdiction=user.jurisdiction, sls_mode=user.sls_mode.value,
        restrictions=user.restrictions, preferred_device_id=user.preferred_device_id,
        awaiting_permanent_device=user.awaiting_permanent_device, reserves=user.reserves,
        open_request_id=user.open_request_id, sealed_identity=sealed_identity, created_at=user.created_at,
    )


def device_from(item: DeviceItem) -> Device:
    return Device(
        device_id=item.device_id, username=item.username, type=DeviceType(item.type), label=item.label,
        status=DeviceStatus(item.status), created_at=item.created_at, last_used_at=item.last_used_at,
        phone=item.phone, serial=item.serial, ocra_suite=item.ocra_suite, app_instance_id=item.app_instance_id,
        platform=item.platform, valid_until=item.valid_until, consecutive_failures=int(item.consecutive_failures or 0),
        locked_until=item.locked_until, lock_count=int(item.lock_count or 0), sealed_secret=item.sealed_secret,
        open_pair=item.open_pair, public_key=item.public_key, push_endpoint=item.push_endpoint,
        full_access_until=item.full_access_until, shared_from=item.shared_from, credential_id=item.credential_id,
        sign_count=int(item.sign_count) if item.sign_count is not None else None,
    )


def device_item(device: Device) -> DeviceItem:
    # Only the owner's item is found by device id; a shared link is not indexed.
    indexed = device.shared_from is None
    return DeviceItem.keyed(
        device.username, device.device_id,
        gsi1pk=DeviceItem.by_id(device.device_id) if indexed else None, gsi1sk=DeviceItem.INDEXED if indexed else None,
        device_id=device.device_id, username=device.username, type=device.type.value, label=device.label,
        status=device.status.value, created_at=device.created_at, last_used_at=device.last_used_at,
        phone=device.phone, serial=device.serial, ocra_suite=device.ocra_suite,
        app_instance_id=device.app_instance_id, platform=device.platform, valid_until=device.valid_until,
        consecutive_failures=device.consecutive_failures, locked_until=device.locked_until,
        lock_count=device.lock_count, sealed_secret=device.sealed_secret, open_pair=device.open_pair,
        public_key=device.public_key, push_endpoint=device.push_endpoint, full_access_until=device.full_access_until,
        shared_from=device.shared_from, credential_id=device.credential_id, sign_count=device.sign_count,
    )


def challenge_from(attr: ChallengeAttribute | None) -> Challenge | None:
    if attr is None:
        return None
    device = device_from(DeviceItem.from_raw_data(json.loads(attr.device))) if attr.device else None
    return Challenge(device_id=attr.device_id, method=Method(attr.method), issued_at=attr.issued_at,
                     expires_at=attr.expires_at, check_data=dict(attr.check_data.as_dict()), device=device)


def challenge_attribute(challenge: Challenge) -> ChallengeAttribute:
    device = json.dumps(device_item(challenge.device).serialize()) if challenge.device else None
    return ChallengeAttribute(device_id=challenge.device_id, method=challenge.method.value,
                              issued_at=challenge.issued_at, expires_at=challenge.expires_at,
                              check_data=challenge.check_data, device=device)


def flow_from(item: FlowItem) -> Flow:
    return Flow(
        purpose=Purpose(item.purpose), key=item.flow_key, username=item.username,
        expires_at=item.expires_at, status=FlowStatus(item.status), device_ids=list(item.device_ids or []),
        challenge=challenge_from(item.challenge), attempts=int(item.attempts or 0),
        version=int(item.challenge_version or 0), scope=Scope(item.scope),
        session_handed_out=bool(item.session_handed_out),
        amount_usd=float(item.amount_usd) if item.amount_usd is not None else None,
        confirmed_by=item.confirmed_by, details=dict(item.details.as_dict()) if item.details else {},
        statement=item.statement or "", answered=set(item.answered or ()),
        completed_by_request=item.completed_by_request,
    )


def session_from(item: SessionItem) -> Session:
    return Session(key=item.session_key, username=item.username, scope=Scope(item.scope),
                   created_at=item.created_at, expires_at=item.expires_at, device_id=item.device_id,
                   platform=item.platform or "portal", proved_at=item.proved_at,
                   proved_with=DeviceType(item.proved_with) if item.proved_with else None,
                   proved_by=item.proved_by)


def push_from(item: PushItem) -> Push:
    return Push(key=item.pk.removeprefix("PUSH#"), username=item.username, holder=item.holder,
                device_id=item.device_id, purpose=Purpose(item.purpose), flow_key=item.flow_key, nonce=item.nonce,
                statement=item.statement, number_digest=item.number_digest, expires_at=item.expires_at,
                answered_at=item.answered_at, withdrawn_at=item.withdrawn_at)


def push_item(push: Push) -> PushItem:
    return PushItem.keyed(push.key, username=push.username, holder=push.holder, device_id=push.device_id,
                          purpose=push.purpose.value, flow_key=push.flow_key, nonce=push.nonce,
                          statement=push.statement, number_digest=push.number_digest, expires_at=push.expires_at,
                          expires_ttl=push.expires_at + timedelta(days=1))
