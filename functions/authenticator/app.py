"""The IB Key app's side: answers to push notifications, signed with the app's key."""
from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from securelogin.api.http import lambda_entry, make_resolver
from securelogin.api.schemas import PushResponseBody
from securelogin.runtime import services

authenticator = Router()


@authenticator.post("/v1/authenticator/push-responses")
def push_response(body: PushResponseBody) -> dict:
    status = services().push.answer(body.device_id, body.transaction_id, body.nonce, body.decision, body.signature)
    return {"status": status}


app = make_resolver(authenticator)
lambda_handler = lambda_entry(app)
