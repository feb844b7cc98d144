"""The OpenAPI document the service serves (GET /openapi.json) against the service itself.

Third parties will read the document with tools; each of these must find it truthful:

0. Security: one request without credentials per operation is refused by the gateway
   (401 ``unauthorized``, 403 ``forbidden``) exactly when the operation declares
   ``session`` or ``sigv4``.
1. Schemathesis derives requests for every operation from the document (the document's
   examples, boundary and invalid values, random valid and invalid ones) and sends them to a
   local stack of this module's own, with real credentials: a SigV4 signature on operations
   whose security is ``sigv4``, a session token on those whose security is ``session``
   (contract_auth.py). Every answer must pass three checks: ``not_a_server_error`` (no 5xx
   but 503, the one api.md allows: AWS failing), ``status_code_conformance`` (the status is
   declared for that operation) and ``response_schema_conformance`` (the body fits the
   declared schema). The run is deterministic (a fixed seed, derandomized Hypothesis, no
   example database) and small (``EXAMPLES_PER_OPERATION`` random cases per operation), so
   it finds the same things every run. A failure shows the operation, the check, the
   answer and a curl command that reproduces it (credentials filtered out).
2. openapi-python-client generates a Python client from the document; the tests import it
   and check that a success answer parses as a typed object and that error answers (400,
   401, 403, 404, 410) parse as the typed error model ``{"error": {"code", "message"}}``.

State: every session-route case uses one shared session token, except the cases of
operations that end a session (``SESSION_ENDING_OPERATIONS``: POST /v1/logout), which each
get a fresh login of a fresh user, so no case can log out the token the others need.
DELETE /v1/devices/{device_id} gets generated ids, which never name the shared user's one
device (and that device is its last, which the service refuses to remove anyway). The users
these tests log in are made for this module, so generated login attempts (which do lock the
usernames they guess: 429 ``too_many_attempts``, a declared answer) never lock them.

Run: ``.venv/bin/pytest tests/e2e/test_contract.py -q``.
"""
from __future__ import annotations

import importlib
import inspect
import json
import re
import secrets
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from contract_auth import Portal, SigV4ForHttpx, SigV4ForRequests
from openapi_python_client.config import ConfigFile
from openapi_python_client.strings import PythonIdentifier
from people import user_body
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

pytestmark = pytest.mark.e2e

# --- the document and the stack that serves it -------------------------------------------


@pytest.fixture(scope="module")
def contract_stack(local_stack):
    """A local stack of this module's own: fuzzing leaves its users and rate counters there."""
    with local_stack() as api:
        yield api


@pytest.fixture(scope="module")
def served_document(contract_stack) -> dict[str, Any]:
    answer = contract_stack("GET", "/openapi.json")
    assert answer.status == 200, answer
    return answer.body


