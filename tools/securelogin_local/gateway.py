"""API Gateway (REST, v1 proxy events) in front of the functions, as template.yaml wires it.

It routes by the template's resource paths (literal segments first, then ``{param}``,
then ``{proxy+}``), applies each route's auth (none, the session TOKEN authorizer, or
AWS_IAM with SigV4), answers with the template's gateway responses, and invokes the same
handlers that run in Lambda.

A function's execution environments are threads of one process here, not processes of
their own as in Lambda; :func:`keep_events_apart` undoes the one thing the handlers share
that way (Powertools' event being resolved). As Lambda does, a function is stopped at its
``Timeout`` (template.yaml, Globals or its own), and the gateway answers 504 with the
template's ``INTEGRATION_TIMEOUT`` gateway response.

A request's ``X-Local-Fault-Scope`` header goes with the AWS calls made to serve it
(fault_scope.py), so that a fault armed for that scope hits only them.
"""
from __future__ import annotations

import base64
import contextlib
import contextvars
import ctypes
import importlib.util
import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from securelogin_local import fault_scope, sigv4
from securelogin_local.template import FunctionSpec, Route, Stack


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def json_answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> HttpAnswer:
    return HttpAnswer(status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(payload).encode())


class LambdaContext:
    """The parts of Lambda's context object that handlers and Powertools read."""

    def __init__(self, spec: FunctionSpec, region: str, account: str) -> None:
        self.function_name = f"securelogin-local-{spec.logical_id}"
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = spec.memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{self.function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + spec.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def keep_events_apart() -> None:
    """Each Powertools resolver keeps the event it resolves (and its context) for itself.

    Powertools puts them on a class (``BaseRouter.current_event``), one per process: in
    Lambda a process resolves one event at a time, but here environments that run at once
    share the process, and a request would read another's body, path or authorizer (its
    caller) from it. Set on the resolver itself, they are read from there (by the
    resolver, its routers and middlewares) instead; an environment resolves one event at
    a time. Calling it again does nothing."""
    if getattr(ApiGatewayResolver.resolve, "keeps_events_apart", False):
        return
    resolve = ApiGatewayResolver.resolve

    def resolve_own(self: ApiGatewayResolver, event: Any, context: Any) -> dict[str, Any]:
        self.current_event = self._to_proxy_event(event.raw_event if isinstance(event, BaseProxyEvent) else event)
        self.lambda_context = context
        return resolve(self, event, context)

    resolve_own.keeps_events_apart = True  # type: ignore[attr-defined]
    ApiGatewayResolver.resolve = resolve_own  # type: ignore[method-assign]


keep_events_apart()
fault_scope.install()  # before any client is made: every botocore session carries a request's scope


class FunctionTimedOut(Exception):
    """The function ran to its ``Timeout`` and was stopped (Lambda: ``Task timed out after N seconds``)."""


class _Stopped(BaseException):
    """Raised inside a function that ran past its timeout, to stop it where it is. A
    BaseException, so that the handler's ``except Exception`` does not carry on."""


def _stop(thread: threading.Thread) -> None:
    """Raises :class:`_Stopped` in ``thread`` at its next Python instruction (a call blocked
    in C, such as a socket read or a sleep, ends first)."""
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_Stopped))


class _Invocation(threading.Thread):
    """One invocation of a function, in a thread of its own (so that the gateway can stop
    waiting for it at its timeout) that runs in a copy of the gateway's context (a request's
    fault scope). The whole invocation runs there, taking an environment included, as in
    Lambda, where an environment's process runs the whole of an invocation."""

    def __init__(self, host: FunctionHost, event: Any) -> None:
        super().__init__(name=f"{host.spec.logical_id}-invocation", daemon=True)
        self._host, self._event = host, event
        self._caller_context = contextvars.copy_context()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        with contextlib.suppress(_Stopped):
            self._caller_context.run(self._invoke)

    def _invoke(self) -> None:
        try:
            self.result = self._host.invoke(self._event)
        except _Stopped:
            raise
        except BaseException as error:  # handed to the gateway, as Lambda hands back a function's error
            self.error = error


