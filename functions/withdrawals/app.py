"""Withdrawals, confirmed by a device whose limits cover them."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from securelogin.api import views
from securelogin.api.http import full_caller, lambda_entry, make_resolver
from securelogin.api.openapi import ANSWER_ERRORS, CHALLENGE_ERRORS, Area, Auth, codes, operation
from securelogin.api.responses import ChallengeIssued, WithdrawalAuthorized, WithdrawalStarted, WithdrawalStatus
from securelogin.api.schemas import ChallengeBody, FlowId, VerifyBody, WithdrawalBody
from securelogin.runtime import services

withdrawals = Router()

# A withdrawal id that is unknown, not the caller's, used up or expired.
WITHDRAWAL_GONE = {410: "withdrawal_expired"}


def withdrawal_route(operation_id: str, summary: str, **more):
    return operation(operation_id, summary, area=Area.WITHDRAWALS, auth=Auth.FULL_SESSION, **more)


@withdrawals.post("/v1/withdrawals", **withdrawal_route(
    "startWithdrawal", "Start a withdrawal and list the devices whose limits cover it", status=201,
    errors={403: "limit_exceeded"}))
def create(body: WithdrawalBody) -> WithdrawalStarted:
    started = services().withdrawals.create(full_caller(withdrawals).username, body.amount_usd, body.destination)
    return views.withdrawal_started(started)


@withdrawals.post("/v1/withdrawals/<withdrawal_id>/challenge", **withdrawal_route(
    "requestWithdrawalChallenge", "Challenge the device that confirms the withdrawal",
    errors=codes(WITHDRAWAL_GONE, CHALLENGE_ERRORS, {403: "device_limit_too_low"})))
def challenge(withdrawal_id: Annotated[FlowId, Path()], body: ChallengeBody) -> ChallengeIssued:
    username = full_caller(withdrawals).username
    issued = services().withdrawals.challenge(username, withdrawal_id, body.device_id, body.method_asked)
    return views.challenge_issued(issued)


@withdrawals.post("/v1/withdrawals/<withdrawal_id>/verify", **withdrawal_route(
    "verifyWithdrawal", "Answer the device's challenge and authorize the withdrawal",
    errors=codes(WITHDRAWAL_GONE, ANSWER_ERRORS, {403: "limit_exceeded"})))
def verify(withdrawal_id: Annotated[FlowId, Path()], body: VerifyBody) -> WithdrawalAuthorized:
    left = services().withdrawals.verify(full_caller(withdrawals).username, withdrawal_id, body.answer)
    return views.withdrawal_authorized(left)


@withdrawals.get("/v1/withdrawals/<withdrawal_id>", **withdrawal_route(
    "getWithdrawalStatus", "Poll a withdrawal waiting for a push approval", errors={404: "withdrawal_not_found"}))
def status(withdrawal_id: Annotated[FlowId, Path()]) -> WithdrawalStatus:
    return WithdrawalStatus(status=services().withdrawals.status(full_caller(withdrawals).username, withdrawal_id))


app = make_resolver(withdrawals)
lambda_handler = lambda_entry(app)
