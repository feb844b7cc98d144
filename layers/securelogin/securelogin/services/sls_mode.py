"""The Secure Login System setting of a user: always use a device, or opt out (rules.md)."""
from __future__ import annotations

from dataclasses import dataclass

from securelogin.domain.models import SlsMode, User
from securelogin.errors import Forbidden, InvalidInput, NotFound
from securelogin.ports import UserStore, together
from securelogin.services.audit import AuditTrail
from securelogin.services.notify import Notifier

OPT_OUT_RESTRICTION = "no_pink_sheet_otcbb"
NO_OPT_OUT_JURISDICTIONS = frozenset({"HK", "IN"})


@dataclass(frozen=True)
class SecureLoginSetting:
    mode: SlsMode
    can_change: bool
    primary_username: str | None
    restrictions: list[str]


class SlsModeService:
    def __init__(self, users: UserStore, audit: AuditTrail, notifier: Notifier) -> None:
        self._users = users
        self._audit = audit
        self._notifier = notifier

    def view(self, username: str) -> SecureLoginSetting:
        user = self._user(username)
        return SecureLoginSetting(user.sls_mode, user.primary, self._primary_of(user), user.restrictions)

    def change(self, username: str, mode: SlsMode, accept_risk: bool) -> SecureLoginSetting:
        user = self._user(username)
        if not user.primary:
            raise Forbidden("not_primary_user", "Only the account's primary user can change this.",
                            primary_username=self._primary_of(user))
        restrictions = [r for r in user.restrictions if r != OPT_OUT_RESTRICTION]
        if mode == SlsMode.OPTED_OUT:
            if user.jurisdiction in NO_OPT_OUT_JURISDICTIONS:
                raise Forbidden("opt_out_not_allowed", "Your regulator requires the Secure Login System.")
            if not accept_risk:
                raise InvalidInput("accept_risk_required", "accept_risk: opting out needs your acceptance of the risk.")
            restrictions.append(OPT_OUT_RESTRICTION)
        what = "you opted out." if mode == SlsMode.OPTED_OUT else "a device is always used."
        told = together(self._audit.recording(username, "settings.mode_changed", mode=mode.value),
                        self._notifier.notice(user, f"your Secure Login setting changed: {what}"))
        self._users.set_mode(username, mode, restrictions, told)
        return SecureLoginSetting(mode, True, username, restrictions)

    def _user(self, username: str) -> User:
        user = self._users.get_user(username)
        if user is None:
            raise NotFound("user_not_found", "No such user.")
        return user

    def _primary_of(self, user: User) -> str | None:
        if user.primary:
            return user.username
        return next((u.username for u in self._users.account_users(user.account_id) if u.primary), None)
