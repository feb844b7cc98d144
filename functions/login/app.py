"""Login (M2FS): password step, device challenge, answer, status; logout; and step-up, which
makes a session recent and strong again with a device, as a login does."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from securelogin.api import views
from securelogin.api.http import caller, lambda_entry, make_resolver, origin
from securelogin.api.openapi import ANSWER_ERRORS, CHALLENGE_ERRORS, Area, Auth, codes, operation
from securelogin.api.responses import (
    ChallengeIssued,
    LoginStarted,
    LoginStatus,
    SessionGranted,
    SteppedUp,
    StepUpStarted,
    StepUpState,
)
from securelogin.api.schemas import ChallengeBody, FlowId, LoginBody, VerifyBody
from securelogin.clock import iso, system_clock
from securelogin.runtime import services
from securelogin.services.login import ClientInfo

login = Router()

# A login id that is unknown, used up or expired (or another flow's id).
LOGIN_GONE = {410: "login_expired"}
# A step-up id that is unknown, not this session's, used up or expired.
STEP_UP_GONE = {410: "step_up_expired"}


@login.post("/v1/login", **operation(
    "startLogin", "Check the password and list the devices to choose from", area=Area.LOGIN,
    errors={401: "invalid_credentials", 429: "too_many_attempts"},
    description="An opted-out user also gets a `trading` session at once, and may step up to `full` with a "
                "device."))
def start_login(body: LoginBody) -> LoginStarted:
    where = origin(login)
    started = services().login.start(body.username, body.password,
                                     ClientInfo(body.client.platform, body.client.version, where.ip, where.browser))
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
    return views.session_granted(services().login.verify(login_id, body.answer))


@login.get("/v1/login/<login_id>", **operation(
    "getLoginStatus", "Poll a login waiting for a push approval", area=Area.LOGIN, errors=LOGIN_GONE))
def status(login_id: Annotated[FlowId, Path()]) -> LoginStatus:
    state, granted = services().login.status(login_id)
    return views.login_status(state, granted)


@login.post("/v1/logout", **operation("logout", "End the session", area=Area.LOGIN, auth=Auth.SESSION, status=204))
def logout() -> None:
    who = caller(login)
    services().sessions.revoke(who.session_key, services().audit.recording(who.username, "logout"))
    return Response(status_code=204)


@login.post("/v1/step-up", **operation(
    "startStepUp", "Start proving possession again before a change to the account's protection",
    area=Area.LOGIN, auth=Auth.SESSION, status=201, errors={404: "device_not_found"},
    description="Lists the devices strong enough. Challenge one, answer it (or approve its push), and the same "
                "session token may change the account's protection for 10 minutes."))
def start_step_up() -> StepUpStarted:
    started = services().step_up.start(caller(login).proof, origin(login))
    return views.step_up_started(started, system_clock.now())


@login.post("/v1/step-up/<step_up_id>/challenge", **operation(
    "requestStepUpChallenge", "Challenge a device for the step-up", area=Area.LOGIN, auth=Auth.SESSION,
    errors=codes(STEP_UP_GONE, CHALLENGE_ERRORS)))
def step_up_challenge(step_up_id: Annotated[FlowId, Path()], body: ChallengeBody) -> ChallengeIssued:
    return views.challenge_issued(services().step_up.challenge(caller(login).proof, step_up_id, body.device_id,
                                                               body.method_asked))


@login.post("/v1/step-up/<step_up_id>/verify", **operation(
    "verifyStepUp", "Answer the step-up's challenge", area=Area.LOGIN, auth=Auth.SESSION,
    errors=codes(STEP_UP_GONE, ANSWER_ERRORS)))
def step_up_verify(step_up_id: Annotated[FlowId, Path()], body: VerifyBody) -> SteppedUp:
    until = services().step_up.verify(caller(login).proof, step_up_id, body.answer)
    return SteppedUp(stepped_up_until=iso(until))


@login.get("/v1/step-up/<step_up_id>", **operation(
    "getStepUpStatus", "Poll a step-up waiting for a push approval", area=Area.LOGIN, auth=Auth.SESSION,
    errors=STEP_UP_GONE))
def step_up_status(step_up_id: Annotated[FlowId, Path()]) -> StepUpState:
    status, until = services().step_up.status(caller(login).proof, step_up_id)
    return views.step_up_state(status, until)


app = make_resolver(login)
lambda_handler = lambda_entry(app)
