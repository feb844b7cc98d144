"""The service's own CPU per request: the handlers run in this process (through the local
gateway, authorizer included) against the embedded AWS in another process, so that
``time.process_time()`` of this process counts the service alone: the handlers, the
domain code, and botocore's signing and (de)serialisation of every AWS call, which are the
service's cost in Lambda too. moto's work is in the child, counted apart.

Every AWS call is also seen leaving this process (a wrapper on botocore's HTTP send), for
the calls per request and each call's wait."""
from __future__ import annotations

import cProfile
import os
import pstats
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from securelogin_local.bench import filler, flows
from securelogin_local.bench.aws_child import AwsChild
from securelogin_local.bench.stats import count_calls, summarize

T = TypeVar("T")

_SERVICE_IN_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_ACTION = re.compile(r"(?:^|&)Action=([A-Za-z0-9]+)")

# Request types, in the order of a user's session.
LOGIN_START = "POST /v1/login (password: Argon2id)"
LOGIN_CHALLENGE = "POST /v1/login/{id}/challenge (DSC+)"
LOGIN_VERIFY = "POST /v1/login/{id}/verify (DSC+)"
ME = "GET /v1/me (with the authorizer)"
WITHDRAWAL_CREATE = "POST /v1/withdrawals"
WITHDRAWAL_CHALLENGE = "POST /v1/withdrawals/{id}/challenge (DSC+)"
WITHDRAWAL_VERIFY = "POST /v1/withdrawals/{id}/verify (DSC+)"


@dataclass
class AwsCall:
    service: str
    operation: str
    seconds: float


def describe(headers: Any, body: Any) -> tuple[str, str]:
    """(service, operation) of a botocore request, as the embedded AWS's call log names them."""
    def header(name: str) -> str:
        value = headers.get(name) or ""
        return value.decode() if isinstance(value, bytes) else str(value)

    match = _SERVICE_IN_SCOPE.search(header("Authorization"))
    target = header("X-Amz-Target")
    if target:
        return (match.group(1) if match else "unknown"), target.rsplit(".", 1)[-1]
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
    action = _ACTION.search(text)
    return (match.group(1) if match else "unknown"), (action.group(1) if action else "unknown")


@dataclass
class CallRecorder:
    """Wraps botocore's HTTP send while active: every AWS call and its wall time."""

    calls: list[AwsCall] = field(default_factory=list)

    def __enter__(self) -> CallRecorder:
        from botocore.httpsession import URLLib3Session

        self._session_class = URLLib3Session
        self._send = URLLib3Session.send
        recorder, send = self, self._send

        def timed_send(session: Any, request: Any) -> Any:
            started = time.perf_counter()
            try:
                return send(session, request)
            finally:
                recorder.calls.append(AwsCall(*describe(request.headers, request.body),
                                              time.perf_counter() - started))

        URLLib3Session.send = timed_send  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        self._session_class.send = self._send  # type: ignore[method-assign]


@dataclass
class Samples:
    cpu_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    calls: list[list[AwsCall]] = field(default_factory=list)


class Harness:
    """The functions of template.yaml behind the local gateway, in this process."""

    def __init__(self) -> None:
        from securelogin_local.gateway import FunctionHost, Gateway
        from securelogin_local.resources import create_stack
        from securelogin_local.stack import LOCAL_PARAMETERS, function_environment

        self._saved_environment = dict(os.environ)
        self.aws = AwsChild()
        try:
            stack = create_stack(self.aws.endpoint_url, dict(LOCAL_PARAMETERS))
            os.environ.update(function_environment(stack, self.aws.endpoint_url))
            hosts = {name: FunctionHost(spec, stack.region, stack.account) for name, spec in stack.functions().items()}
            self.gateway = Gateway(stack, hosts)
        except BaseException:
            self.close()
            raise
        self.call = flows.gateway_caller(self.gateway.handle)
        self.recorder = CallRecorder()
        self.samples: dict[str, Samples] = defaultdict(Samples)

    def close(self) -> None:
        self.aws.stop()
        os.environ.clear()
        os.environ.update(self._saved_environment)

    def measure(self, name: str, action: Callable[[], T], record: bool = True) -> T:
        mark = len(self.recorder.calls)
        wall, cpu = time.perf_counter(), time.process_time()
        result = action()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if record:
            sample = self.samples[name]
            sample.cpu_ms.append(cpu * 1000)
            sample.wall_ms.append(wall * 1000)
            sample.calls.append(self.recorder.calls[mark:])
        return result

    def session(self, person: flows.Person, record: bool = True) -> None:
        """One user's session: login (password, card), /v1/me, a withdrawal confirmed by the card."""
        m, call = self.measure, self.call
        login_id = m(LOGIN_START, lambda: flows.login_start(call, person), record)
        answer = m(LOGIN_CHALLENGE, lambda: flows.login_challenge(call, person, login_id), record)
        token = m(LOGIN_VERIFY, lambda: flows.login_verify(call, login_id, answer), record)
        m(ME, lambda: flows.me(call, token), record)
        withdrawal_id = m(WITHDRAWAL_CREATE, lambda: flows.withdrawal_create(call, token), record)
        answer = m(WITHDRAWAL_CHALLENGE, lambda: flows.withdrawal_challenge(call, person, token, withdrawal_id),
                   record)
        m(WITHDRAWAL_VERIFY, lambda: flows.withdrawal_verify(call, token, withdrawal_id, answer), record)

    def verify_only(self, person: flows.Person, around: Callable[[Callable[[], str]], str]) -> str:
        login_id = flows.login_start(self.call, person)
        answer = flows.login_challenge(self.call, person, login_id)
        return around(lambda: flows.login_verify(self.call, login_id, answer))


