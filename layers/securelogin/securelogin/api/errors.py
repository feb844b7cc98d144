"""The one place where a domain error becomes an HTTP answer."""
from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response

from securelogin import errors

STATUS: dict[type[errors.DomainError], int] = {
    errors.InvalidInput: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Gone: 410,
    errors.Locked: 423,
    errors.Throttled: 429,
    errors.Unavailable: 503,
}


def error_body(code: str, message: str, **extra: object) -> str:
    return json.dumps({"error": {"code": code, "message": message, **extra}})


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   **extra: object) -> Response:
    return Response(status_code=status, content_type="application/json", body=error_body(code, message, **extra),
                    headers=headers or {})


def domain_error_response(error: errors.DomainError) -> Response:
    status = next((s for kind, s in STATUS.items() if isinstance(error, kind)), 500)
    headers = {}
    retry_after = error.extra.get("retry_after_seconds")
    if retry_after is not None and status in (423, 429, 503):
        headers["Retry-After"] = str(retry_after)
    extra = dict(error.extra)
    if isinstance(error, errors.StepUpRequired):
        from securelogin.api.views import device_fields
        from securelogin.clock import system_clock

        now = system_clock.now()
        extra["devices"] = [device_fields(d, now) for d in error.devices]
    return error_response(status, error.code, error.message, headers, **extra)
