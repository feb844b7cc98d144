"""Idempotency keys (rules.md "Retries and answers that were lost"; api.md Conventions),
for every request that changes state (POST, PUT, DELETE) of every function: lambda_entry
runs each event through :func:`answer_once`.

- ``Idempotency-Key``: 1-128 characters of ``A-Z a-z 0-9 _ -`` (anything else: 400
  ``invalid_request``). Without it a request runs as it always did, at no extra cost.
- A key belongs to its caller (:func:`caller_of`): the same key from another caller is
  another key. The kept item is named by a hash of the caller and the key.
- The first answer to a key, any 2xx or 4xx (a 5xx is not kept), is kept 24 hours with a
  fingerprint of the method, the path and the body (:func:`fingerprint_of`); the same
  request with the key gets it again (status, body, its headers) with
  ``Idempotent-Replayed: true``. Another request with the key: 422
  ``idempotency_key_reused``; while the first still runs: 409 ``request_in_progress``.
- A kept answer that carries a secret (:data:`SECRET_FIELDS`) is sealed under KMS, under a
  context naming its caller's key (:class:`AnswerSerializer`).

Powertools' idempotency utility runs it (``IdempotencyHandler``: claim, run, keep, replay,
payload validation, response hook), over adapters/idempotency.py's persistence layer.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.base import IdempotencyHandler
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.idempotency.serialization.base import BaseIdempotencySerializer

from securelogin.adapters.aws import is_outage
from securelogin.api.errors import domain_error_response, error_response
from securelogin.api.session_context import session_of
from securelogin.errors import aws_unavailable
from securelogin.logs import logger
from securelogin.ports import SecretBox
from securelogin.retries import current_request

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
CHANGING = frozenset({"POST", "PUT", "DELETE"})
KEPT_FOR_SECONDS = 24 * 60 * 60
PREFIX = "IDEMPOTENCY"  # the kept item's pk: IDEMPOTENCY#<hash> (adapters/table.py)
# Fields of an answer that are secrets or capabilities: a kept answer with one of them is sealed.
SECRET_FIELDS = frozenset({"ocra_secret_hex", "card", "code", "seed_hex", "session_token",
                           # a flow's id is a capability: whoever holds it goes on with the flow
                           "login_id", "activation_id", "recovery_id", "share_id", "withdrawal_id", "step_up_id",
                           "session_id"})
# Body fields that name the flow or user of a request with neither a session nor an IAM caller
# and no path parameter (POST /v1/login, /v1/activation/sms, /v1/recovery; QR completion; push answers).
NAMING_FIELDS = ("username", "session_id", "push_id")
# How long a claim holds when the invocation's remaining time is unknown: the functions' timeout.
FUNCTION_TIMEOUT_MS = 10_000
IN_PROGRESS_RETRY_AFTER_SECONDS = 1
# How long a request whose claim or kept answer could not be written waits, before it answers,
# for the container's retry of that write (adapters/idempotency.py, Unfinished).
GIVE_BACK_WAIT_SECONDS = 0.25


# ------------------------------------------------------------------ the rules


def header_of(event: dict[str, Any], name: str) -> str | None:
    wanted = name.lower()
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == wanted:
            return value
    for key, values in (event.get("multiValueHeaders") or {}).items():
        if key.lower() == wanted and values:
            return values[-1]
    return None


def valid_key(key: str) -> bool:
    return KEY_PATTERN.fullmatch(key) is not None


def body_bytes(event: dict[str, Any]) -> bytes:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return raw.encode()
    return raw.encode()


def caller_of(event: dict[str, Any]) -> str:
    """Whose keys a request's key is among: the session's user, else the IAM caller, else
    the flow or username the request names (its path parameters, else a naming field of
    its body), else nobody in particular."""
    context = event.get("requestContext") or {}
    session = session_of(context.get("authorizer") or {})
    if session is not None:
        return f"user:{session.username}"
    identity = context.get("identity") or {}
    iam = identity.get("userArn") or identity.get("caller")
    if iam:
        return f"iam:{iam}"
    parameters = event.get("pathParameters") or {}
    if parameters:
        return "path:" + "&".join(f"{name}={parameters[name]}" for name in sorted(parameters))
    try:
        body = json.loads(body_bytes(event) or b"null")
    except ValueError:
        body = None
    if isinstance(body, dict):
        for field in NAMING_FIELDS:
            if isinstance(body.get(field), str):
                return f"{field}:{body[field]}"
    return "anonymous"


def owner_of(caller: str, key: str) -> str:
    """What names a caller's key: the hash of both (neither is stored)."""
    return hashlib.sha256(json.dumps([caller, key]).encode()).hexdigest()