def package_of(filename: str) -> str:
    """Who a profiled function belongs to: a distribution, the service, or the stdlib."""
    path = filename.replace("\\", "/")
    if "/site-packages/" in path:
        return path.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    for marker, name in (("/layers/securelogin/", "securelogin (the service)"), ("/functions/", "handlers"),
                         ("/tools/securelogin_local/", "local gateway (not in Lambda)")):
        if marker in path:
            return name
    if path == "~":  # a built-in that nothing profiled called
        return "built-ins (C)"
    stdlib = path.split("/lib/python3", 1)
    if len(stdlib) == 2:
        module = stdlib[1].split("/", 1)[1] if "/" in stdlib[1] else stdlib[1]
        module = module.split("/", 1)[0].removesuffix(".py")
        return "stdlib email (parses HTTP headers)" if module == "email" else f"stdlib {module}"
    return path.rsplit("/", 1)[-1]


def cpu_by_package(profile: cProfile.Profile, top: int = 8) -> list[dict[str, Any]]:
    """Shares of the profiled CPU by package (the absolute times are inflated by profiling)."""
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, own, _, callers) in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
        if filename == "~" and callers:  # a built-in: its time goes to the packages that called it
            for (caller_file, _, _), (_, _, from_caller, _) in callers.items():
                totals[package_of(caller_file)] += from_caller
        else:
            totals[package_of(filename)] += own
    whole = sum(totals.values()) or 1.0
    ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return [{"package": name, "share": 100 * seconds / whole} for name, seconds in ranked]


def per_operation(samples: list[list[AwsCall]]) -> dict[str, float]:
    """Median wall ms of each AWS operation over the samples."""
    seen: dict[str, list[float]] = defaultdict(list)
    for calls in samples:
        for call in calls:
            seen[f"{call.service} {call.operation}"].append(call.seconds * 1000)
    return {name: statistics.median(values) for name, values in seen.items()}


def run(iterations: int = 30, warmup: int = 3, profiled: int = 10, scale_items: int = 20_000,
        scale_verifies: int = 5, log: Callable[[str], None] = print) -> dict[str, Any]:
    harness = Harness()
    try:
        with harness.recorder:
            log(f"in-process: embedded AWS at {harness.aws.endpoint_url} (pid {harness.aws.process.pid})")
            person = flows.create_person(harness.call)
            template_person = flows.create_person(harness.call)  # the filler's model: a user with a card
            for _ in range(warmup):
                harness.session(person, record=False)
            aws_cpu, aws_calls = harness.aws.cpu_seconds(), len(harness.recorder.calls)
            for i in range(iterations):
                harness.session(person)
                if (i + 1) % 10 == 0:
                    log(f"in-process: {i + 1}/{iterations} sessions")
            aws_cpu = harness.aws.cpu_seconds() - aws_cpu
            aws_calls = len(harness.recorder.calls) - aws_calls

            profile = cProfile.Profile(time.process_time)

            def profiled_verify(verify: Callable[[], str]) -> str:
                profile.enable()
                try:
                    return verify()
                finally:
                    profile.disable()

            for _ in range(profiled):
                harness.verify_only(person, profiled_verify)

            result: dict[str, Any] = {"iterations": iterations, "requests": []}
            for name, sample in harness.samples.items():
                result["requests"].append({
                    "name": name, "cpu_ms": asdict(summarize(sample.cpu_ms)),
                    "wall_ms": asdict(summarize(sample.wall_ms)),
                    "aws_calls": statistics.fmean(len(c) for c in sample.calls),
                    "calls": count_calls((c.service, c.operation) for c in sample.calls[-1]),
                })
            result["aws_cpu_ms_per_call"] = 1000 * aws_cpu / aws_calls if aws_calls else None
            result["verify_cpu_by_package"] = cpu_by_package(profile)
            result["scale"] = scale(harness, person, template_person, scale_items, scale_verifies, log)
        return result
    finally:
        harness.close()


def scale(harness: Harness, person: flows.Person, template_person: flows.Person, items: int, verifies: int,
          log: Callable[[str], None]) -> dict[str, Any]:
    """A verify's AWS calls, each timed, on the fresh table and with ``items`` more."""
    client = filler.dynamodb(harness.aws.endpoint_url)
    table = filler.table_name(client)
    before = filler.item_count(client, table)
    template = filler.template_items(client, table, template_person.username)
    log(f"in-process: filling {items} items ...")
    seconds, _ = filler.fill(client, table, template, template_person.username, items)
    samples: list[list[AwsCall]] = []
    cpu, wall = [], []

    def timed(verify: Callable[[], str]) -> str:
        mark = len(harness.recorder.calls)
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        try:
            return verify()
        finally:
            cpu.append(1000 * (time.process_time() - started_cpu))
            wall.append(1000 * (time.perf_counter() - started_wall))
            samples.append(harness.recorder.calls[mark:])

    for _ in range(verifies):
        harness.verify_only(person, timed)
    fresh = per_operation(harness.samples[LOGIN_VERIFY].calls)
    filled = per_operation(samples)
    return {
        "items_before": before, "items_added": items, "fill_seconds": seconds,
        "verify_wall_ms_fresh": statistics.median(harness.samples[LOGIN_VERIFY].wall_ms),
        "verify_wall_ms_filled": statistics.median(wall),
        "verify_cpu_ms_filled": statistics.median(cpu),
        "operations": [{"call": name, "ms_fresh": fresh.get(name), "ms_filled": filled.get(name)}
                       for name in dict.fromkeys([*fresh, *filled])],
    }


if __name__ == "__main__":  # a quick look: python -m securelogin_local.bench.inprocess
    import json

    json.dump(run(iterations=5, warmup=1, profiled=3, scale_items=2000, scale_verifies=2), sys.stdout, indent=1)
