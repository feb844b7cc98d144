"""The IB Key app's side: answers to push notifications, signed with the app's key."""
from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from securelogin.api.http import lambda_entry, make_resolver
from securelogin.api.openapi import Area, operation
from securelogin.api.responses import PushAnswered
from securelogin.api.schemas import PushResponseBody
from securelogin.domain.models import PushDecision
from securelogin.runtime import services

authenticator = Router()


@authenticator.post("/v1/authenticator/push-responses", **operation(
    "answerPush", "Approve or deny a push notification, signed with the app's key", area=Area.APP,
    errors={401: "invalid_signature", 404: "device_not_found", 410: "expired", 423: "device_locked"},
    description="`signature` is the app key's ECDSA P-256 signature over the notification's transaction, nonce "
                "and the decision. `expired` also answers a notification already answered."))
def push_response(body: PushResponseBody) -> PushAnswered:
    status = services().push.answer(body.device_id, body.transaction_id, body.nonce, PushDecision(body.decision),
                                    body.signature)
    return PushAnswered(status=status.value)


app = make_resolver(authenticator)
lambda_handler = lambda_entry(app)
