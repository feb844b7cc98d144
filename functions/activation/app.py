"""IB Key activation: by SMS token, or by QR code / session ID from a portal session."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from securelogin.api import views
from securelogin.api.http import Caller, bearer_session, caller, lambda_entry, make_resolver, strong_caller
from securelogin.api.openapi import ENROLMENT_ERRORS, STEP_UP_ERRORS, Area, Auth, codes, operation
from securelogin.api.responses import ActivationSent, AppEnrolled, QrAppEnrolled, QrSession, QrSessionStatus
from securelogin.api.schemas import (
    CompleteQrActivationBody,
    CompleteSmsActivationBody,
    EnrolBody,
    FlowId,
    QrSessionId,
    SmsActivationBody,
)
from securelogin.domain.models import Scope
from securelogin.runtime import services
from securelogin.services.enrolment import AppEnrolment

activation = Router()


def enrolment(body: EnrolBody) -> AppEnrolment:
    return AppEnrolment(pin=body.pin, public_key=body.public_key, platform=body.platform,
                        app_instance_id=body.app_instance_id, push_token=body.push_token)


@activation.post("/v1/activation/sms", **operation(
    "startActivationBySms", "Send an activation code to a phone", area=Area.ACTIVATION, status=202,
    errors={401: "invalid_credentials", 403: "phone_not_on_file, step_up_required",
            429: "too_many_attempts, resend_too_soon, too_many_challenges", 503: "delivery_failed, busy"},
    description="A phone not on file is accepted only with `Authorization: Bearer` of the same user's `full` "
                "session, stepped up."))
def start_by_sms(body: SmsActivationBody) -> ActivationSent:
    # No authorizer on this route: a session is optional, and only a full one counts.
    session = bearer_session(activation)
    proof = Caller.of(session).proof if session is not None and session.scope == Scope.FULL else None
    started = services().activation.start_by_sms(body.username, body.password, body.phone, proof)
    return views.activation_sent(started)


@activation.post("/v1/activation/<activation_id>/complete", **operation(
    "completeActivationBySms", "Register the app with the code from the SMS", area=Area.ACTIVATION, status=201,
    errors=codes(ENROLMENT_ERRORS, {401: "invalid_activation_code", 410: "activation_expired",
                                    429: "too_many_attempts", 503: "busy"})))
def complete_by_sms(activation_id: Annotated[FlowId, Path()], body: CompleteSmsActivationBody) -> AppEnrolled:
    return views.enrolled(services().activation.complete_by_sms(activation_id, body.activation_code,
                                                                enrolment(body)))


@activation.post("/v1/activation/qr", **operation(
    "startActivationByQr", "A QR code and session ID for the app to scan", area=Area.ACTIVATION,
    auth=Auth.FULL_SESSION, status=201, errors=STEP_UP_ERRORS))
def start_by_qr() -> QrSession:
    return views.qr_session(services().activation.start_by_qr(strong_caller(activation).username))


@activation.get("/v1/activation/qr/<session_id>", **operation(
    "getActivationByQr", "Whether the app finished with a QR session", area=Area.ACTIVATION, auth=Auth.SESSION,
    errors={404: "unknown_session_id"},
    description="For the portal that showed the QR code: `used` with the `device_id` the app enrolled. A session "
                "ID never issued, or another user's, is unknown."))
def qr_status(session_id: Annotated[QrSessionId, Path()]) -> QrSessionStatus:
    return views.qr_session_status(services().activation.qr_status(caller(activation).username, session_id))


@activation.post("/v1/activation/qr/complete", **operation(
    "completeActivationByQr", "Register the app with the session ID it scanned", area=Area.ACTIVATION,
    status=201, errors=codes(ENROLMENT_ERRORS, {404: "unknown_session_id", 410: "qr_expired_or_used"}),
    description="`session_id` as typed (any case, spaces and hyphens ignored, I and L read as 1, O as 0) or "
                "scanned. One never issued as a QR session is unknown (404); one that expired or was used is "
                "gone (410)."))
def complete_by_qr(body: CompleteQrActivationBody) -> QrAppEnrolled:
    return views.qr_enrolled(services().activation.complete_by_qr(body.session_id, enrolment(body)))


app = make_resolver(activation)
lambda_handler = lambda_entry(app)
