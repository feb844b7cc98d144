"""Withdrawals, confirmed by a device whose limits cover them."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from securelogin.api import views
from securelogin.api.http import full_caller, lambda_entry, make_resolver
from securelogin.api.schemas import ChallengeBody, FlowId, VerifyBody, WithdrawalBody
from securelogin.clock import iso
from securelogin.runtime import services

withdrawals = Router()


@withdrawals.post("/v1/withdrawals")
def create(body: WithdrawalBody):
    started = services().withdrawals.create(full_caller(withdrawals).username, body.amount_usd)
    return {"withdrawal_id": started.withdrawal_id, "eligible_devices": started.eligible_device_ids,
            "expires_at": iso(started.expires_at)}, 201


@withdrawals.post("/v1/withdrawals/<withdrawal_id>/challenge")
def challenge(withdrawal_id: Annotated[FlowId, Path()], body: ChallengeBody) -> dict:
    username = full_caller(withdrawals).username
    issued = services().withdrawals.challenge(username, withdrawal_id, body.device_id, body.method)
    return {"device_id": issued.device.device_id, "type": issued.device.type.value, "method": issued.method,
            "challenge": views.jsonable(issued.public)}


@withdrawals.post("/v1/withdrawals/<withdrawal_id>/verify")
def verify(withdrawal_id: Annotated[FlowId, Path()], body: VerifyBody) -> dict:
    left = services().withdrawals.verify(full_caller(withdrawals).username, withdrawal_id, body.response)
    return {"status": "authorized", "remaining": {"today": left.today, "five_business_days": left.five_business_days}}


@withdrawals.get("/v1/withdrawals/<withdrawal_id>")
def status(withdrawal_id: Annotated[FlowId, Path()]) -> dict:
    return {"status": services().withdrawals.status(full_caller(withdrawals).username, withdrawal_id)}


app = make_resolver(withdrawals)
lambda_handler = lambda_entry(app)
