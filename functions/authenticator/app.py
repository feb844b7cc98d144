"""The IB Key app's side: answers to push notifications, signed with the app's key, and
whether a push is still to be answered."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from securelogin.api.http import lambda_entry, make_resolver
from securelogin.api.openapi import Area, operation
from securelogin.api.responses import PushAnswered, PushState
from securelogin.api.schemas import FlowId, PushResponseBody
from securelogin.domain.models import PushDecision
from securelogin.runtime import services

authenticator = Router()


@authenticator.post("/v1/authenticator/push-responses", **operation(
    "answerPush", "Approve or deny a push notification, signed with the app's key", area=Area.APP,
    errors={401: "invalid_signature, number_mismatch", 403: "limit_exceeded",
            404: "device_not_found", 410: "expired", 423: "device_locked", 429: "too_many_attempts",
            503: "busy"},
    description="`signature` is the app key's ECDSA P-256 signature over "
                "`{push_id}|{nonce}|{decision}|{number}|{statement}`; `number` is what the person typed from the "
                "client that asked (empty for a deny). `expired` also answers a push withdrawn or already answered."))
def push_response(body: PushResponseBody) -> PushAnswered:
    status = services().push.answer(body.device_id, body.push_id, body.nonce, PushDecision(body.decision),
                                    body.number, body.signature)
    return PushAnswered(status=status.value)


@authenticator.get("/v1/authenticator/pushes/<push_id>", **operation(
    "getPush", "Whether a push is still to be answered", area=Area.APP, errors={404: "push_not_found"},
    description="The push id is the capability. The app drops a push that is no longer `pending`."))
def push_state(push_id: Annotated[FlowId, Path()]) -> PushState:
    return PushState(status=services().push.status(push_id).value)


app = make_resolver(authenticator)
lambda_handler = lambda_entry(app)
