"""The embedded AWS: moto's server on loopback, behind a small front that

- records every message sent to a person (SNS SMS, Pinpoint voice, SNS mobile push) in
  the outbox that ``/_local/outbox`` shows,
- answers Pinpoint SMS and Voice v2 ``SendVoiceMessage``, which moto does not implement,
- logs every AWS call by service and operation, to count the calls each flow makes,
- fails the calls that ``/_local/faults`` armed, with an AWS error or with no answer:
  after letting ``skip`` matching calls through, only for the client requests of a
  ``scope`` (the ``X-Local-Fault-Scope`` header that fault_scope.py puts on AWS calls),
  and with ``after``, once moto has carried the call out (its answer is lost instead),
- runs one call into moto at a time: moto's backends are not thread-safe, and a
  DynamoDB conditional write or transaction must be as atomic here as in DynamoDB,
- answers for the outbox, the call log and the faults under ``/_local/`` (a path no AWS
  SDK uses), so that the local stack's gateway, in whatever process, can show and arm them,
- leaves out of the call log and out of the faults' reach the calls Lambda itself would
  make, which the local stack's stream poller marks (:data:`LAMBDA_SERVICE_HEADER`): its
  reads of the table's stream and its sends to the dead-letter queue are AWS's machinery,
  not calls of the service (the functions it invokes make theirs as any function does).

The service talks to it with real boto3 clients over HTTP, exactly as it would to AWS.
"""
from __future__ import annotations

import io
import json
import re
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import ThreadedWSGIServer

from securelogin.clock import Clock, iso
from securelogin.domain.statements import code_in_text
from securelogin_local import fault_scope, moto_queries, moto_streams, moto_transactions

moto_transactions.install()  # transactions copy only the items they touch; no model object kept forever
moto_queries.install()  # a Query on the table's key reads its partition only
moto_streams.install()  # a stream keeps what its reader has not read; an iterator is used once

_SERVICE_IN_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")

# Pending connections a listener queues before refusing more (socketserver's default is 5).
LISTEN_BACKLOG = 128

# moto keeps its state per process, so every server in the process shares one lock.
_MOTO_LOCK = threading.Lock()

# Where WSGI puts an AWS request's X-Local-Fault-Scope header (fault_scope.HEADER).
SCOPE_ENVIRON = "HTTP_" + fault_scope.HEADER.upper().replace("-", "_")

# The front's own endpoints (the gateway forwards /_local/outbox, /_local/aws-calls, /_local/faults).
LOCAL_PREFIX = "/_local/"

# Marks a call of Lambda's own machinery (streams.py: an event source mapping's stream reads and
# dead-letter sends): served, but neither logged nor failed by a fault.
LAMBDA_SERVICE_HEADER = "X-Local-Lambda-Service"
_LAMBDA_SERVICE_ENVIRON = "HTTP_" + LAMBDA_SERVICE_HEADER.upper().replace("-", "_")


@dataclass
class Outbox:
    messages: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, channel: str, to: str, body: str, data: dict[str, Any], sent_at: str) -> None:
        message = {"channel": channel, "to": to, "body": body, "data": data, "sent_at": sent_at}
        code = code_in_text(body) if channel in ("sms", "voice") else None
        if code is not None:  # api.md, Local stack: a message that carries a code has it as `code`
            message["code"] = code
        with self.lock:
            self.messages.append(message)

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.messages)

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


@dataclass
class CallLog:
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (service, operation, caller or "")
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, service: str, operation: str, caller: str = "") -> None:
        with self.lock:
            self.calls.append((service, operation, caller))

    def snapshot(self) -> list[tuple[str, str, str]]:
        with self.lock:
            return list(self.calls)

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()


# What an armed fault answers: the HTTP status AWS gives with each error code.
FAULT_STATUS = {
    "InternalServerError": 500,
    "ServiceUnavailable": 503,
    "ThrottlingException": 400,
    "ProvisionedThroughputExceededException": 400,
}
TIMEOUT = "timeout"
# A "timeout" fault holds the call this long, past the service's 2 s read timeout.
HANG_SECONDS = 3.0


