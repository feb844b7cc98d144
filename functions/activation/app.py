"""IB Key activation: by SMS token, or by QR code / session ID from a portal session."""
from __future__ import annotations

from typing import Annotated

import segno
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from securelogin.api.http import bearer_session, full_caller, lambda_entry, make_resolver
from securelogin.api.schemas import (
    CompleteQrActivationBody,
    CompleteSmsActivationBody,
    EnrolBody,
    FlowId,
    SmsActivationBody,
)
from securelogin.clock import iso
from securelogin.domain.models import Scope
from securelogin.runtime import services
from securelogin.services.activation import AppEnrolment, Enrolled

activation = Router()
QR_URI = "ibkr-ibkey://activate?session_id={session_id}"


def enrolment(body: EnrolBody) -> AppEnrolment:
    return AppEnrolment(pin=body.pin, public_key=body.public_key, platform=body.platform,
                        app_instance_id=body.app_instance_id, push_token=body.push_token)


def enrolled(done: Enrolled) -> dict:
    return {"device_id": done.device_id, "app_instance_id": done.app_instance_id, "ocra_suite": done.ocra_suite,
            "ocra_secret_hex": done.ocra_secret_hex}


@activation.post("/v1/activation/sms")
def start_by_sms(body: SmsActivationBody):
    # No authorizer on this route: a session is optional, and only a full one counts.
    session = bearer_session(activation)
    full_user = session.username if session is not None and session.scope == Scope.FULL else None
    started = services().activation.start_by_sms(body.username, body.password, body.phone, full_user)
    return {"activation_id": started.activation_id, "sent_to": started.sent_to,
            "expires_at": iso(started.expires_at)}, 202


@activation.post("/v1/activation/<activation_id>/complete")
def complete_by_sms(activation_id: Annotated[FlowId, Path()], body: CompleteSmsActivationBody):
    return enrolled(services().activation.complete_by_sms(activation_id, body.activation_code, enrolment(body))), 201


@activation.post("/v1/activation/qr")
def start_by_qr():
    session = services().activation.start_by_qr(full_caller(activation).username)
    payload = QR_URI.format(session_id=session.session_id)
    return {"session_id": session.session_id, "qr_payload": payload,
            "qr_svg": segno.make(payload, error="m").svg_inline(scale=4),
            "expires_at": iso(session.expires_at)}, 201


@activation.post("/v1/activation/qr/complete")
def complete_by_qr(body: CompleteQrActivationBody):
    return enrolled(services().activation.complete_by_qr(body.session_id, enrolment(body))), 201


app = make_resolver(activation)
lambda_handler = lambda_entry(app)
