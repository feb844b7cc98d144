"""Users: creating one from the back office (identity sealed, SMS enrolled at once) and
reading one with their identity and devices."""
from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass

from securelogin.clock import Clock
from securelogin.crypto.passwords import hash_password
from securelogin.domain.models import Device, DeviceStatus, DeviceType, IdDocument, Identity, User
from securelogin.domain.phones import mask
from securelogin.domain.usernames import normalise_username
from securelogin.errors import Conflict, NotFound
from securelogin.ports import AlreadyExists, SecretBox, UserStore, together
from securelogin.services.audit import AuditTrail


@dataclass(frozen=True)
class NewUser:
    username: str
    password: str
    account_id: str
    entity_id: str
    primary: bool
    identity: Identity
    phones: list[str]
    balance_usd: float
    jurisdiction: str


@dataclass(frozen=True)
class UserView:
    user: User
    identity: Identity
    devices: list[Device]


def new_device_id() -> str:
    return "dev_" + secrets.token_hex(10)


def identity_context(username: str) -> str:
    return f"identity|USER#{username}"


class UserService:
    def __init__(self, store: UserStore, box: SecretBox, audit: AuditTrail, clock: Clock) -> None:
        self._store = store
        self._box = box
        self._audit = audit
        self._clock = clock

    def create(self, new: NewUser, actor: str) -> User:
        """Creates a user; with a phone on file they are enrolled in ``sms`` at once,
        since a new user has no other active device."""
        now = self._clock.now()
        user = User(username=normalise_username(new.username), password_hash=hash_password(new.password),
                    account_id=new.account_id, entity_id=new.entity_id, primary=new.primary, phones=list(new.phones),
                    balance_usd=new.balance_usd, jurisdiction=new.jurisdiction.upper(), created_at=now)
        devices = []
        if user.phones:
            devices.append(Device(device_id=new_device_id(), username=user.username, type=DeviceType.SMS,
                                  label=f"SMS to {mask(user.phones[0])}", status=DeviceStatus.ACTIVE,
                                  created_at=now, phone=user.phones[0]))
        sealed = self._box.seal(json.dumps(asdict(new.identity)).encode(), identity_context(user.username))
        events = [self._audit.recording(user.username, "user.created", by=actor)]
        events += [self._audit.recording(user.username, "device.added", device_id=device.device_id,
                                         device_type=device.type.value, reason="auto_enrolment")
                   for device in devices]
        try:
            self._store.create(user, sealed, devices, together(*events))
        except AlreadyExists:
            raise Conflict("username_taken", "That username is already taken.") from None
        return user

    def view(self, username: str) -> UserView:
        username = normalise_username(username)
        found = self._store.partition(username)
        if found.user is None or found.sealed_identity is None:
            raise NotFound("user_not_found", "No such user.")
        raw = json.loads(self._box.open(found.sealed_identity, identity_context(username)))
        identity = Identity(date_of_birth=raw["date_of_birth"], citizenship=raw["citizenship"],
                            country_of_residence=raw["country_of_residence"],
                            id_document=IdDocument(**raw["id_document"]), ssn=raw.get("ssn"))
        return UserView(found.user, identity, found.devices)

    def profile(self, username: str) -> tuple[User, list[Device]]:
        found = self._store.partition(normalise_username(username))
        if found.user is None:
            raise NotFound("user_not_found", "No such user.")
        return found.user, found.devices
