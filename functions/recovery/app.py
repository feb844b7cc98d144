"""IB Key recovery after a reinstall, and transfer to a new phone."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from securelogin.api import views
from securelogin.api.http import lambda_entry, make_resolver
from securelogin.api.schemas import CompleteRecoveryBody, FlowId, RecoveryBody
from securelogin.clock import iso
from securelogin.runtime import services
from securelogin.services.activation import AppEnrolment

recovery = Router()


@recovery.post("/v1/recovery")
def start(body: RecoveryBody):
    started = services().recovery.start(body.username, body.password, body.same_phone, body.app_instance_id)
    answer = {"recovery_id": started.recovery_id, "method": started.method, "expires_at": iso(started.expires_at)}
    if started.sent_to:
        answer["sent_to"] = started.sent_to
    if started.device_id:
        answer.update(device_id=started.device_id, challenge=views.jsonable(started.challenge))
    return answer, 202


@recovery.post("/v1/recovery/<recovery_id>/complete")
def complete(recovery_id: Annotated[FlowId, Path()], body: CompleteRecoveryBody) -> dict:
    app = AppEnrolment(pin=body.pin, public_key=body.public_key, platform=body.platform,
                       app_instance_id=body.app_instance_id, push_token=body.push_token)
    done = services().recovery.complete(recovery_id, app, body.activation_code, body.response)
    return {"device_id": done.device_id, "app_instance_id": done.app_instance_id, "ocra_suite": done.ocra_suite,
            "ocra_secret_hex": done.ocra_secret_hex}


app = make_resolver(recovery)
lambda_handler = lambda_entry(app)
