"""Portal (session): the user's own profile and devices."""
from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from securelogin.api import views
from securelogin.api.http import caller, lambda_entry, make_resolver
from securelogin.clock import system_clock
from securelogin.domain.models import Scope
from securelogin.runtime import services

portal = Router()


@portal.get("/v1/me")
def me() -> dict:
    who = caller(portal)
    who.require(Scope.FULL, Scope.PORTAL_ONLY, Scope.TRADING)
    found = services()
    user, devices = found.users.profile(who.username)
    now = system_clock.now()
    usable = [d for d in devices if d.usable_at(now)]
    return {**views.user(user), "devices": [views.device(d, now) for d in devices],
            "withdrawal_limits": views.withdrawal_limits(usable, found.policy)}


app = make_resolver(portal)
lambda_handler = lambda_entry(app)
