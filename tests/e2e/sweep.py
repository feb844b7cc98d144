"""The fault sweep's machinery (tests/e2e/test_fault_sweep.py, docs/fault-sweep.md).

A *case* is one request of one flow, sent from a fresh state with one DynamoDB fault armed
at one call position of that request (api.md, "Local stack only"):

- ``503`` variant: ``{"operation": "*", "count": 50, "skip": k}``: the k-th DynamoDB call
  of the request and every later one fail; the request must then succeed (it could do
  without them) or answer 503 with ``Retry-After`` (rules.md, "Failures"), and the same
  request sent again (disarmed, same body, same ``Idempotency-Key``) must succeed;
- ``after`` variant: ``{"operation": <a write>, "count": 1, "after": true, "skip": k}``:
  the k-th such write takes effect and its answer is lost once; the request must never
  answer 500, and what it did must be counted once (rules.md, "Retries and answers that
  were lost").

Each fault carries a scope of its own and the request under test the matching
``X-Local-Fault-Scope`` header, so only that request (not the preparation, nor anything in
the background) uses the fault. k walks 0, 1, 2, ... until the request no longer reaches
the fault: it is still armed, untouched, after the request.

The results of a run are written as JSON (``RESULTS``) and rendered into
docs/fault-sweep.md by ``python tests/e2e/fault_sweep_report.py``.
"""
from __future__ import annotations

import contextlib
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from people import user_body

from securelogin.crypto.ocra import ocra

if TYPE_CHECKING:
    from conftest import Answer

SCOPE_HEADER = "X-Local-Fault-Scope"
KEY_HEADER = "Idempotency-Key"
WRITE_OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems")
# Farther than any request of the service walks (docs/aws-calls.md: 13 calls at most).
MAX_POSITIONS = 40
# DynamoDB Streams signs as "dynamodb" too: a stream reader in the background is not the request's.
STREAM_OPERATIONS = {"DescribeStream", "GetShardIterator", "GetRecords", "ListStreams"}
REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "build" / "fault-sweep.json"

SUCCESS, RETRIED = "success", "503-then-success"
UNFAULTED = "with no fault reached"


# ------------------------------------------------------------------ an Api whose checks may wait

