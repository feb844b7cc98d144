"""Portal (session): the user's own profile, devices, limits and Secure Login setting."""
from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from securelogin.api import views
from securelogin.api.http import caller, lambda_entry, make_resolver
from securelogin.api.schemas import SettingsBody
from securelogin.clock import system_clock
from securelogin.domain.models import Scope, SlsMode
from securelogin.runtime import services

portal = Router()


ANY_SESSION = (Scope.FULL, Scope.PORTAL_ONLY, Scope.TRADING)


@portal.get("/v1/me")
def me() -> dict:
    who = caller(portal)
    who.require(*ANY_SESSION)
    user, devices = services().users.profile(who.username)
    now = system_clock.now()
    return {**views.user(user), "devices": [views.device(d, now) for d in devices],
            "withdrawal_limits": services().withdrawals.limits(user, devices)}


@portal.get("/v1/settings/secure-login")
def secure_login_setting() -> dict:
    who = caller(portal)
    who.require(*ANY_SESSION)
    setting = services().settings.view(who.username)
    return {"mode": setting.mode.value, "can_change": setting.can_change,
            "primary_username": setting.primary_username, "restrictions": setting.restrictions}


@portal.put("/v1/settings/secure-login")
def change_secure_login(body: SettingsBody) -> dict:
    who = caller(portal)
    who.require(Scope.FULL)
    setting = services().settings.change(who.username, SlsMode(body.mode), body.accept_risk)
    return {"mode": setting.mode.value, "restrictions": setting.restrictions}


app = make_resolver(portal)
lambda_handler = lambda_entry(app)
