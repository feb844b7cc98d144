"""The embedded AWS: moto's server on loopback, behind a small front that

- records every message sent to a person (SNS SMS, Pinpoint voice, SNS mobile push) in
  the outbox that ``/_local/outbox`` shows,
- answers Pinpoint SMS and Voice v2 ``SendVoiceMessage``, which moto does not implement,
- logs every AWS call by service and operation, to count the calls each flow makes,
- runs one call into moto at a time: moto's backends are not thread-safe, and a
  DynamoDB conditional write or transaction must be as atomic here as in DynamoDB.

The service talks to it with real boto3 clients over HTTP, exactly as it would to AWS.
"""
from __future__ import annotations

import io
import json
import re
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import ThreadedWSGIServer

from securelogin.clock import Clock, iso

_SERVICE_IN_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")

# Pending connections a listener queues before refusing more (socketserver's default is 5).
LISTEN_BACKLOG = 128

# moto keeps its state per process, so every server in the process shares one lock.
_MOTO_LOCK = threading.Lock()


@dataclass
class Outbox:
    messages: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, channel: str, to: str, body: str, data: dict[str, Any], sent_at: str) -> None:
        with self.lock:
            self.messages.append({"channel": channel, "to": to, "body": body, "data": data, "sent_at": sent_at})

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.messages)

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


@dataclass
class CallLog:
    calls: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, service: str, operation: str) -> None:
        with self.lock:
            self.calls.append((service, operation))

    def snapshot(self) -> list[tuple[str, str]]:
        with self.lock:
            return list(self.calls)

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()


class AwsFront:
    """WSGI middleware in front of moto."""

    def __init__(self, moto_app: Callable, outbox: Outbox, calls: CallLog, clock: Clock) -> None:
        self._moto = moto_app
        self._outbox = outbox
        self._calls = calls
        self._clock = clock

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        match = _SERVICE_IN_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        service = match.group(1) if match else "unknown"
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        form = parse_qs(body.decode(errors="replace")) if not target else {}
        operation = target.rsplit(".", 1)[-1] if target else (form.get("Action") or [environ["PATH_INFO"]])[0]
        self._calls.add(service, operation)

        if service == "sms-voice" and operation == "SendVoiceMessage":
            return self._send_voice(json.loads(body or b"{}"), start_response)
        if service == "sns" and operation == "Publish":
            return self._publish(environ, form, start_response)
        return self._call_moto(environ, start_response)

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
        self.front = AwsFront(DomainDispatcherApplication(create_backend_app), self.outbox, self.calls, clock)
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

    def start(self) -> EmbeddedAws:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
