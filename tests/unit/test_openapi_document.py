"""The OpenAPI document: generated from the functions' routes, in step with template.yaml's
routes and authorizers, and kept in docs/openapi.json."""
import re

import pytest

from securelogin.api.openapi import functions_document
from securelogin_local.document import DOCUMENT_PATH, rendered
from securelogin_local.template import PROJECT_ROOT, Stack, load_template

SCHEME_OF_AUTHORIZER = {"iam": "sigv4", "session": "session", "none": None}
# api.md's success statuses other than 200, by operation.
NOT_200 = {"createUser": 201, "issueDevice": 201, "issueTemporaryCode": 201, "logout": 204,
           "startActivationBySms": 202, "completeActivationBySms": 201, "startActivationByQr": 201,
           "completeActivationByQr": 201, "startRecovery": 202, "removeDevice": 204, "requestDscPlus": 201,
           "issueOnlineCard": 201, "startWithdrawal": 201, "startShare": 201, "startStepUp": 201,
           "registerPasskey": 201}


@pytest.fixture(scope="module")
def document():
    return functions_document(PROJECT_ROOT / "functions")


def operations(document):
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            yield path, method, op


def test_docs_openapi_json_is_the_current_document():
    assert DOCUMENT_PATH.read_text() == rendered(), "docs/openapi.json is stale: run make openapi"


def test_every_route_of_the_template_is_described_with_its_authorizer(document):
    routes = Stack.offline(load_template()).routes()
    described = {path: methods for path, methods in document["paths"].items()}
    for route in routes:
        if route.path in ("/", "/{proxy+}", "/openapi.json"):
            continue  # the catch-all answers 404; the document does not describe itself
        assert route.path in described, f"{route.path} is routed but not described"
        for op in described[route.path].values():
            schemes = [name for requirement in op.get("security") or [] for name in requirement]
            expected = SCHEME_OF_AUTHORIZER[route.auth]
            assert schemes == ([expected] if expected else []), (route.path, route.auth, schemes)
    routed = {route.path for route in routes}
    assert set(described) <= routed, f"described but not routed: {set(described) - routed}"


def test_success_statuses_are_api_mds(document):
    for path, method, op in operations(document):
        success = [int(s) for s in op["responses"] if s.startswith("2")]
        assert success == [NOT_200.get(op["operationId"], 200)], (method, path, success)


def test_errors_use_the_error_shape_and_only_idempotency_keys_are_422(document):
    for path, method, op in operations(document):
        if method.lower() in ("post", "put", "delete"):
            assert op["responses"]["422"]["description"] == "idempotency_key_reused", (method, path)
        else:
            assert "422" not in op["responses"], (method, path)
        for status, answer in op["responses"].items():
            if status[0] in "45":
                assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
                assert answer["description"], f"{method} {path} {status} names no error code"
        assert {"400", "415", "429", "503"} <= set(op["responses"]), (method, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_successful_answers_are_typed_and_204_has_no_body(document):
    for path, method, op in operations(document):
        for status, answer in op["responses"].items():
            if status == "204":
                assert "content" not in answer
            elif status.startswith("2"):
                ref = answer["content"]["application/json"]["schema"]["$ref"]
                model = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
                assert model.get("properties"), (method, path, ref)


def test_operations_have_readable_ids_a_summary_and_one_area(document):
    tags = {tag["name"] for tag in document["tags"]}
    seen = set()
    for path, method, op in operations(document):
        assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)*", op["operationId"]), op["operationId"]
        assert op["operationId"] not in seen
        seen.add(op["operationId"])
        assert op["summary"] and not op["summary"].startswith(method.upper()), (method, path)
        assert len(op["tags"]) == 1 and op["tags"][0] in tags, (method, path, op["tags"])


def test_session_routes_answer_401_and_admin_routes_403(document):
    for path, method, op in operations(document):
        schemes = {name for requirement in op.get("security") or [] for name in requirement}
        if "session" in schemes:
            assert "unauthorized" in op["responses"]["401"]["description"], (method, path)
        if "sigv4" in schemes:
            assert "forbidden" in op["responses"]["403"]["description"], (method, path)


def test_the_main_request_bodies_carry_examples(document):
    schemas = document["components"]["schemas"]
    for name in ("LoginBody", "VerifyBody", "CreateUserBody", "WithdrawalBody"):
        assert schemas[name].get("examples"), name


def test_every_request_that_changes_state_takes_an_idempotency_key(document):
    changing = 0
    for path, method, op in operations(document):
        keys = [p for p in op.get("parameters", []) if p["in"] == "header" and p["name"] == "Idempotency-Key"]
        if method.lower() in ("post", "put", "delete"):
            changing += 1
            assert len(keys) == 1 and keys[0]["required"] is False, (method, path)
            assert keys[0]["schema"]["pattern"] == "^[A-Za-z0-9_-]{1,128}$"
            assert "request_in_progress" in op["responses"]["409"]["description"].split(", "), (method, path)
        else:
            assert not keys, (method, path)
            assert "request_in_progress" not in op["responses"].get("409", {}).get("description", ""), (method, path)
    assert changing >= 30
