"""Portal (session): the user's own profile, devices, limits and Secure Login setting."""
from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from securelogin.api import views
from securelogin.api.http import caller, full_caller, lambda_entry, make_resolver, strong_caller
from securelogin.api.openapi import Area, Auth, operation
from securelogin.api.responses import Profile, SecureLoginChanged, SecureLoginSetting
from securelogin.api.schemas import SettingsBody
from securelogin.clock import system_clock
from securelogin.domain.models import Scope, SlsMode
from securelogin.runtime import services

portal = Router()


ANY_SESSION = (Scope.FULL, Scope.PORTAL_ONLY, Scope.TRADING)


@portal.get("/v1/me", **operation("getProfile", "Your profile, devices and withdrawal limits", area=Area.PORTAL,
                                   auth=Auth.SESSION))
def me() -> Profile:
    who = caller(portal)
    who.require(*ANY_SESSION)
    user, devices = services().users.profile(who.username)
    return views.profile(user, devices, services().withdrawals.limits(user, devices), system_clock.now())


@portal.get("/v1/settings/secure-login", **operation(
    "getSecureLoginSetting", "Whether your logins need a device, and whether you may change that",
    area=Area.PORTAL, auth=Auth.SESSION))
def secure_login_setting() -> SecureLoginSetting:
    who = caller(portal)
    who.require(*ANY_SESSION)
    return views.secure_login_setting(services().sls_mode.view(who.username))


@portal.put("/v1/settings/secure-login", **operation(
    "changeSecureLoginSetting", "Opt out of the Secure Login System, or back in", area=Area.PORTAL,
    auth=Auth.FULL_SESSION,
    errors={400: "accept_risk_required", 403: "not_primary_user, opt_out_not_allowed, step_up_required"},
    description="Opting out needs `accept_risk: true` and a stepped-up session; an opted-out login gets a `trading` "
                "session only."))
def change_secure_login(body: SettingsBody) -> SecureLoginChanged:
    # Opting out lowers the account's protection; opting back in raises it.
    who = strong_caller(portal) if body.mode == SlsMode.OPTED_OUT else full_caller(portal)
    setting = services().sls_mode.change(who.username, SlsMode(body.mode), body.accept_risk)
    return views.secure_login_changed(setting)


app = make_resolver(portal)
lambda_handler = lambda_entry(app)
