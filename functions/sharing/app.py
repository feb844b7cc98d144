"""Sharing a physical device between usernames of the same person (the requester's session)."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from securelogin.api import views
from securelogin.api.http import full_caller, lambda_entry, make_resolver, strong_caller
from securelogin.api.openapi import ANSWER_ERRORS, CHALLENGE_ERRORS, STEP_UP_ERRORS, Area, Auth, codes, operation
from securelogin.api.responses import ShareStarted, ShareState
from securelogin.api.schemas import FlowId, ResponseBody, ShareBody
from securelogin.clock import system_clock
from securelogin.runtime import services

sharing = Router()

# A share id that is unknown, not the caller's, used up or expired.
SHARE_GONE = {404: "share_not_found", 410: "share_expired"}


def share_route(operation_id: str, summary: str, **more):
    return operation(operation_id, summary, area=Area.SHARING, auth=Auth.FULL_SESSION, **more)


@sharing.post("/v1/sharing", **share_route(
    "startShare", "Ask to use another username's physical device", status=201,
    errors=codes(CHALLENGE_ERRORS, STEP_UP_ERRORS, {401: "invalid_credentials", 429: "too_many_attempts",
                                    409: "different_identification, temporary_device_assigned, less_secure_device, "
                                         "ib_key_use_add_user, no_shareable_device"}),
    description="The owner's username and password; the answer challenges the owner's device."))
def request_share(body: ShareBody) -> ShareStarted:
    started = services().sharing.start(strong_caller(sharing).username, body.owner_username, body.owner_password)
    return views.share_started(started, system_clock.now())


@sharing.post("/v1/sharing/<share_id>/complete", **share_route(
    "completeShare", "Answer the owner's device's challenge", errors=codes(SHARE_GONE, ANSWER_ERRORS),
    description="`approved` when both usernames are of one entity; otherwise `pending_compliance`."))
def complete(share_id: Annotated[FlowId, Path()], body: ResponseBody) -> ShareState:
    return views.share_state(services().sharing.complete(full_caller(sharing).username, share_id, body.response))


@sharing.delete("/v1/sharing/<share_id>", **share_route(
    "cancelShare", "Stop using a shared device, or withdraw a request",
    errors=codes(SHARE_GONE, {409: "not_active, share_changed"})))
def cancel(share_id: Annotated[FlowId, Path()]) -> ShareState:
    return views.share_state(services().sharing.cancel(full_caller(sharing).username, share_id))


app = make_resolver(sharing)
lambda_handler = lambda_entry(app)