class FaultError(ValueError):
    pass


# The most calls a fault may let through before it hits (``skip``), and the longest scope.
MAX_SKIP = 1_000_000
MAX_SCOPE_LENGTH = 128


@dataclass(frozen=True)
class Hit:
    """What an armed fault does to the call it hits."""

    error: str  # an AWS error code, or TIMEOUT
    after: bool  # the call reaches moto and takes effect first; only its answer is lost


@dataclass
class Faults:
    """Armed failures: after letting ``skip`` matching calls through, the next ``count``
    calls to a service's operation (``*`` for any) fail; with ``after``, once they have
    taken effect. A fault with a ``scope`` matches only calls that carry
    ``X-Local-Fault-Scope: <scope>`` (fault_scope.py); one without matches every call.

    Each armed fault counts the calls it matches, in the order the faults were armed: a
    fault still skipping lets the call through to the next one, and the first fault with
    nothing left to skip takes the call (the faults after it never see that call)."""

    armed: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, request: Any) -> list[dict[str, Any]]:
        if not isinstance(request, dict):
            raise FaultError("send {service, operation, error, count, skip?, after?, scope?}")
        service, operation = request.get("service"), request.get("operation")
        error, count = request.get("error", "InternalServerError"), request.get("count", 1)
        skip, after, scope = request.get("skip", 0), request.get("after", False), request.get("scope")
        if not isinstance(service, str) or not service or not isinstance(operation, str) or not operation:
            raise FaultError("service and operation: names such as dynamodb and GetItem (operation * for any)")
        if error != TIMEOUT and error not in FAULT_STATUS:
            raise FaultError(f"error: one of {', '.join([*FAULT_STATUS, TIMEOUT])}")
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
            raise FaultError("count: a whole number of calls, 1 to 10000")
        if isinstance(skip, bool) or not isinstance(skip, int) or not 0 <= skip <= MAX_SKIP:
            raise FaultError(f"skip: a whole number of calls to let through first, 0 to {MAX_SKIP}")
        if not isinstance(after, bool):
            raise FaultError("after: true or false")
        if scope is not None and (not isinstance(scope, str) or not 1 <= len(scope) <= MAX_SCOPE_LENGTH
                                  or not scope.isprintable()):
            raise FaultError(f"scope: the value of an X-Local-Fault-Scope header, 1 to {MAX_SCOPE_LENGTH} "
                             "printable characters")
        fault: dict[str, Any] = {"service": service, "operation": operation, "error": error, "count": count}
        # The optional fields are listed only when given, so a fault armed without them lists as before.
        if skip:
            fault["skip"] = skip
        if after:
            fault["after"] = True
        if scope is not None:
            fault["scope"] = scope
        with self.lock:
            self.armed.append(fault)
            return self._listed()

    def take(self, service: str, operation: str, scope: str | None = None) -> Hit | None:
        """What the next call to ``service``'s ``operation``, made for a client request of
        ``scope`` (None: no scope), must suffer, if an armed fault hits it."""
        with self.lock:
            for fault in self.armed:
                if fault["service"] != service or fault["operation"] not in ("*", operation):
                    continue
                if "scope" in fault and fault["scope"] != scope:
                    continue
                if fault.get("skip"):
                    fault["skip"] -= 1  # let through: this call is one of the first ``skip``
                    if not fault["skip"]:
                        del fault["skip"]
                    continue
                fault["count"] -= 1
                if fault["count"] == 0:
                    self.armed.remove(fault)
                return Hit(str(fault["error"]), bool(fault.get("after")))
            return None

    def listed(self) -> list[dict[str, Any]]:
        with self.lock:
            return self._listed()

    def _listed(self) -> list[dict[str, Any]]:
        return [dict(f) for f in self.armed]

    def clear(self) -> None:
        with self.lock:
            self.armed.clear()


