"""Assembles the local stack: embedded AWS, resources from the template, the functions'
environment, the gateway, the consumers of the table's stream (streams.py) and the
local-only endpoints of api.md.

The outbox, the AWS call log and the faults live with the embedded AWS, which may run in
another process; their endpoints are forwarded to it. The clock is this process's
``system_clock``, whose offset ``make run`` shares between its processes."""
from __future__ import annotations

import http.client
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler.openapi import swagger_ui
from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

from securelogin.clock import iso, system_clock
from securelogin_local.aws import EmbeddedAws
from securelogin_local.gateway import FunctionHost, Gateway, HttpAnswer, json_answer
from securelogin_local.resources import create_stack
from securelogin_local.streams import StreamPoller, stream_pollers
from securelogin_local.template import Stack

LOCAL_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",  # EMF lines would flood the workers' output
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}

# Template parameters the local stack deploys with.
LOCAL_PARAMETERS = {"Stage": "dev", "VoiceOriginationIdentity": "+15550009999"}

def function_environment(stack: Stack, endpoint_url: str) -> dict[str, str]:
    """What every function sees: the template's variables, pointed at the embedded AWS."""
    env: dict[str, str] = {}
    for spec in stack.functions().values():
        for name, value in spec.environment.items():
            if env.get(name, value) != value:
                raise ValueError(f"functions disagree on {name}: the local stack runs them in one process")
            env[name] = value
    env.update(LOCAL_AWS_ENVIRONMENT, AWS_ENDPOINT_URL=endpoint_url)
    return env


# The local endpoints that the embedded AWS answers.
AWS_LOCAL_ENDPOINTS = [("GET", "/_local/outbox"), ("GET", "/_local/aws-calls"),
                       ("POST", "/_local/faults"), ("GET", "/_local/faults"), ("DELETE", "/_local/faults")]


