"""The OpenAPI document: what each route declares beyond its types (who may call it, its area,
its success status, the errors only it answers), and the one document assembled from every
function's routes, with the errors every route of a kind can answer."""
from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable
from enum import Enum, StrEnum
from http import HTTPStatus
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer, Tag

from securelogin.api.responses import Error

TITLE = "Secure Login System"
VERSION = "1"
DESCRIPTION = (
    "The second-factor service of an online brokerage: login with a device (M2FS), IB Key "
    "activation and recovery, devices, withdrawals, device sharing and the back office.\n\n"
    "Every 4xx and 5xx answer has the body `{\"error\": {\"code\", \"message\", ...}}`; branch on "
    "`error.code`. 429, 423 and 503 answers carry `Retry-After`. A 503 means AWS failed and nothing "
    "was written: send the same request again.\n\n"
    "Every POST, PUT and DELETE may carry `Idempotency-Key` (1-128 characters of `A-Z a-z 0-9 _ -`): the "
    "first 2xx or 4xx answer to a caller's key is kept 24 hours, and the same request sent again with the "
    "key gets it again with `Idempotent-Replayed: true`. The key with another method, path or body is 422 "
    "`idempotency_key_reused`; while the first request runs, 409 `request_in_progress` (with `Retry-After`). "
    "Send a new key for each new request, and the same key when you retry it.")

SECURITY_SCHEMES = {
    "session": HTTPBearer(description="The session_token of a completed login."),
    "sigv4": APIKey(name="Authorization", in_=APIKeyIn.header,
                    description="AWS Signature Version 4 (service execute-api) with the back office's IAM "
                                "credentials."),
}


class Auth(Enum):
    """Who may call a route (api.md, Authentication), the security scheme that says so, and
    the errors that follow from it. template.yaml gives each route the same authorizer."""
    NONE = (None, ())
    SESSION = ("session", ((401, "unauthorized"),))  # a session of any scope
    FULL_SESSION = ("session", ((401, "unauthorized"), (403, "insufficient_scope")))
    ADMIN = ("sigv4", ((403, "forbidden"),))

    @property
    def security(self) -> list[dict[str, list[str]]] | None:
        scheme = self.value[0]
        return [{scheme: []}] if scheme else None

    @property
    def errors(self) -> dict[int, str]:
        return dict(self.value[1])


class Area(StrEnum):
    """The document's tags, one per area of the API."""
    LOGIN = "Login"
    APP = "IB Key app"
    ACTIVATION = "IB Key activation"
    RECOVERY = "IB Key recovery"
    PORTAL = "Profile and settings"
    DEVICES = "Devices"
    WITHDRAWALS = "Withdrawals"
    SHARING = "Device sharing"
    BACK_OFFICE = "Back office"


AREA_DESCRIPTIONS = {
    Area.LOGIN: "Password, then a challenge to a device of the user's choice (M2FS), then a session.",
    Area.APP: "What the IB Key app sends: its signed answers to push notifications.",
    Area.ACTIVATION: "Registering IB Key on a phone: by an SMS token, or by a QR code from a portal session.",
    Area.RECOVERY: "Restoring IB Key after a reinstall, or moving it to a new phone.",
    Area.PORTAL: "The signed-in user's profile, limits and Secure Login setting.",
    Area.DEVICES: "The signed-in user's devices: remove, request, activate, PIN, return, reactivate.",
    Area.WITHDRAWALS: "Withdrawals confirmed by a device whose limits cover them.",
    Area.SHARING: "Sharing one physical device between usernames of the same person.",
    Area.BACK_OFFICE: "Client Services and Compliance, signed with IAM credentials.",
}


def codes(*groups: dict[int, str]) -> dict[int, str]:
    """Error codes by status, from several groups; a status's codes are listed comma-separated."""
    merged: dict[int, list[str]] = {}
    for group in groups:
        for status, listed in group.items():
            found = merged.setdefault(status, [])
            found.extend(c for c in listed.split(", ") if c not in found)
    return {status: ", ".join(listed) for status, listed in sorted(merged.items())}


# The errors of the flow engine's routes (services/flows.py), whatever the flow.
CHALLENGE_ERRORS = {400: "unsupported_method", 404: "device_not_found", 409: "challenge_in_progress",
                    423: "device_locked", 429: "resend_too_soon, too_many_challenges, push_paused",
                    503: "delivery_failed, busy"}
ANSWER_ERRORS = {401: "invalid_response", 409: "no_challenge, answer_on_device", 410: "challenge_expired",
                 423: "device_locked", 429: "too_many_attempts", 503: "busy"}

