"""Login (M2FS): password step, device challenge, answer, status; and logout."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from securelogin.api import views
from securelogin.api.http import caller, lambda_entry, make_resolver
from securelogin.api.schemas import ChallengeBody, FlowId, LoginBody, VerifyBody
from securelogin.clock import iso, system_clock
from securelogin.runtime import services
from securelogin.services.login import ClientInfo

login = Router()


@login.post("/v1/login")
def start_login(body: LoginBody) -> dict:
    started = services().login.start(body.username, body.password,
                                     ClientInfo(body.client.platform, body.client.version))
    now = system_clock.now()
    answer = {"login_id": started.login_id, "expires_at": iso(started.expires_at),
              "devices": [views.device(d, now) for d in started.devices],
              "default_device_id": started.default_device_id}
    if started.trading_session is not None:  # opted out: the password alone opens a trading session
        session = started.trading_session.session
        answer.update(session_token=started.trading_session.token, scope=session.scope.value,
                      expires_at=iso(session.expires_at), restrictions=started.restrictions)
    return answer


@login.post("/v1/login/<login_id>/challenge")
def challenge(login_id: Annotated[FlowId, Path()], body: ChallengeBody) -> dict:
    issued = services().login.challenge(login_id, body.device_id, body.method)
    return {"device_id": issued.device.device_id, "type": issued.device.type.value, "method": issued.method,
            "challenge": views.jsonable(issued.public)}


@login.post("/v1/login/<login_id>/verify")
def verify(login_id: Annotated[FlowId, Path()], body: VerifyBody) -> dict:
    granted = services().login.verify(login_id, body.response)
    return {"session_token": granted.token, "scope": granted.session.scope.value,
            "expires_at": iso(granted.session.expires_at)}


@login.get("/v1/login/<login_id>")
def status(login_id: Annotated[FlowId, Path()]) -> dict:
    state, granted = services().login.status(login_id)
    answer: dict = {"status": state.value}
    if granted is not None:  # the first read after a push approval
        answer.update(session_token=granted.token, scope=granted.session.scope.value,
                      expires_at=iso(granted.session.expires_at))
    return answer


@login.post("/v1/logout")
def logout():
    who = caller(login)
    services().sessions.revoke(who.session_key)
    services().audit.record(who.username, "logout")
    return Response(status_code=204)


app = make_resolver(login)
lambda_handler = lambda_entry(app)