def fingerprint_of(event: dict[str, Any]) -> str:
    """The request a key was first used for: its method, path and body (as sent)."""
    digest = hashlib.sha256()
    for part in ((event.get("httpMethod") or "").upper().encode(), (event.get("path") or "").encode(),
                 body_bytes(event)):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def carries_secret(answer: Any) -> bool:
    """Whether a JSON answer has one of SECRET_FIELDS anywhere (an error's ``code`` aside)."""
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        answer = {**answer, "error": {k: v for k, v in answer["error"].items() if k != "code"}}
    pending = [answer]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            if SECRET_FIELDS & value.keys():
                return True
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def _kept_headers(response: dict[str, Any]) -> dict[str, list[str]]:
    """An answer's own headers (its content type, Retry-After, ...), without those that
    depend on who asks (CORS)."""
    headers: dict[str, list[str]] = {}
    for name, value in (response.get("headers") or {}).items():
        headers[name] = [str(value)]
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name] = [str(v) for v in values]
    return {name: values for name, values in headers.items()
            if not name.lower().startswith("access-control-") and name.lower() != REPLAYED.lower()}


class AnswerSerializer(BaseIdempotencySerializer):
    """A Lambda proxy answer to and from what is kept: status, headers, body; sealed with
    ``box`` under ``context`` when the body carries a secret."""

    def __init__(self, box: Callable[[], SecretBox], context: str) -> None:
        self._box = box
        self._context = context

    def to_dict(self, data: dict[str, Any]) -> dict[str, Any]:
        kept = {"statusCode": int(data.get("statusCode", 200)), "headers": _kept_headers(data),
                "body": data.get("body") or "", "isBase64Encoded": bool(data.get("isBase64Encoded"))}
        try:
            body = json.loads(base64.b64decode(kept["body"]) if kept["isBase64Encoded"] else kept["body"] or "null")
        except ValueError:
            body = kept["body"]  # not JSON: sealed, to be safe, if it could hold anything
        if not isinstance(body, dict | list | type(None)) or carries_secret(body):
            return {"sealed": self._box().seal(json.dumps(kept).encode(), self._context)}
        return kept

    def from_dict(self, data: dict[str, Any]) -> dict[str, Any]:
        if "sealed" in data:
            return json.loads(self._box().open(data["sealed"], self._context))
        return data


def seal_context(owner: str) -> str:
    return f"kept-answer|{owner}"


# ------------------------------------------------------------------ running a request once


class NotKept(Exception):
    """A 5xx answer: given to the client, never kept for its key."""

    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__(response.get("statusCode"))
        self.response = response


class _Remaining:
    """The invocation's remaining time, for how long a claim holds (Powertools reads it)."""

    def __init__(self, context: Any) -> None:
        self._context = context

    def get_remaining_time_in_millis(self) -> int:
        remaining = getattr(self._context, "get_remaining_time_in_millis", None)
        return int(remaining()) if callable(remaining) else FUNCTION_TIMEOUT_MS


def _cors_headers(app: APIGatewayRestResolver, event: dict[str, Any]) -> dict[str, str]:
    cors = getattr(app, "_cors", None)
    origin = header_of(event, "origin")
    if cors is None or origin is None:
        return {}
    allowed = cors.allowed_origin(origin)
    return cors.to_dict(allowed) if allowed else {}


def _answer(app: APIGatewayRestResolver, event: dict[str, Any], response: Response) -> dict[str, Any]:
    """An answer of this module's own, shaped as the resolver shapes its answers."""
    response.headers.update(_cors_headers(app, event))
    return ResponseBuilder(response).build(app._to_proxy_event(event))