@dataclass
class LocalStack:
    aws_endpoint_url: str
    stack: Stack
    gateway: Gateway
    aws: EmbeddedAws | None = None  # set when the embedded AWS runs in this process
    pollers: list[StreamPoller] = field(default_factory=list)  # those started in this process

    @classmethod
    def start(cls, parameters: dict[str, str] | None = None, streams: bool = True) -> LocalStack:
        """Everything in this process, the embedded AWS on a thread of its own and, with
        ``streams``, the stream's consumers on threads of theirs."""
        aws = EmbeddedAws(system_clock).start()
        local = cls.deploy(aws.endpoint_url, parameters)
        local.aws = aws
        if streams:
            local.pollers = [poller.start() for poller in local.stream_pollers()]
        return local

    def stream_pollers(self) -> list[StreamPoller]:
        """The consumers of the template's stream events (not started), over this stack's
        function hosts: :meth:`start` starts them on threads, ``python -m securelogin_local``
        in a process of their own."""
        return stream_pollers(self.stack, self.gateway.hosts, self.aws_endpoint_url)

    @classmethod
    def deploy(cls, aws_endpoint_url: str, parameters: dict[str, str] | None = None) -> LocalStack:
        """Creates the template's resources in the embedded AWS at ``aws_endpoint_url`` and
        points this process's environment (which the functions read) at it."""
        stack = create_stack(aws_endpoint_url, {**LOCAL_PARAMETERS, **(parameters or {})})
        os.environ.update(function_environment(stack, aws_endpoint_url))
        hosts = {name: FunctionHost(spec, stack.region, stack.account) for name, spec in stack.functions().items()}
        return cls(aws_endpoint_url=aws_endpoint_url, stack=stack, gateway=Gateway(stack, hosts))

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        self.pollers = []
        if self.aws is not None:
            self.aws.stop()

    # -------------------------------------------------------------- HTTP

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str) -> HttpAnswer:
        path = target.split("?", 1)[0]
        if path.startswith("/_local/") or path == "/swagger":
            return self._local(method, path, body)
        site = path.split("/", 2)[1]
        if site in WEB_SITES:
            return static_file(method, site, path)
        return self.gateway.handle(method, target, headers, body, source_ip)

    def _local(self, method: str, path: str, body: bytes) -> HttpAnswer:
        endpoints = {
            ("GET", "/_local/health"): lambda: json_answer(200, {"status": "ok",
                                                                 "aws_endpoint_url": self.aws_endpoint_url}),
            ("POST", "/_local/clock"): lambda: self._advance_clock(body),
            ("GET", "/swagger"): self._swagger,
            **{endpoint: lambda: self._ask_aws(method, path, body) for endpoint in AWS_LOCAL_ENDPOINTS},
        }
        endpoint = endpoints.get((method, path))
        if endpoint is not None:
            return endpoint()
        if any(p == path for _, p in endpoints):
            return json_answer(405, {"error": {"code": "method_not_allowed", "message": "Not for this path."}})
        return json_answer(404, {"error": {"code": "not_found", "message": "There is nothing at this path."}})

    @staticmethod
    def _advance_clock(body: bytes) -> HttpAnswer:
        try:
            seconds = json.loads(body or b"{}")["advance_seconds"]
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return json_answer(400, {"error": {"code": "invalid_request",
                                               "message": "advance_seconds: a number of seconds, not negative"}})
        system_clock.advance(seconds)
        return json_answer(200, {"now": iso(system_clock.now())})

    def _ask_aws(self, method: str, path: str, body: bytes) -> HttpAnswer:
        address = urlsplit(self.aws_endpoint_url)
        connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
        try:
            connection.request(method, path, body=body or None, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            content_type = response.getheader("Content-Type")
            return HttpAnswer(response.status, {"Content-Type": content_type} if content_type else {}, response.read())
        finally:
            connection.close()

    def _swagger(self) -> HttpAnswer:
        """Swagger UI over the document the API serves, with Powertools' copy of its script and
        style inline: the page needs no internet."""
        document = self.gateway.handle("GET", "/openapi.json", {"Host": "127.0.0.1"}, b"", "127.0.0.1")
        if document.status != 200:
            return document
        page = swagger_page(document.body.decode())
        return HttpAnswer(200, {"Content-Type": "text/html; charset=utf-8"}, page.encode())


# The browser pages the local stack serves: the Client Portal and the IB Key app stand-in.
WEB_ROOT = Path(__file__).resolve().parents[1] / "web"
WEB_SITES = ("portal", "app")
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
                 ".json": "application/json", ".ico": "image/x-icon"}
# The pages run only their own scripts; the QR code is an inline SVG (data: and blob: images).
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
                                          "base-uri 'none'; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def static_file(method: str, site: str, path: str, web_root: Path = WEB_ROOT) -> HttpAnswer:
    """A file of tools/web/<site>/ (``/portal/`` is its index.html); nothing outside it."""
    if method not in ("GET", "HEAD"):
        return json_answer(405, {"error": {"code": "method_not_allowed", "message": "Pages are read-only."}})
    if path == f"/{site}":
        return HttpAnswer(301, {"Location": f"/{site}/"}, b"")
    root = (web_root / site).resolve()
    relative = path.removeprefix(f"/{site}/") or "index.html"
    file = (root / relative).resolve()
    if not file.is_relative_to(root) or not file.is_file() or file.suffix not in CONTENT_TYPES:
        return json_answer(404, {"error": {"code": "not_found", "message": "There is nothing at this path."}})
    return HttpAnswer(200, {"Content-Type": CONTENT_TYPES[file.suffix], **PAGE_HEADERS}, file.read_bytes())


def swagger_page(document: str) -> str:
    assets = Path(swagger_ui.__file__).parent
    return generate_swagger_html(spec=document.replace("</", "<\\/"),
                                 swagger_js=(assets / "swagger-ui-bundle.min.js").read_text(),
                                 swagger_css=(assets / "swagger-ui.min.css").read_text(),
                                 swagger_base_url="", oauth2_config=None)
