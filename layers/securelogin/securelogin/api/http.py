"""The resolver every function uses, with validation and error mapping wired in."""
from __future__ import annotations

import base64
import binascii
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
    OpenAPIResponseValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ResponseValidationError,
)
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from securelogin.adapters.aws import is_outage
from securelogin.api.errors import domain_error_response, error_response
from securelogin.api.openapi import SECURITY_SCHEMES, TITLE, VERSION
from securelogin.api.session_context import session_of
from securelogin.domain.models import DeviceType, Scope, Session
from securelogin.domain.proof import Origin, Proof
from securelogin.domain.statements import browser_of
from securelogin.errors import DomainError, Forbidden, Unauthenticated, aws_unavailable
from securelogin.logs import logger


def _describe(errors: list[dict[str, Any]]) -> str:
    """What was wrong with a request, without echoing any of its values (they may be secrets)."""
    parts = []
    for error in errors[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


MAX_BODY_BYTES = 64 * 1024  # the largest body this API takes is a few KiB
MAX_JSON_DEPTH = 32  # the deepest body this API takes nests 3 levels
MAX_NUMBER_CHARS = 64  # longer than any amount, count or version; far below int parsing's limit


class UnsupportedMediaType(Exception):
    """A request body that is not JSON."""


def is_json(content_type: str | None) -> bool:
    """``application/json``, in any case, with or without parameters such as a charset."""
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/json"


def _unreadable(why: str) -> RequestValidationError:
    return RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": why, "input": {}}])


def _refuse_constant(_: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def _parse_int(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS:
        raise ValueError("number too long")
    return int(literal)


def _parse_float(literal: str) -> float:
    number = float(literal) if len(literal) <= MAX_NUMBER_CHARS else math.inf
    if not math.isfinite(number):
        raise ValueError("number too long")
    return number


def _check_depth(document: Any) -> None:
    pending: list[tuple[Any, int]] = [(document, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise _unreadable(f"nested deeper than {MAX_JSON_DEPTH} levels")
            pending.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))


def read_json_body(event: BaseProxyEvent) -> Any:
    """The request body as JSON, or None when there is none. Anything unreadable (not
    UTF-8, not JSON, too large, too deep, numbers too long to parse) is a
    RequestValidationError whose message carries none of the body."""
    raw = event.body
    if not raw:
        return None
    if len(raw) > MAX_BODY_BYTES * 4 // 3 + 4:
        raise _unreadable(f"larger than {MAX_BODY_BYTES} bytes")
    try:
        data = base64.b64decode(raw, validate=True) if event.is_base64_encoded else raw.encode()
        text = data.decode()
    except (binascii.Error, UnicodeError):
        raise _unreadable("not UTF-8") from None
    if len(data) > MAX_BODY_BYTES:
        raise _unreadable(f"larger than {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant)
    except RecursionError:  # the parser's own guard, far deeper than ours
        raise _unreadable(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as error:  # JSONDecodeError, or a number refused above
        reason = "a number too long or not finite" if not isinstance(error, json.JSONDecodeError) else "not JSON"
        raise _unreadable(reason) from None
    _check_depth(document)
    return document


class _RequestValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, with the body read only as JSON, strictly, on every
    route: any other content type is refused (415) before anything else, and a body that is
    not JSON (400) even where the route takes none."""

    def handler(self, app: Any, next_middleware: Any) -> Response:
        event = app.current_event
        if event.body:
            if not is_json(event.headers.get("content-type")):
                raise UnsupportedMediaType
            if not app.context["_route"].dependant.body_params:
                read_json_body(event)  # a route that takes no body still refuses one that is not JSON
        return super().handler(app, next_middleware)

    def _get_body(self, app: Any) -> Any:
        return read_json_body(app.current_event)


class _ResponseValidation(OpenAPIResponseValidationMiddleware):
    """Powertools' check of every answer against its route's declared type, sending only
    the fields the handler set: a field that does not apply is absent, not null. An answer
    that does not match is our bug (ResponseValidationError, a 500), not the client's."""

    def __init__(self) -> None:
        super().__init__(has_response_validation_error=True)

    def _serialize_response_with_validation(self, **kwargs: Any) -> Any:
        return super()._serialize_response_with_validation(**{**kwargs, "exclude_unset": True})


def portal_cors() -> CORSConfig | None:
    """Browsers may call the API from the Client Portal's origin (``PORTAL_ORIGIN``), if set."""
    origin = os.environ.get("PORTAL_ORIGIN", "").strip()
    if not origin:
        return None
    return CORSConfig(allow_origin=origin, allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
                      expose_headers=["Idempotent-Replayed", "Retry-After"], max_age=600)


def make_resolver(*routers: Router, unmatched: Literal["method_not_allowed", "not_found"] = "method_not_allowed",
                  ) -> APIGatewayRestResolver:
    """A resolver over ``routers``. API Gateway sends a function only the paths it owns,
    so a request no route takes is a wrong method (405); the catch-all function uses
    ``unmatched="not_found"`` (404)."""
    app = APIGatewayRestResolver(enable_validation=True, cors=portal_cors())
    app.configure_openapi(title=TITLE, version=VERSION, security_schemes=SECURITY_SCHEMES)
    # Powertools runs these middlewares first and last on every matched route; ours read bodies
    # strictly and send only the fields an answer sets.
    expected = OpenAPIRequestValidationMiddleware | OpenAPIResponseValidationMiddleware
    for name in ("_request_validation_middleware", "_response_validation_middleware"):
        if not isinstance(getattr(app, name, None), expected):
            raise RuntimeError(f"this Powertools version has no {name}; see _RequestValidation, _ResponseValidation")
    app._request_validation_middleware = _RequestValidation()
    app._response_validation_middleware = _ResponseValidation()
    for router in routers:
        app.include_router(router)

    @app.exception_handler(DomainError)
    def _domain(error: DomainError) -> Response:
        return domain_error_response(error)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        return error_response(400, "invalid_request", _describe(list(error.errors())))

    @app.exception_handler([UnsupportedMediaType, RequestUnsupportedContentType])
    def _not_json(_: Exception) -> Response:
        return error_response(415, "unsupported_media_type", "Send the body as application/json.")

    @app.exception_handler(UnicodeDecodeError)
    def _undecodable(_: UnicodeDecodeError) -> Response:
        return error_response(400, "invalid_request", "body: not UTF-8 JSON")

    @app.not_found
    def _unmatched(_: Exception) -> Response:
        if unmatched == "not_found":
            return error_response(404, "not_found", "There is nothing at this path.")
        return error_response(405, "method_not_allowed", "This path does not take that method.")

    @app.exception_handler(ResponseValidationError)
    def _answer_does_not_match(error: ResponseValidationError) -> Response:
        fields = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in list(error.errors())[:5])
        logger.error("answer does not match its declared type", extra={"fields": fields})
        return error_response(500, "internal_error", "Something went wrong on our side.")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        if is_outage(error):  # nothing was half-written (see docs/security.md): the client sends it again
            logger.warning("AWS unavailable", extra={"error_type": type(error).__name__})
            return domain_error_response(aws_unavailable())
        logger.exception("unhandled error", extra={"error_type": type(error).__name__})
        return error_response(500, "internal_error", "Something went wrong on our side.")

    return app


def _seconds_left(context: Any) -> float:
    """The invocation's time left (Lambda's context); unlimited where nothing says."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining() / 1000 if callable(remaining) else float("inf")


def lambda_entry(app: APIGatewayRestResolver) -> Callable[[dict, Any], dict]:
    """The Lambda handler of ``app``: logs with the request's id, traces to X-Ray without
    the response or errors (they carry session tokens and secrets), and publishes the
    invocation's metrics (with ColdStart) at its end, counting a 503 answered. A request
    that changes state and carries an ``Idempotency-Key`` gets the answer kept for it, if
    any (api/idempotency.py)."""
    from securelogin.api.idempotency import CHANGING, answer_once
    from securelogin.observability import Metric, count, metrics, metrics_enabled, tracer
    from securelogin.services.outbox import sent_by_the_request

    # Only a function with routes that change state keeps answers (the catch-all's 404s and the
    # document's GET need no table, and have no grant on it).
    routes = [*getattr(app, "_static_routes", []), *getattr(app, "_dynamic_routes", [])]
    keeps_answers = any(route.method in CHANGING for route in routes)

    @logger.inject_lambda_context(correlation_id_path="requestContext.requestId", log_event=False)
    @tracer().capture_lambda_handler(capture_response=False, capture_error=False)
    @metrics.log_metrics(capture_cold_start_metric=metrics_enabled())
    def handler(event: dict, context: Any) -> dict:
        with sent_by_the_request() as committed:
            response = answer_once(app, event, context, app.resolve) if keeps_answers else app.resolve(event, context)
        if committed:  # notices of the changes it made: sent now, the outbox's consumer as the safety net
            from securelogin.runtime import services
            services().outbox.send_committed(committed, lambda: _seconds_left(context))
        if response.get("statusCode") == 503:
            count(Metric.SERVICE_UNAVAILABLE)
        return response

    return handler


@dataclass(frozen=True)
class Caller:
    """The person behind a session, as the authorizer vouched for them."""
    username: str
    scope: Scope
    session_key: str
    device_id: str | None = None  # the device that opened the session
    platform: str = "portal"
    # The session's last proof of possession (its opening, or a step-up), for step-up.
    proved_at: datetime | None = None
    proved_with: DeviceType | None = None
    proved_by: str | None = None

    def require(self, *accepted: Scope) -> None:
        """Refuses a session whose scope is not one of ``accepted``."""
        if self.scope not in accepted:
            names = " or ".join(s.value for s in accepted)
            raise Forbidden("insufficient_scope", f"This needs a {names} session.")

    @property
    def proof(self) -> Proof:
        return Proof(self.session_key, self.username, self.platform, self.proved_at, self.proved_with, self.proved_by)

    @classmethod
    def of(cls, session: Session) -> Caller:
        return cls(session.username, session.scope, session.key, session.device_id, session.platform,
                   session.proved_at, session.proved_with, session.proved_by)


def caller(router: Router) -> Caller:
    session = session_of(router.current_event.raw_event.get("requestContext", {}).get("authorizer") or {})
    if session is None:
        raise Unauthenticated("unauthorized", "Log in first.")
    return Caller.of(session)


def origin(router: Router) -> Origin:
    """Where the request came from, as the gateway reports it: the address and the browser."""
    identity = router.current_event.raw_event.get("requestContext", {}).get("identity") or {}
    headers = {k.lower(): v for k, v in (router.current_event.headers or {}).items()}
    return Origin(ip=identity.get("sourceIp") or "an unknown address",
                  browser=browser_of(identity.get("userAgent") or headers.get("user-agent")))


def full_caller(router: Router) -> Caller:
    """The caller, whose session must be a full one (not portal-only, not trading)."""
    who = caller(router)
    who.require(Scope.FULL)
    return who


def strong_caller(router: Router) -> Caller:
    """The caller of a route that changes how the account is protected: a full session that
    proved possession lately with a strong enough device (403 step_up_required otherwise)."""
    from securelogin.runtime import services

    who = full_caller(router)
    services().step_up.require(who.proof)
    return who


def admin_actor(router: Router) -> str:
    """Who in the back office made an IAM-signed request (its IAM identity)."""
    identity = router.current_event.raw_event.get("requestContext", {}).get("identity") or {}
    return identity.get("userArn") or identity.get("caller") or identity.get("accessKey") or "unknown"


def bearer_session(router: Router) -> Session | None:
    """The live session of an ``Authorization: Bearer`` header, on a route without the
    authorizer where a session is optional (it can only add to what the route allows)."""
    from securelogin.runtime import session_service

    headers = router.current_event.headers or {}
    header = next((v for k, v in headers.items() if k.lower() == "authorization"), "") or ""
    scheme, _, token = header.partition(" ")
    return session_service().authorize(token.strip()) if scheme.lower() == "bearer" else None
