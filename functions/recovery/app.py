"""IB Key recovery after a reinstall, and transfer to a new phone."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from securelogin.api import views
from securelogin.api.http import lambda_entry, make_resolver
from securelogin.api.openapi import ANSWER_ERRORS, ENROLMENT_ERRORS, Area, codes, operation
from securelogin.api.responses import AppEnrolled, RecoveryStarted
from securelogin.api.schemas import CompleteRecoveryBody, FlowId, RecoveryBody
from securelogin.runtime import services
from securelogin.services.enrolment import AppEnrolment

recovery = Router()


@recovery.post("/v1/recovery", **operation(
    "startRecovery", "Start restoring IB Key: by SMS, or by a challenge to an active physical device",
    area=Area.RECOVERY, status=202,
    errors={401: "invalid_credentials", 403: "contact_client_services", 429: "too_many_attempts, resend_too_soon",
            503: "delivery_failed"}))
def start(body: RecoveryBody) -> RecoveryStarted:
    started = services().recovery.start(body.username, body.password, body.same_phone, body.app_instance_id)
    return views.recovery_started(started)


@recovery.post("/v1/recovery/<recovery_id>/complete", **operation(
    "completeRecovery", "Set up IB Key again with the SMS code or the device's response", area=Area.RECOVERY,
    errors=codes(ENROLMENT_ERRORS, ANSWER_ERRORS, {400: "invalid_request", 401: "invalid_activation_code",
                                                   410: "recovery_expired"})))
def complete(recovery_id: Annotated[FlowId, Path()], body: CompleteRecoveryBody) -> AppEnrolled:
    app = AppEnrolment(pin=body.pin, public_key=body.public_key, platform=body.platform,
                       app_instance_id=body.app_instance_id, push_token=body.push_token)
    done = services().recovery.complete(recovery_id, app, body.activation_code, body.response)
    return views.enrolled(done)


app = make_resolver(recovery)
lambda_handler = lambda_entry(app)
