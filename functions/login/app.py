"""Login (M2FS): password step, device challenge, answer, status; and logout."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from securelogin.api import views
from securelogin.api.http import caller, lambda_entry, make_resolver
from securelogin.api.openapi import ANSWER_ERRORS, CHALLENGE_ERRORS, Area, Auth, codes, operation
from securelogin.api.responses import ChallengeIssued, LoginStarted, LoginStatus, SessionGranted
from securelogin.api.schemas import ChallengeBody, FlowId, LoginBody, VerifyBody
from securelogin.clock import system_clock
from securelogin.runtime import services
from securelogin.services.login import ClientInfo

login = Router()

# A login id that is unknown, used up or expired (or another flow's id).
LOGIN_GONE = {410: "login_expired"}


@login.post("/v1/login", **operation(
    "startLogin", "Check the password and list the devices to choose from", area=Area.LOGIN,
    errors={401: "invalid_credentials", 429: "too_many_attempts"},
    description="An opted-out user also gets a `trading` session at once, and may step up to `full` with a "
                "device."))
def start_login(body: LoginBody) -> LoginStarted:
    started = services().login.start(body.username, body.password,
                                     ClientInfo(body.client.platform, body.client.version))
    return views.login_started(started, system_clock.now())


@login.post("/v1/login/<login_id>/challenge", **operation(
    "requestLoginChallenge", "Challenge the chosen device", area=Area.LOGIN,
    errors=codes(LOGIN_GONE, CHALLENGE_ERRORS)))
def challenge(login_id: Annotated[FlowId, Path()], body: ChallengeBody) -> ChallengeIssued:
    return views.challenge_issued(services().login.challenge(login_id, body.device_id, body.method_asked))


@login.post("/v1/login/<login_id>/verify", **operation(
    "verifyLogin", "Answer the device's challenge and get a session", area=Area.LOGIN,
    errors=codes(LOGIN_GONE, ANSWER_ERRORS)))
def verify(login_id: Annotated[FlowId, Path()], body: VerifyBody) -> SessionGranted:
    return views.session_granted(services().login.verify(login_id, body.response))


@login.get("/v1/login/<login_id>", **operation(
    "getLoginStatus", "Poll a login waiting for a push approval", area=Area.LOGIN, errors=LOGIN_GONE))
def status(login_id: Annotated[FlowId, Path()]) -> LoginStatus:
    state, granted = services().login.status(login_id)
    return views.login_status(state, granted)


@login.post("/v1/logout", **operation("logout", "End the session", area=Area.LOGIN, auth=Auth.SESSION, status=204))
def logout() -> None:
    who = caller(login)
    services().sessions.revoke(who.session_key)
    services().audit.record(who.username, "logout")
    return Response(status_code=204)


app = make_resolver(login)
lambda_handler = lambda_entry(app)