class AwsFront:
    """WSGI middleware in front of moto."""

    def __init__(self, moto_app: Callable, outbox: Outbox, calls: CallLog, clock: Clock,
                 faults: Faults | None = None) -> None:
        self._moto = moto_app
        self._outbox = outbox
        self._calls = calls
        self._clock = clock
        self._faults = faults or Faults()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        if environ["PATH_INFO"].startswith(LOCAL_PREFIX):
            return self._local(environ["REQUEST_METHOD"], environ["PATH_INFO"], body, start_response)
        if environ.get(_LAMBDA_SERVICE_ENVIRON):
            return self._call_moto(environ, start_response)
        match = _SERVICE_IN_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        service = match.group(1) if match else "unknown"
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        form = parse_qs(body.decode(errors="replace")) if not target else {}
        operation = target.rsplit(".", 1)[-1] if target else (form.get("Action") or [environ["PATH_INFO"]])[0]
        self._calls.add(service, operation, environ.get("HTTP_X_LOCAL_CALLER", ""))
        hit = self._faults.take(service, operation, environ.get(SCOPE_ENVIRON) or None)
        if hit is None:
            return self._serve(service, operation, environ, body, form, start_response)
        if hit.after:  # the call takes effect; the answer the caller gets is the fault's
            answer = self._serve(service, operation, environ, body, form, _ignore_start)
            close = getattr(answer, "close", None)
            if close is not None:
                close()
        return self._fail(hit.error, service, bool(target), start_response)

    def _serve(self, service: str, operation: str, environ: dict[str, Any], body: bytes,
               form: dict[str, list[str]], start_response: Callable) -> Iterable[bytes]:
        if service == "sms-voice" and operation == "SendVoiceMessage":
            return self._send_voice(json.loads(body or b"{}"), start_response)
        if service == "sns" and operation == "Publish":
            return self._publish(environ, form, start_response)
        return self._call_moto(environ, start_response)

    def _local(self, method: str, path: str, body: bytes, start_response: Callable) -> list[bytes]:
        endpoints: dict[tuple[str, str], Callable[[], tuple[int, Any]]] = {
            ("GET", "/_local/outbox"): lambda: (200, {"messages": self._outbox.snapshot()}),
            ("GET", "/_local/aws-calls"): lambda: (200, {"calls": [
                {"service": s, "operation": o, **({"caller": c} if c else {})} for s, o, c in self._calls.snapshot()]}),
            ("POST", "/_local/faults"): lambda: self._arm_fault(body),
            ("GET", "/_local/faults"): lambda: (200, {"faults": self._faults.listed()}),
            ("DELETE", "/_local/faults"): self._disarm_faults,
        }
        endpoint = endpoints.get((method, path))
        status, payload = endpoint() if endpoint else (
            404, {"error": {"code": "not_found", "message": "There is nothing at this path."}})
        if payload is None:
            start_response(f"{status} {HTTPStatus(status).phrase}", [])
            return []
        start_response(f"{status} {HTTPStatus(status).phrase}", [("Content-Type", "application/json")])
        return [json.dumps(payload).encode()]

    def _arm_fault(self, body: bytes) -> tuple[int, Any]:
        try:
            return 200, {"faults": self._faults.arm(json.loads(body or b"{}"))}
        except FaultError as error:
            message = str(error)
        except ValueError:
            message = "body: JSON"
        return 400, {"error": {"code": "invalid_request", "message": message}}

    def _disarm_faults(self) -> tuple[int, Any]:
        self._faults.clear()
        return 204, None

    def _call_moto(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        """One call into moto, alone: the lock is held until its whole answer is produced
        (a WSGI app may do its work lazily, while its body is iterated)."""
        with _MOTO_LOCK:
            answer = self._moto(environ, start_response)
            try:
                return list(answer)
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()

    @staticmethod
    def _fail(error: str, service: str, json_protocol: bool, start_response: Callable) -> list[bytes]:
        """An armed fault: AWS's error in the service's protocol, or no answer in time (held
        past the caller's read timeout, which has given up on it before the error comes)."""
        if error == TIMEOUT:
            time.sleep(HANG_SECONDS)
            error = "ServiceUnavailable"
        status = FAULT_STATUS[error]
        message = f"injected by /_local/faults ({service})"
        if json_protocol:
            start_response(f"{status} Error", [("Content-Type", "application/x-amz-json-1.0"),
                                               ("x-amzn-ErrorType", error)])
            return [json.dumps({"__type": f"com.amazonaws.{service}#{error}", "message": message}).encode()]
        start_response(f"{status} Error", [("Content-Type", "text/xml")])
        kind = "Receiver" if status >= 500 else "Sender"
        return [(f"<ErrorResponse><Error><Type>{kind}</Type><Code>{error}</Code><Message>{message}</Message>"
                 f"</Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>").encode()]

    def _send_voice(self, request: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        self._outbox.add("voice", request.get("DestinationPhoneNumber", ""), request.get("MessageBody", ""), {},
                         iso(self._clock.now()))
        start_response("200 OK", [("Content-Type", "application/x-amz-json-1.0")])
        return [json.dumps({"MessageId": str(uuid.uuid4())}).encode()]

    def _publish(self, environ: dict[str, Any], form: dict[str, list[str]], start_response: Callable,
                 ) -> Iterable[bytes]:
        status: list[str] = []

        def capture(status_line: str, headers: list, exc_info: Any = None) -> Callable:
            status.append(status_line)
            return start_response(status_line, headers, exc_info)

        answer = self._call_moto(environ, capture)
        if status and status[0].startswith("200"):
            message = (form.get("Message") or [""])[0]
            sent_at = iso(self._clock.now())
            if form.get("PhoneNumber"):
                self._outbox.add("sms", form["PhoneNumber"][0], message, {}, sent_at)
            elif form.get("TargetArn"):
                self._record_push(form["TargetArn"][0], message, sent_at)
        return answer

    def _record_push(self, endpoint_arn: str, message: str, sent_at: str) -> None:
        try:
            envelope = json.loads(message)
            payload = json.loads(envelope.get("GCM") or envelope.get("APNS") or envelope.get("default") or "{}")
        except ValueError:
            payload = {}
        data = payload.get("data") or {k: v for k, v in payload.items() if k != "aps"}
        body = (payload.get("notification") or {}).get("body") or (payload.get("aps") or {}).get("alert") or ""
        # One endpoint serves every user of an app instance; the push names its device.
        self._outbox.add("push", data.get("device_id") or endpoint_arn, body, data, sent_at)


def _ignore_start(status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], None]:
    """A WSGI ``start_response`` for an answer nobody gets (an ``after`` fault's)."""
    return lambda _: None


class _QuietRequestHandler(MotoRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class _AwsServer(ThreadedWSGIServer):
    request_queue_size = LISTEN_BACKLOG  # read when the socket starts listening, in __init__


class EmbeddedAws:
    """Moto's server and its front, on a loopback port of its own."""

    def __init__(self, clock: Clock, host: str = "127.0.0.1", port: int = 0) -> None:
        self.outbox = Outbox()
        self.calls = CallLog()
        self.faults = Faults()
        self.front = AwsFront(DomainDispatcherApplication(create_backend_app), self.outbox, self.calls, clock,
                              self.faults)
        self._server = _AwsServer(host, port, self.front, handler=_QuietRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-aws", daemon=True)

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        """Forgets every resource (moto's state is per process, not per server)."""
        # our own loopback server, never a user-supplied URL
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass
        self.outbox.clear()
        self.calls.clear()
        self.faults.clear()

    def start(self) -> EmbeddedAws:
        self._thread.start()
        return self

    def serve(self) -> None:
        """Serves in the calling thread until interrupted (the local stack's AWS process)."""
        self._server.serve_forever()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
