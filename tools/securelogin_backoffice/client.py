"""HTTP to the admin routes, SigV4-signed (service ``execute-api``) with the operator's AWS credentials.

What is signed is what is sent: the same method, URL (a stage path such as ``/prod`` included),
``host`` header and body bytes."""
from __future__ import annotations

import json
import secrets
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials

SERVICE = "execute-api"
LOCAL_BASE_URL = "http://127.0.0.1:3000"
LOCAL_CREDENTIALS = Credentials("testing", "testing")  # what the local stack's gateway accepts
LOCAL_REGION = "us-east-1"
MAX_RETRY_WAIT_SECONDS = 30.0
# Requests that change state carry an Idempotency-Key (api.md, Conventions): one fresh key per
# command, sent again with each retry of it, so a retry never runs the command twice.
CHANGING_METHODS = frozenset({"POST", "PUT", "DELETE"})
IDEMPOTENCY_HEADER = "idempotency-key"


def new_idempotency_key() -> str:
    """A fresh key: 128 random bits in the header's alphabet (A-Z a-z 0-9 _ -)."""
    return secrets.token_urlsafe(16)


class ApiError(Exception):
    """A 4xx/5xx answer, with the contract's error code and message (or the transport's failure)."""

    def __init__(self, status: int, code: str, message: str, body: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.body = status, code, message, body


@dataclass(frozen=True)
class Prepared:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def host_header(url: str) -> str:
    """The ``host`` a client sends for ``url``: lower case, with the port unless it is the scheme's default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if parts.port and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def sign(method: str, url: str, body: bytes, credentials: Credentials | ReadOnlyCredentials, region: str,
         headers: dict[str, str] | None = None) -> dict[str, str]:
    """The headers to send: ``headers`` plus ``host``, ``X-Amz-Date``, ``Authorization`` (and
    ``X-Amz-Security-Token`` for temporary credentials), signing ``body`` exactly."""
    request = AWSRequest(method=method, url=url, data=body, headers={**(headers or {}), "host": host_header(url)})
    if not isinstance(credentials, Credentials):
        credentials = Credentials(credentials.access_key, credentials.secret_key, credentials.token)
    SigV4Auth(credentials, SERVICE, region).add_auth(request)
    return dict(request.headers.items())


@dataclass
class Client:
    base_url: str
    credentials: Any  # botocore Credentials (refreshable ones are frozen at each request)
    region: str
    timeout: float = 30.0
    sleep: Any = field(default=time.sleep, repr=False)

    def __post_init__(self) -> None:
        if urlsplit(self.base_url).scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {self.base_url!r}")

    def url(self, segments: list[str], query: dict[str, Any] | None = None) -> str:
        path = "/".join(quote(str(s), safe="") for s in segments)
        url = f"{self.base_url.rstrip('/')}/{path}"
        query = {k: v for k, v in (query or {}).items() if v is not None}
        return f"{url}?{urlencode(query)}" if query else url

    def prepare(self, method: str, url: str, body: Any = None, idempotency_key: str | None = None) -> Prepared:
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        extra = {"content-type": "application/json"} if body is not None else {}
        if idempotency_key is not None:
            extra[IDEMPOTENCY_HEADER] = idempotency_key
        frozen = self.credentials.get_frozen_credentials() if hasattr(self.credentials, "get_frozen_credentials") \
            else self.credentials
        headers = sign(method, url, data, frozen, self.region, {"accept": "application/json", **extra})
        return Prepared(method, url, headers, data)

    def call(self, method: str, segments: list[str], body: Any = None, query: dict[str, Any] | None = None) -> Any:
        """The answer's JSON; raises ApiError on a 4xx/5xx. A 503, or a 409 ``request_in_progress``,
        is sent again once (freshly signed) after its ``Retry-After``: the contract says such a
        request may be resent as it is. A request that changes state carries an Idempotency-Key,
        the same one on the retry: if the first attempt did run, the retry gets its answer."""
        url = self.url(segments, query)
        key = new_idempotency_key() if method.upper() in CHANGING_METHODS else None
        for attempt in (1, 2):
            status, headers, payload = self._send(self.prepare(method, url, body, key))
            if attempt == 1 and (status == 503 or (status == 409 and _code(payload) == "request_in_progress")):
                wait = _retry_after(headers.get("retry-after"))
                if wait is not None and wait <= MAX_RETRY_WAIT_SECONDS:
                    print(f"note: {status} from the API; retrying once in {wait:g} s", file=sys.stderr)
                    self.sleep(wait)
                    continue
            break
        parsed = _json(payload)
        if status >= 400:
            error = parsed.get("error") if isinstance(parsed, dict) else None
            if isinstance(error, dict) and "code" in error:
                raise ApiError(status, str(error["code"]), str(error.get("message", "")), parsed)
            text = payload.decode(errors="replace").strip()[:200] if payload else ""
            raise ApiError(status, f"http_{status}", text or "no error body", parsed)
        return parsed

    def _send(self, prepared: Prepared) -> tuple[int, dict[str, str], bytes]:
        # http(s) only: the base URL's scheme is checked when the client is made.
        request = urllib.request.Request(prepared.url, data=prepared.body if prepared.method != "GET" else None,  # noqa: S310
                                         method=prepared.method, headers=prepared.headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, headers, payload = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, payload = error.code, error.headers, error.read()
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ApiError(0, "connection_failed", f"{prepared.url}: {reason}") from error
        return status, {k.lower(): v for k, v in headers.items()}, payload


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except ValueError:
        return None  # an HTTP date: not worth a wait here


def _code(payload: bytes) -> str | None:
    parsed = _json(payload)
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return str(error.get("code")) if isinstance(error, dict) else None


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload) if payload else {}
    except ValueError:
        return None