def operation_definition(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    try:
        return document["paths"][path][method.lower()]
    except KeyError:
        pytest.fail(f"the document has no operation {method} {path}")


def security_schemes(document: dict[str, Any], definition: dict[str, Any]) -> set[str]:
    """The names of the security schemes an operation requires (its own ``security``, else
    the document's); empty when it needs no authentication."""
    requirements = definition.get("security", document.get("security", []))
    return {name for requirement in requirements for name in requirement}


# --- 0. security ---------------------------------------------------------------------------

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# What the gateway answers a request without credentials, by the security scheme it lacks.
GATEWAY_REFUSALS = {"session": (401, "unauthorized"), "sigv4": (403, "forbidden")}
PATH_PARAMETER_PLACEHOLDER = "A" * 22


def required_scheme(document: dict[str, Any], definition: dict[str, Any]) -> str | None:
    """The scheme an operation cannot be called without; None when credentials are optional
    (one of its requirements is ``{}``) or not asked for."""
    requirements = definition.get("security", document.get("security", []))
    if not requirements or any(not requirement for requirement in requirements):
        return None
    return next(iter(requirements[0]))


def test_each_operation_declares_the_authentication_the_gateway_enforces(contract_stack, served_document):
    """One request without credentials per operation: the gateway refuses it exactly when
    the document says the operation needs a session or a signature."""
    wrong = []
    for path, item in served_document["paths"].items():
        for method, definition in item.items():
            if method not in HTTP_METHODS:
                continue
            answer = contract_stack(method.upper(), re.sub(r"\{[^}]+\}", PATH_PARAMETER_PLACEHOLDER, path))
            refused_for = next((scheme for scheme, refusal in GATEWAY_REFUSALS.items()
                                if refusal == (answer.status, answer.code)), None)
            declared = required_scheme(served_document, definition)
            if refused_for != declared:
                wrong.append(f"{method.upper()} {path}: the document requires {declared or 'nothing'}; "
                             f"without credentials the answer was {answer.status} {answer.code}")
    assert not wrong, "\n".join(wrong)


# --- 1. schemathesis ----------------------------------------------------------------------

SEED = 20261121
EXAMPLES_PER_OPERATION = 6
CONTRACT_CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# api.md: "When AWS fails, the answer is 503 ... No other 5xx is ever answered." A 503 is still
# checked by the other two checks: it must be declared and have the error shape.
ALLOWED_STATUSES = ["2xx", "3xx", "4xx", "503"]
SCHEMATHESIS_CONFIG = {
    "seed": SEED,
    "suppress-health-check": ["all"],
    "generation": {"max-examples": EXAMPLES_PER_OPERATION, "deterministic": True, "database": "none",
                   "no-shrink": True},
    # Phases: `examples` sends the document's examples; `coverage` derives its cases from the
    # schemas (boundary values, each required field missing, wrong types, methods the path
    # does not declare), deterministically; `fuzzing` draws EXAMPLES_PER_OPERATION random
    # cases, valid and invalid. `stateful` (chains of operations) is left for later.
    "phases": {"stateful": {"enabled": False}},
    "checks": {"not_a_server_error": {"expected-statuses": ALLOWED_STATUSES}},
}
SESSION_ENDING_OPERATIONS = {("POST", "/v1/logout")}


@dataclass
class Credentials:
    """What each generated case is sent with, chosen by the security its operation declares."""

    portal: Portal
    shared_session_token: str

    def for_case(self, case: schemathesis.Case) -> dict[str, Any]:
        """Keyword arguments of ``case.call_and_validate``: a requests auth that signs the
        final request, or an ``Authorization: Bearer`` header, or nothing."""
        document = case.operation.schema.raw_schema
        schemes = security_schemes(document, case.operation.definition.raw)
        unknown = schemes - {"sigv4", "session"}
        if unknown:
            pytest.fail(f"{case.operation.label}: unknown security schemes {sorted(unknown)}")
        if "sigv4" in schemes:
            return {"auth": SigV4ForRequests()}
        if "session" in schemes:
            return {"headers": {"Authorization": f"Bearer {self._session_token_for(case)}"}}
        return {}

    def _session_token_for(self, case: schemathesis.Case) -> str:
        if (case.method.upper(), case.operation.path) not in SESSION_ENDING_OPERATIONS:
            return self.shared_session_token
        # A user per session too: logging one user in again within minutes meets the SMS
        # resend limit (429 resend_too_soon).
        return self.portal.log_in(self.portal.create_user("logout"))


@pytest.fixture(scope="module")
def credentials(contract_stack) -> Credentials:
    portal = Portal(contract_stack.base_url)
    return Credentials(portal, portal.log_in(portal.create_user("shared")))


@pytest.fixture(scope="module")
def served_schema(contract_stack, served_document):
    config = schemathesis.Config.from_dict(SCHEMATHESIS_CONFIG)
    return schemathesis.openapi.from_url(f"{contract_stack.base_url}/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("served_schema")


@pytest.fixture(autouse=True)
def node_id_for_schemathesis(request):
    """schemathesis 4.32.5's lazy schemas read and write ``item._nodeid``, which pytest 9.2
    no longer has (it keeps ``_id``): give the item one for schemathesis to use."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@schema.parametrize()
def test_every_operation_answers_as_its_document_says(case: schemathesis.Case, credentials: Credentials):
    case.call_and_validate(checks=CONTRACT_CHECKS, **credentials.for_case(case))


@pytest.mark.parametrize("balance_usd", [1e-131, 5e-324])
def test_a_balance_below_dynamodbs_smallest_number_is_not_a_server_error(contract_stack, balance_usd):
    """Found by the fuzzing above: POST /v1/admin/users answered 500 to a balance the schema
    allows (minimum 0) but DynamoDB cannot store (non-zero magnitude below 1E-130). Pinned
    here so that it does not depend on which examples the generator happens to draw."""
    answer = contract_stack("POST", "/v1/admin/users", user_body("tiny") | {"balance_usd": balance_usd},
                            signed=True)
    assert answer.status < 500, answer
    assert answer.status == 201 or answer.code == "invalid_request", answer


# --- 2. openapi-python-client -------------------------------------------------------------

CLIENT_PACKAGE = "securelogin_contract_client"


@dataclass
class GeneratedClient:
    """The package openapi-python-client made from the served document, and a way to call
    an operation of it by method and path (found through the document's operationId)."""

    package: types.ModuleType
    document: dict[str, Any]
    base_url: str
    generator_output: str

    def module_of(self, method: str, path: str) -> types.ModuleType:
        operation_id = operation_definition(self.document, method, path).get("operationId")
        assert operation_id, f"{method} {path} has no operationId"
        module_name = PythonIdentifier(operation_id, ConfigFile().field_prefix)
        api_dir = Path(self.package.__file__).parent / "api"
        found = sorted(api_dir.glob(f"*/{module_name}.py"))
        assert found, f"no module {module_name}.py generated for {method} {path} ({operation_id})"
        tag = found[0].parent.name
        return importlib.import_module(f"{self.package.__name__}.api.{tag}.{module_name}")

    def call(self, method: str, path: str, *, body: dict[str, Any] | None = None, signed: bool = False,
             token: str | None = None, **path_parameters: str) -> Any:
        """The ``Response`` of the generated ``sync_detailed``, from a client that raises
        ``UnexpectedStatus`` on a status the document does not declare."""
        function = self.module_of(method, path).sync_detailed
        arguments: dict[str, Any] = dict(path_parameters)
        if body is not None:
            arguments["body"] = body_model(function).from_dict(body)
        if token is not None:
            client = self.package.AuthenticatedClient(base_url=self.base_url, token=token,
                                                      raise_on_unexpected_status=True)
        else:
            client = self.package.Client(base_url=self.base_url, raise_on_unexpected_status=True,
                                         httpx_args={"auth": SigV4ForHttpx()} if signed else {})
        errors = importlib.import_module(f"{self.package.__name__}.errors")
        try:
            return function(client=client, **arguments)
        except errors.UnexpectedStatus as undeclared:
            problem = (f"status {undeclared.status_code} is not declared; "
                       f"body {undeclared.content.decode(errors='replace')}")
        except (KeyError, TypeError, ValueError) as unparsable:
            problem = f"the generated client could not parse the answer: {unparsable!r}"
        pytest.fail(f"{method} {path}: {problem}", pytrace=False)


def body_model(function: Callable[..., Any]) -> Any:
    """The generated model class of an operation's ``body`` parameter."""
    annotation = inspect.signature(function, eval_str=True).parameters["body"].annotation
    candidates = [annotation, *getattr(annotation, "__args__", ())]
    return next(c for c in candidates if hasattr(c, "from_dict"))


@pytest.fixture(scope="module")
def generated_client(contract_stack, served_document, tmp_path_factory) -> Iterator[GeneratedClient]:
    workdir = tmp_path_factory.mktemp("openapi_client")
    document_path = workdir / "openapi.json"
    document_path.write_text(json.dumps(served_document))
    config_path = workdir / "config.json"
    # No post hooks: the default ones run ruff over the output, which we do not need to import it.
    config_path.write_text(json.dumps({"package_name_override": CLIENT_PACKAGE, "post_hooks": []}))
    generator = Path(sys.executable).with_name("openapi-python-client")
    generated = subprocess.run(  # noqa: S603
        [generator, "generate", "--path", document_path, "--config", config_path, "--meta", "none",
         "--output-path", workdir / CLIENT_PACKAGE], capture_output=True, text=True, timeout=300, check=False)
    output = generated.stdout + generated.stderr
    assert generated.returncode == 0, f"openapi-python-client failed:\n{output}"
    sys.path.insert(0, str(workdir))
    try:
        package = importlib.import_module(CLIENT_PACKAGE)
        yield GeneratedClient(package, served_document, contract_stack.base_url, output)
    finally:
        sys.path.remove(str(workdir))
        for name in [n for n in sys.modules if n == CLIENT_PACKAGE or n.startswith(f"{CLIENT_PACKAGE}.")]:
            del sys.modules[name]


def assert_typed_error(parsed: Any, code: str) -> None:
    """``parsed`` is a generated model of ``{"error": {"code", "message"}}``, not a dict or None."""
    assert parsed is not None, "the client parsed nothing (no schema for this status?)"
    error = getattr(parsed, "error", None)
    assert error is not None and not isinstance(error, dict), \
        f"{type(parsed).__name__} has no typed `error` field: {parsed!r}"
    assert error.code == code, f"error.code is {error.code!r}, expected {code!r}"
    assert isinstance(error.message, str) and error.message


@pytest.fixture(scope="module")
def client_user(contract_stack) -> dict[str, Any]:
    """A user of the client tests alone, so wrong passwords sent here lock nobody else."""
    return Portal(contract_stack.base_url).create_user("client")


def test_the_client_generates_without_warnings(generated_client):
    assert "warning" not in generated_client.generator_output.lower(), generated_client.generator_output


def test_create_user_answers_a_typed_object(generated_client):
    user = user_body("typed")
    answer = generated_client.call("POST", "/v1/admin/users", body=user, signed=True)
    assert answer.status_code == 201, answer.content
    assert answer.parsed is not None, "the client parsed nothing"
    assert getattr(answer.parsed, "username", None) == user["username"], \
        f"{type(answer.parsed).__name__} has no typed `username`: {answer.parsed!r}"


def test_a_wrong_password_parses_as_the_error_model(generated_client, client_user):
    answer = generated_client.call("POST", "/v1/login", body={
        "username": client_user["username"], "password": "not-the-password", "client": {"platform": "portal"}})
    assert answer.status_code == 401, answer.content
    assert_typed_error(answer.parsed, "invalid_credentials")


UNKNOWN_LOGIN_ID = secrets.token_urlsafe(16)

ERROR_ANSWERS = [
    pytest.param("GET", "/v1/login/{login_id}", {"login_id": "too-short"}, {}, 400, "invalid_request",
                 id="400 malformed login id"),
    pytest.param("GET", "/v1/login/{login_id}", {"login_id": UNKNOWN_LOGIN_ID}, {}, 410, "login_expired",
                 id="410 unknown login id"),
    pytest.param("POST", "/v1/login/{login_id}/verify", {"login_id": UNKNOWN_LOGIN_ID},
                 {"body": {"response": "123456"}}, 410, "login_expired", id="410 verify of an unknown login"),
    pytest.param("GET", "/v1/me", {}, {}, 401, "unauthorized", id="401 session route without a token"),
    pytest.param("GET", "/v1/admin/users/{username}", {"username": "nobody-here"}, {"signed": True}, 404,
                 "user_not_found", id="404 unknown user"),
    pytest.param("GET", "/v1/admin/users/{username}", {"username": "nobody-here"}, {}, 403, "forbidden",
                 id="403 admin route without a signature"),
]


@pytest.mark.parametrize(("method", "path", "path_parameters", "options", "status", "code"), ERROR_ANSWERS)
def test_error_answers_parse_as_the_error_model(generated_client, method, path, path_parameters, options, status,
                                                code):
    answer = generated_client.call(method, path, **options, **path_parameters)
    assert answer.status_code == status, answer.content
    assert_typed_error(answer.parsed, code)