class SweepApi:
    """conftest's ``Api`` (the e2e fixtures' client: answers held to the OpenAPI document),
    whose document checks may wait while a case's answers are classified."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.base_url = stack.base_url
        self.held: list[tuple[str, str, Answer]] | None = None  # answers whose document check waits
        self.outbox_mark = 0  # the outbox's length when the case's request was first sent

    @contextlib.contextmanager
    def holding_checks(self) -> Iterator[list[tuple[str, str, Answer]]]:
        """The requests sent inside are not held to the document at once: the sweep first
        classifies what they answered (a 500 is a finding, not a crash), then checks them."""
        self.held = []
        try:
            yield self.held
        finally:
            self.held = None

    def document_check(self, held: list[tuple[str, str, Answer]]) -> None:
        for method, path, answer in held:
            self.stack.check(method, path, answer)

    def outbox(self) -> list[dict[str, Any]]:
        return self.stack.outbox()

    def __call__(self, method: str, path: str, body: Any = None, token: str | None = None, signed: bool = False,
                 raw: bytes | None = None, headers: dict[str, str] | None = None) -> Answer:
        answer = self.stack(method, path, body, token=token, signed=signed, raw=raw, headers=headers,
                            check=self.held is None)
        if self.held is not None:
            self.held.append((method, path, answer))
        return answer

    def calls_made(self) -> int:
        return len(self("GET", "/_local/aws-calls").body["calls"])

    def dynamodb_calls_since(self, mark: int) -> list[str]:
        calls = self("GET", "/_local/aws-calls").body["calls"][mark:]
        return [c["operation"] for c in calls
                if c["service"] == "dynamodb" and c["operation"] not in STREAM_OPERATIONS]

    def armed(self) -> list[dict[str, Any]]:
        return self("GET", "/_local/faults").body["faults"]

    def disarm(self) -> None:
        assert self("DELETE", "/_local/faults").status == 204


# ------------------------------------------------------------------ what a case is and how it ended

@dataclass
class Case:
    flow: str
    variant: str  # "503" or "after <Operation>"
    k: int
    operation: str | None  # the DynamoDB operation the fault hit, read from /_local/aws-calls
    outcome: str  # SUCCESS, RETRIED, or "FAIL"
    first: str  # the first answer: "200", "503 service_unavailable", ...
    retry: str | None = None  # the retry's answer, after a 503
    detail: str = ""  # why a case failed

    @property
    def failed(self) -> bool:
        return self.outcome not in (SUCCESS, RETRIED)

    def line(self) -> str:
        if self.detail.startswith(UNFAULTED):
            return f"{self.flow}: {self.first} {self.detail}"
        retry = f", retry {self.retry}" if self.retry else ""
        return f"{self.flow} [{self.variant}] k={self.k} ({self.operation}): {self.first}{retry}: {self.detail}"


@dataclass
class Sweep:
    """One flow swept with one variant: its cases, and how many positions its request has."""
    flow: str
    title: str
    request: str
    variant: str
    cases: list[Case] = field(default_factory=list)  # one per position the fault reached
    calls: list[str] = field(default_factory=list)  # the DynamoDB calls of the request, unfaulted
    unfaulted: Case | None = None  # the last run, which reached no fault, when it failed all the same

    @property
    def failures(self) -> list[Case]:
        return [c for c in self.cases if c.failed] + ([self.unfaulted] if self.unfaulted else [])

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def said(answer: Answer) -> str:
    return f"{answer.status} {answer.code}" if answer.code else str(answer.status)


# ------------------------------------------------------------------ flows

class Refused(AssertionError):
    """A check of the state after a case that does not hold."""


class NotPrepared(Exception):
    """The state a case starts from could not be made (with no fault armed)."""


def expect(condition: object, message: str) -> None:
    if not condition:
        raise Refused(message)


@dataclass
class Flow:
    """One request of a flow: ``prepare`` makes a fresh state (with no fault armed),
    ``send`` sends the request under test with the given headers, ``status`` is its success,
    ``check`` holds the state afterwards to what one success must have left (it raises
    AssertionError otherwise)."""
    name: str
    title: str
    request: str  # "POST /v1/login", for the page
    prepare: Callable[[SweepApi], Any]
    send: Callable[[SweepApi, Any, dict[str, str]], Answer]
    status: int
    check: Callable[[SweepApi, Any, Answer], None]


def run_case(api: SweepApi, flow: Flow, variant: str, k: int, fault: dict[str, Any]) -> tuple[Case, bool, list[str]]:
    """One case: fresh state, the fault at position k, the request, perhaps its retry, the
    checks. Returns the case, whether the request reached the fault, and the DynamoDB calls
    the request made (the first attempt's)."""
    try:
        state = flow.prepare(api)
    except AssertionError as failure:  # no fault is armed yet: the service fails without one
        raise NotPrepared(str(failure).splitlines()[0][:300] if str(failure) else repr(failure)) from failure
    scope = f"sweep-{secrets.token_hex(8)}"
    key = f"sweep-{secrets.token_urlsafe(16)}"
    armed = {**fault, "skip": k, "scope": scope} if k else {**fault, "scope": scope}
    assert api("POST", "/_local/faults", armed).status == 200
    mark = api.calls_made()
    api.outbox_mark = len(api.outbox())
    try:
        with api.holding_checks() as held:
            first = flow.send(api, state, {KEY_HEADER: key, SCOPE_HEADER: scope})
        calls = api.dynamodb_calls_since(mark)
        left = [f for f in api.armed() if f.get("scope") == scope]
    finally:
        api.disarm()
    reached = not (left and left[0]["count"] == fault["count"])
    if not reached:
        operation = None
    elif fault["operation"] == "*":
        operation = calls[k] if len(calls) > k else None  # sweep() settles it over every run
    else:  # the (k+1)-th call of that operation
        operation = f"{fault['operation']} #{k + 1}"
    case = Case(flow.name, variant, k, operation, "FAIL", said(first))
    try:
        answer = first
        if first.status == 503 and reached:
            retry_after = first.headers.get("retry-after", "")
            expect(first.code in ("service_unavailable", "delivery_failed"), f"a 503 {first.code}")
            expect(retry_after.isdigit() and int(retry_after) >= 1, f"a 503 with Retry-After {retry_after!r}")
            with api.holding_checks() as held_retry:
                answer = flow.send(api, state, {KEY_HEADER: key})
            case.retry = said(answer)
            expect(answer.status == flow.status, f"the retry answered {said(answer)}")
            api.document_check(held_retry)
        else:
            expect(first.status == flow.status, f"answered {said(first)}")
        api.document_check(held)
        flow.check(api, state, answer)
    except AssertionError as failure:  # Refused, or an answer the OpenAPI document does not declare
        case.detail = str(failure).splitlines()[0][:300] if str(failure) else type(failure).__name__
        if not reached:
            case.detail = f"{UNFAULTED}: {case.detail}"
        return case, reached, calls
    case.outcome = RETRIED if first.status == 503 else SUCCESS
    return case, reached, calls


def sweep(api: SweepApi, flow: Flow, variant: str, fault: dict[str, Any]) -> Sweep:
    """Every position of ``flow``'s request that ``fault`` can reach, in turn, until the
    request no longer reaches it. That last run, with no fault, is kept only when it failed."""
    result = Sweep(flow.name, flow.title, flow.request, variant)
    observed: list[tuple[int, list[str]]] = []
    for k in range(MAX_POSITIONS):
        try:
            case, reached, calls = run_case(api, flow, variant, k, fault)
        except NotPrepared as failure:
            result.unfaulted = Case(flow.name, variant, k, None, "FAIL", "-",
                                    detail=f"{UNFAULTED}: preparing the case failed: {failure}")
            return result
        observed.append((k, calls))
        if not reached:
            result.unfaulted = case if case.failed else None
            break
        result.cases.append(case)
    else:
        result.cases.append(Case(flow.name, variant, MAX_POSITIONS, None, "FAIL", "-",
                                 detail=f"still reached the fault after {MAX_POSITIONS} positions"))
    if fault["operation"] == "*":  # one call a position: the request made as many as the fault reached
        result.calls = settled_calls(observed, len(result.cases))
        for case in result.cases:
            case.operation = result.calls[case.k] if case.k < len(result.calls) else None
    else:
        result.calls = observed[-1][1]
    return result


def settled_calls(observed: list[tuple[int, list[str]]], positions: int) -> list[str]:
    """The request's DynamoDB calls, one a position, as most runs saw them.

    The call log is the embedded AWS's, of every caller: a call of the outbox's consumer (which
    carries no scope, so no fault hits it) may land among the request's own. Position j is voted
    on by each run whose fault was at j or later (before it, the request ran as without faults)."""
    settled = []
    for j in range(positions):
        votes = Counter(calls[j] for k, calls in observed if k >= j and len(calls) > j)
        settled.append(votes.most_common(1)[0][0] if votes else "?")
    return settled


def fault_503() -> dict[str, Any]:
    return {"service": "dynamodb", "operation": "*", "error": "InternalServerError", "count": 50}


def fault_after(operation: str) -> dict[str, Any]:
    return {"service": "dynamodb", "operation": operation, "error": "InternalServerError", "count": 1, "after": True}


# ------------------------------------------------------------------ people, devices and sessions

CARD_SEED = "5a" * 32
CARD_PIN = "3927"
CARD_SUITE = "OCRA-1:HOTP-SHA256-8:QN06-PSHA1"
APP_PIN = "7Q!x2"


def new_user(api: SweepApi, **over: Any) -> dict[str, Any]:
    body = user_body("sweep", **over)
    created = api("POST", "/v1/admin/users", body, signed=True)
    assert created.status == 201, created
    return body


def latest_code(api: SweepApi, phone: str, digits: int) -> str:
    """The code of the newest message to ``phone`` that carries one of ``digits`` digits."""
    for message in reversed(api.outbox()):
        if message["to"] != phone:
            continue
        found = re.findall(rf"(?<!\d)\d{{{digits}}}(?!\d)", message["body"])
        if found:
            return found[0]
    raise AssertionError(f"no {digits}-digit code was sent to {phone}")


def add_device(api: SweepApi, user: dict[str, Any], type_: str = "dsc_plus") -> dict[str, Any]:
    body = {"type": type_, "seed_hex": CARD_SEED, "pin": CARD_PIN} if type_ == "dsc_plus" else {"type": type_}
    added = api("POST", f"/v1/admin/users/{user['username']}/devices", body, signed=True)
    assert added.status == 201, added
    return added.body


def card_response(challenge: Answer) -> str:
    return ocra(CARD_SUITE, bytes.fromhex(CARD_SEED), challenge.body["challenge"]["challenge_code"], pin=CARD_PIN)


def index_response(card: dict[str, Any], challenge: Answer) -> str:
    first, second = challenge.body["challenge"]["indices"]
    return card["card"][first] + card["card"][second]


def start_login(api: SweepApi, user: dict[str, Any]) -> Answer:
    started = api("POST", "/v1/login", {"username": user["username"], "password": user["password"],
                                        "client": {"platform": "portal"}})
    assert started.status == 200, started
    return started


def device_of(started: Answer, type_: str) -> str:
    return next(d["device_id"] for d in started.body["devices"] if d["type"] == type_)


def sms_session(api: SweepApi, user: dict[str, Any]) -> str:
    started = start_login(api, user)
    login_id = started.body["login_id"]
    challenged = api("POST", f"/v1/login/{login_id}/challenge", {"device_id": device_of(started, "sms")})
    assert challenged.status == 200, challenged
    done = api("POST", f"/v1/login/{login_id}/verify", {"response": latest_code(api, user["phones"][0], 6)})
    assert done.status == 200, done
    return done.body["session_token"]


def card_session(api: SweepApi, user: dict[str, Any], card_id: str) -> str:
    login_id = start_login(api, user).body["login_id"]
    challenged = api("POST", f"/v1/login/{login_id}/challenge", {"device_id": card_id})
    assert challenged.status == 200, challenged
    done = api("POST", f"/v1/login/{login_id}/verify", {"response": card_response(challenged)})
    assert done.status == 200, done
    return done.body["session_token"]


def app_enrolment() -> dict[str, Any]:
    from ib_key_app import IbKeyApp
    return IbKeyApp().enrolment(pin=APP_PIN)


def start_activation(api: SweepApi, user: dict[str, Any]) -> tuple[str, str]:
    started = api("POST", "/v1/activation/sms", {"username": user["username"], "password": user["password"],
                                                 "phone": user["phones"][0]})
    assert started.status == 202, started
    return started.body["activation_id"], latest_code(api, user["phones"][0], 8)


def ib_key_session(api: SweepApi, user: dict[str, Any], device: dict[str, Any]) -> Answer:
    """A login answered with the app's offline OCRA response (its secret from the activation)."""
    login_id = start_login(api, user).body["login_id"]
    challenged = api("POST", f"/v1/login/{login_id}/challenge",
                     {"device_id": device["device_id"], "method": "challenge_response"})
    assert challenged.status == 200, challenged
    response = ocra(device["ocra_suite"], bytes.fromhex(device["ocra_secret_hex"]),
                    challenged.body["challenge"]["challenge_code"])
    return api("POST", f"/v1/login/{login_id}/verify", {"response": response})


def audit_types(api: SweepApi, username: str) -> list[str]:
    trail = api("GET", f"/v1/admin/users/{username}/audit?limit=500", signed=True)
    assert trail.status == 200, trail
    return [e["type"] for e in trail.body["events"]]


def audit_events(api: SweepApi, username: str, type_: str) -> list[dict[str, Any]]:
    trail = api("GET", f"/v1/admin/users/{username}/audit?limit=500", signed=True)
    assert trail.status == 200, trail
    return [e for e in trail.body["events"] if e["type"] == type_]


def one_event(api: SweepApi, username: str, type_: str, about: dict[str, Any] | None = None,
              **fields: Any) -> dict[str, Any]:
    """The one audit event of ``type_`` (about what ``about`` names, e.g. a device type) in the
    user's trail: none, or two, fail. It must carry ``fields`` (e.g. the operator's reason)."""
    events = [e for e in audit_events(api, username, type_)
              if all(e.get(name) == value for name, value in (about or {}).items())]
    expect(len(events) == 1, f"{len(events)} {type_} audit events" + (f" about {about}" if about else ""))
    for name, value in fields.items():
        expect(events[0].get(name) == value, f"{type_} with {name} {events[0].get(name)!r}, not {value!r}")
    return events[0]


# How long a notice may take to arrive (an outbox delivers it after the change, normally within
# seconds). Only a notice that never comes waits this long; nothing here measures the time.
NOTICE_WAIT_S = 15.0


def notices(api: SweepApi, phone: str, phrase: str, since: int) -> list[dict[str, Any]]:
    return [m for m in api.outbox()[since:]
            if m["to"] == phone and m["channel"] == "sms" and "code" not in m and phrase in m["body"].lower()]


def one_notice(api: SweepApi, phone: str, phrase: str) -> None:
    """Exactly one notice (an SMS with no code, saying ``phrase``) reached ``phone`` since the
    case's request was first sent: none from an attempt that did not commit, one from the change."""
    deadline = time.monotonic() + NOTICE_WAIT_S
    while not (sent := notices(api, phone, phrase, api.outbox_mark)) and time.monotonic() < deadline:
        time.sleep(0.2)
    expect(len(sent) == 1, f"{len(sent)} notices \"{phrase}\" (within {NOTICE_WAIT_S:.0f} s)")


def devices(api: SweepApi, username: str, type_: str) -> list[dict[str, Any]]:
    seen = api("GET", f"/v1/admin/users/{username}", signed=True)
    assert seen.status == 200, seen
    return [d for d in seen.body["devices"] if d["type"] == type_]