class FunctionHost:
    """Runs one function. Like Lambda, an execution environment handles one event at a
    time; concurrent events get more environments (each a fresh load of the code, in
    this process: see :func:`keep_events_apart`)."""

    MAX_ENVIRONMENTS = 8

    def __init__(self, spec: FunctionSpec, region: str, account: str) -> None:
        self.spec = spec
        self._region = region
        self._account = account
        self._idle: list[ModuleType] = []
        self._loaded = 0
        self._available = threading.Condition()

    def _load(self) -> ModuleType:
        file_name, _ = self.spec.handler.rsplit(".", 1)
        path: Path = self.spec.code_uri / f"{file_name.replace('.', '/')}.py"
        module_spec = importlib.util.spec_from_file_location(f"lambda_{self.spec.logical_id}_{self._loaded}", path)
        assert module_spec and module_spec.loader
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return module

    def module(self) -> ModuleType:
        """An environment's module, for reading what it defines (e.g. its OpenAPI)."""
        environment = self._acquire()
        self._release(environment)
        return environment

    def _acquire(self) -> ModuleType:
        with self._available:
            while not self._idle and self._loaded >= self.MAX_ENVIRONMENTS:
                self._available.wait()
            if self._idle:
                return self._idle.pop()
            self._loaded += 1
        return self._load()

    def _release(self, module: ModuleType) -> None:
        with self._available:
            self._idle.append(module)
            self._available.notify()

    def invoke(self, event: dict[str, Any]) -> Any:
        """The handler's answer (or its exception), in the calling thread, with no timeout."""
        module = self._acquire()
        try:
            handler = getattr(module, self.spec.handler.rsplit(".", 1)[1])
            result = handler(event, LambdaContext(self.spec, self._region, self._account))
        except _Stopped:
            raise  # stopped at its timeout: its environment is thrown away (invoke_in_time counted it out)
        except BaseException:
            self._release(module)
            raise
        self._release(module)
        return result

    def invoke_in_time(self, event: dict[str, Any]) -> Any:
        """:meth:`invoke` in a thread of its own, stopped at the function's ``Timeout`` as Lambda
        stops it: then :class:`FunctionTimedOut`, and its environment is thrown away."""
        run = _Invocation(self, event)
        run.start()
        run.join(self.spec.timeout_s)
        if run.is_alive():
            _stop(run)
            # Its place is given up now, whatever the stopped thread still does. Should it have
            # finished and given its environment back just now, one more environment than
            # MAX_ENVIRONMENTS may be loaded: a soft cap, never a place lost for good.
            self._discard()
            raise FunctionTimedOut(f"Task timed out after {self.spec.timeout_s} seconds")
        if run.error is not None:
            raise run.error
        return run.result

    def _discard(self) -> None:
        """An environment that will not be used again: another may be loaded in its place."""
        with self._available:
            self._loaded -= 1
            self._available.notify()


def _rank(route: Route) -> tuple[int, ...]:
    return tuple(2 if s.endswith("+}") else 1 if s.startswith("{") else 0 for s in route.segments())


def match(routes: list[Route], path: str) -> tuple[str, dict[str, str]] | None:
    """The resource path that API Gateway would pick for ``path``, with its parameters."""
    wanted = [unquote(s) for s in path.split("/") if s]
    best: tuple[tuple[int, ...], Route, dict[str, str]] | None = None
    for route in routes:
        params: dict[str, str] = {}
        segments = route.segments()
        ok = True
        for i, segment in enumerate(segments):
            if segment.endswith("+}"):
                ok = len(wanted) > i
                params[segment[1:-2]] = "/".join(wanted[i:])
                break
            if i >= len(wanted):
                ok = False
                break
            if segment.startswith("{"):
                params[segment[1:-1]] = wanted[i]
            elif segment != wanted[i]:
                ok = False
                break
        else:
            ok = ok and len(segments) == len(wanted)
        if ok and (best is None or _rank(route) < best[0]):
            best = (_rank(route), route, params)
    return (best[1].path, best[2]) if best else None