def _replayed(app: APIGatewayRestResolver, event: dict[str, Any], kept: dict[str, Any]) -> dict[str, Any]:
    headers = {name: list(values) for name, values in kept.get("headers", {}).items()}
    headers.update({name: [value] for name, value in _cors_headers(app, event).items()})
    headers[REPLAYED] = ["true"]
    return {"statusCode": kept["statusCode"], "body": kept["body"], "isBase64Encoded": kept["isBase64Encoded"],
            "multiValueHeaders": headers}


def answer_once(app: APIGatewayRestResolver, event: dict[str, Any], context: Any,
                resolve: Callable[[dict[str, Any], Any], dict[str, Any]]) -> dict[str, Any]:
    """``resolve(event, context)``, or the answer kept for the request's key."""
    method = (event.get("httpMethod") or "").upper()
    key = header_of(event, HEADER) if method in CHANGING else None
    if key is None:
        return resolve(event, context)
    if not valid_key(key):
        return _answer(app, event, error_response(
            400, "invalid_request", f"{HEADER}: 1 to 128 characters of A-Z, a-z, 0-9, _ and -."))

    from securelogin.adapters.idempotency import KeptAnswers, unfinished
    from securelogin.runtime import services

    box = services().box  # the composition root also binds the table
    if len(unfinished):
        unfinished.finish()
    owner = owner_of(caller_of(event), key)
    ran: dict[str, dict[str, Any]] = {}

    fingerprint = fingerprint_of(event)

    def run() -> dict[str, Any]:
        running = current_request.set(hashlib.sha256(f"{owner}|{fingerprint}".encode()).hexdigest())
        try:
            response = resolve(event, context)
        finally:
            current_request.reset(running)
        ran["response"] = response
        if int(response.get("statusCode", 500)) >= 500:
            raise NotKept(response)
        return response

    def replay(kept: dict[str, Any], _: DataRecord) -> dict[str, Any]:
        return _replayed(app, event, kept)

    config = IdempotencyConfig(event_key_jmespath="owner", payload_validation_jmespath="fingerprint",
                               expires_after_seconds=KEPT_FOR_SECONDS, hash_function="sha256",
                               lambda_context=_Remaining(context), response_hook=replay)
    handler = IdempotencyHandler(function=run, function_payload={"owner": owner, "fingerprint": fingerprint},
                                 config=config, persistence_store=KeptAnswers(),
                                 output_serializer=AnswerSerializer(lambda: box, seal_context(owner)),
                                 key_prefix=PREFIX, function_args=(), function_kwargs={})
    try:
        return handler.handle()
    except NotKept as not_kept:
        return not_kept.response
    except IdempotencyValidationError:
        return _answer(app, event, error_response(
            422, "idempotency_key_reused", f"This {HEADER} was used for another request: send a new key."))
    except (IdempotencyAlreadyInProgressError, IdempotencyInconsistentStateError):
        return _answer(app, event, error_response(
            409, "request_in_progress", f"The first request with this {HEADER} is still running: send it again "
            "shortly.", headers={"Retry-After": str(IN_PROGRESS_RETRY_AFTER_SECONDS)}))
    except IdempotencyPersistenceLayerError as error:
        unfinished.settle(GIVE_BACK_WAIT_SECONDS)  # a claim not given back: a moment for the retrying thread
        if "response" in ran:  # it ran; only its claim or its kept answer could not be written
            logger.warning("kept answer not written", extra={"error_type": type(error.__cause__).__name__})
            return ran["response"]
        return _failed(app, event, error)
    except Exception as error:  # opening a kept answer (KMS), or a fault of ours
        return _failed(app, event, error)


def _failed(app: APIGatewayRestResolver, event: dict[str, Any], error: Exception) -> dict[str, Any]:
    if is_outage(error):
        logger.warning("AWS unavailable", extra={"error_type": type(error).__name__})
        return _answer(app, event, domain_error_response(aws_unavailable()))
    logger.exception("kept answers failed", extra={"error_type": type(error).__name__})
    return _answer(app, event, error_response(500, "internal_error", "Something went wrong on our side."))
