"""Sessions: made when a flow grants one, stored under the lookup key of their token,
and checked on every request so that they end with what opened them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from securelogin.clock import Clock
from securelogin.crypto.codes import lookup_key, random_token
from securelogin.domain.models import Device, DeviceStatus, Scope, Session, SlsMode
from securelogin.policy import Policy
from securelogin.ports import Completing, DeviceStore, SessionStore, UserStore


@dataclass(frozen=True)
class GrantedSession:
    token: str  # handed to the client once; only its lookup key is stored
    session: Session


class SessionService:
    TOKEN_PREFIX = "sls_"  # noqa: S105 - a prefix, not a secret

    def __init__(self, store: SessionStore, users: UserStore, devices: DeviceStore, clock: Clock,
                 policy: Policy) -> None:
        self._store = store
        self._users = users
        self._devices = devices
        self._clock = clock
        self._policy = policy

    def new(self, username: str, scope: Scope, device: Device | None, platform: str = "portal") -> GrantedSession:
        """A session not yet stored: the caller stores it, alone or inside a transaction.
        It ends after the session lifetime, or sooner when what opened it ends sooner (a
        temporary code's full access, an online card's validity). It remembers the device
        that opened it and when, for step-up (services/step_up.py)."""
        token = self.TOKEN_PREFIX + random_token(32)
        now = self._clock.now()
        ends = [now + self._policy.session_ttl, device.access_ends_at(scope) if device else None]
        session = Session(key=lookup_key(token), username=username, scope=scope, created_at=now,
                          expires_at=min(e for e in ends if e is not None),
                          device_id=device.device_id if device else None, platform=platform,
                          proved_at=now if device else None, proved_with=device.type if device else None,
                          proved_by=device.device_id if device else None)
        return GrantedSession(token, session)

    def store(self, granted: GrantedSession) -> None:
        self._store.put(granted.session)

    def authorize(self, token: str) -> Session | None:
        """The live session a bearer token stands for, or None."""
        if not token.startswith(self.TOKEN_PREFIX) or len(token) > 200:
            return None
        now = self._clock.now()
        session = self._store.get(lookup_key(token))
        if session is None or session.expires_at <= now or not self._opener_holds(session, now):
            return None
        return session

    def _opener_holds(self, session: Session, now: datetime) -> bool:
        """A session lives no longer than what opened it: the device must still be active
        (not lost, returned, revoked, removed, a cancelled share or an ended temporary
        period); a password-only trading session needs the user still opted out."""
        if session.device_id is not None:
            device = self._devices.get(session.username, session.device_id)
            return device is not None and device.status == DeviceStatus.ACTIVE and \
                not (device.valid_until and now >= device.valid_until)
        if session.scope == Scope.TRADING:
            user = self._users.get_user(session.username)
            return user is not None and user.sls_mode == SlsMode.OPTED_OUT
        return True

    def revoke(self, session_key: str, also: Completing | None = None) -> None:
        """Ends the session, with ``also`` (the logout's audit event) in the same write."""
        self._store.delete(session_key, also)