# A session route that changes how the account is protected (rules.md, "Step-up").
STEP_UP_ERRORS = {403: "step_up_required"}

# Setting up the IB Key app (activation, recovery): its PIN, checked against the PIN of an app
# instance that already carries users, its public key, and the user's devices changing meanwhile.
ENROLMENT_ERRORS = {400: "weak_pin, invalid_public_key", 401: "invalid_pin",
                    409: "already_enrolled, devices_changed", 423: "pin_locked"}


def operation(operation_id: str, summary: str, *, area: Area, auth: Auth = Auth.NONE, status: int = 200,
              errors: dict[int, str] | None = None, description: str | None = None) -> dict[str, Any]:
    """A route decorator's keywords: its success ``status`` and the error codes this route
    answers (``errors``: status -> codes) beyond those of its ``auth``. The errors every route
    answers are added when the document is assembled (``COMMON_ERRORS``)."""
    responses: dict[int, Any] = {status: {"description": HTTPStatus(status).phrase}}
    if status == HTTPStatus.NO_CONTENT:
        responses[status]["content"] = {}
    for code, which in codes(auth.errors, errors or {}).items():
        responses[code] = {"description": which, "content": {"application/json": {"model": Error}}}
    return {"operation_id": operation_id, "summary": summary, "description": description, "tags": [area.value],
            "security": auth.security, "status_code": status, "responses": responses}


# What every route can answer, whatever it does: any body sent is read as JSON, strictly.
COMMON_ERRORS: dict[int, str] = {400: "invalid_request", 415: "unsupported_media_type", 429: "throttled",
                                 503: "service_unavailable"}


# What every request that changes state can answer when it carries an Idempotency-Key
# (rules.md, "Retries and answers that were lost"), and the header itself.
CHANGING_METHODS = frozenset({"post", "put", "delete"})
IDEMPOTENCY_ERRORS: dict[int, str] = {409: "request_in_progress", 422: "idempotency_key_reused"}
IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Sent again with the same request, gets its first answer again (with `Idempotent-Replayed: "
                   "true`) instead of running it twice. A new key for each new request.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[A-Za-z0-9_-]{1,128}$"},
}


def _add_common_errors(operation: dict[str, Any], method: str = "get") -> None:
    responses = operation["responses"]
    responses.pop("422", None)  # Powertools' validation error: this service answers 400 invalid_request
    declared = {int(status): answer["description"] for status, answer in responses.items() if status[0] in "45"}
    common = COMMON_ERRORS
    if method.lower() in CHANGING_METHODS:
        common = codes(COMMON_ERRORS, IDEMPOTENCY_ERRORS)
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("in") == "header" and p.get("name") == "Idempotency-Key" for p in parameters):
            parameters.append(dict(IDEMPOTENCY_KEY_PARAMETER))
    for status, listed in codes(common, declared).items():
        responses[str(status)] = {"description": listed, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    operation["responses"] = dict(sorted(responses.items()))


def assemble(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One document from each function's own (routes from two functions on one path and
    method are an error), with the errors every route of its kind answers."""
    merge = OpenAPIMerge(title=TITLE, version=VERSION, description=DESCRIPTION, security_schemes=SECURITY_SCHEMES,
                         tags=[Tag(name=a.value, description=AREA_DESCRIPTIONS[a]) for a in Area], on_conflict="error")
    for part in parts:
        merge.add_schema(part)
    document = json.loads(merge.get_openapi_json_schema())
    document.pop("servers", None)  # relative to wherever the document was fetched from
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    error_schema = Error.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, schema in {**error_schema.pop("$defs", {}), "Error": error_schema}.items():
        schemas.setdefault(name, schema)
    for operations in document.get("paths", {}).values():
        for method, op in operations.items():
            _add_common_errors(op, method)
            for answer in op["responses"].values():
                if not answer.get("content"):
                    answer.pop("content", None)
    return document


def functions_document(functions_dir: Path) -> dict[str, Any]:
    """The document of the routes of every function under ``functions_dir``: each
    ``<area>/app.py`` whose ``app`` is a resolver (the authorizer has none). A module that does
    not load is an error, not a gap in the document."""
    parts = []
    for app_file in sorted(functions_dir.glob("*/app.py")):
        spec = importlib.util.spec_from_file_location(f"securelogin_document_{app_file.parent.name}", app_file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if isinstance(getattr(module, "app", None), APIGatewayRestResolver):
            parts.append(module.app.get_openapi_schema())
    return assemble(parts)