class Gateway:
    def __init__(self, stack: Stack, hosts: dict[str, FunctionHost]) -> None:
        self.stack = stack
        self.routes = stack.routes()
        self.hosts = hosts
        self.stage = stack.stage()
        self._authorizer = hosts[stack.authorizer_function()]

    def gateway_response(self, response_type: str) -> HttpAnswer:
        status, body, headers = self.stack.gateway_response(response_type)
        return HttpAnswer(status, {"Content-Type": "application/json", **headers}, body.encode())

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str) -> HttpAnswer:
        scope = next((v for k, v in headers.items() if k.lower() == fault_scope.HEADER.lower()), None)
        with fault_scope.serving(scope):  # the authorizer's AWS calls and the function's
            return self._handle(method, target, headers, body, source_ip)

    def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str) -> HttpAnswer:
        split = urlsplit(target)
        found = match(self.routes, split.path)
        if found is None:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN")
        resource, params = found
        candidates = [r for r in self.routes if r.path == resource]
        route = next((r for r in candidates if r.method == method), None) or \
            next((r for r in candidates if r.method == "ANY"), None)
        if route is None:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN")

        lower = {k.lower(): v for k, v in headers.items()}
        authorizer: dict[str, Any] | None = None
        identity: dict[str, Any] = {"sourceIp": source_ip, "userAgent": lower.get("user-agent")}
        if route.auth == "iam":
            url = f"http://{lower.get('host', '127.0.0.1')}{target}"
            refusal = sigv4.check(method, url, lower, body, region=self.stack.region)
            if refusal:
                return self.gateway_response(refusal)
            identity.update(accessKey=sigv4.LOCAL_CREDENTIALS.access_key, userArn=sigv4.LOCAL_USER_ARN,
                            caller=sigv4.LOCAL_USER_ARN)
        elif route.auth == "session":
            outcome = self._authorize(method, route, lower.get("authorization", ""))
            if isinstance(outcome, HttpAnswer):
                return outcome
            authorizer = outcome

        event = self._event(method, split.path, split.query, headers, body, route, params, identity, authorizer)
        try:
            result = self.hosts[route.function].invoke_in_time(event)
        except FunctionTimedOut:  # API Gateway stops waiting at the integration's timeout
            return self.gateway_response("INTEGRATION_TIMEOUT")
        except Exception:  # what API Gateway does when the function fails
            return json_answer(502, {"error": {"code": "internal_error", "message": "Internal server error"}})
        return self._answer(result)

    def _method_arn(self, method: str, route: Route) -> str:
        return (f"arn:aws:execute-api:{self.stack.region}:{self.stack.account}:local/{self.stage}/{method}"
                f"{route.path}")

    def _authorize(self, method: str, route: Route, header: str) -> HttpAnswer | dict[str, Any]:
        if not header.strip():
            return self.gateway_response("UNAUTHORIZED")
        try:
            policy = self._authorizer.invoke_in_time({"type": "TOKEN", "authorizationToken": header,
                                                      "methodArn": self._method_arn(method, route)})
        except Exception as exc:
            return self.gateway_response("UNAUTHORIZED" if str(exc) == "Unauthorized" else "AUTHORIZER_FAILURE")
        statements = policy.get("policyDocument", {}).get("Statement", [])
        allowed = any(s.get("Effect") == "Allow" for s in statements) and \
            not any(s.get("Effect") == "Deny" for s in statements)
        if not allowed:
            return self.gateway_response("ACCESS_DENIED")
        return {"principalId": policy.get("principalId"), **policy.get("context", {})}

    def _event(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes, route: Route,
               params: dict[str, str], identity: dict[str, Any], authorizer: dict[str, Any] | None,
               ) -> dict[str, Any]:
        multi_query = parse_qs(query, keep_blank_values=True)
        try:
            text, encoded = (body.decode(), False) if body else (None, False)
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        now = datetime.now(UTC)
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": dict(headers),
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": self.stack.account,
                "apiId": "local",
                "resourceId": route.path,
                "resourcePath": route.path,
                "httpMethod": method,
                "path": f"/{self.stage}{path}",
                "stage": self.stage,
                "protocol": "HTTP/1.1",
                "requestId": str(uuid.uuid4()),
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "identity": identity,
                "authorizer": authorizer,
            },
            "body": text,
            "isBase64Encoded": encoded,
        }

    @staticmethod
    def _answer(result: dict[str, Any]) -> HttpAnswer:
        headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name] = ", ".join(str(v) for v in values)
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
        return HttpAnswer(int(result.get("statusCode", 200)), headers, raw)
