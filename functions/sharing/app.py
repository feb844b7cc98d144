"""Sharing a physical device between usernames of the same person (the requester's session)."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from securelogin.api import views
from securelogin.api.http import full_caller, lambda_entry, make_resolver
from securelogin.api.schemas import FlowId, ResponseBody, ShareBody
from securelogin.clock import system_clock
from securelogin.runtime import services

sharing = Router()


@sharing.post("/v1/sharing")
def request_share(body: ShareBody):
    started = services().sharing.start(full_caller(sharing).username, body.owner_username, body.owner_password)
    return {"share_id": started.share.share_id, "device": views.device(started.device, system_clock.now()),
            "challenge": views.jsonable(started.challenge)}, 201


@sharing.post("/v1/sharing/<share_id>/complete")
def complete(share_id: Annotated[FlowId, Path()], body: ResponseBody) -> dict:
    done = services().sharing.complete(full_caller(sharing).username, share_id, body.response)
    return {"share_id": done.share_id, "status": done.status}


@sharing.delete("/v1/sharing/<share_id>")
def cancel(share_id: Annotated[FlowId, Path()]) -> dict:
    return {"share_id": share_id, "status": services().sharing.cancel(full_caller(sharing).username, share_id).status}


app = make_resolver(sharing)
lambda_handler = lambda_entry(app)
