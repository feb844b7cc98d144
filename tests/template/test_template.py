"""template.yaml: it transforms, it is least-privilege, and it agrees with the code."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from templatekit import translated

from securelogin.settings import ARGON2_ENVIRONMENT, Argon2Parameters, Settings
from securelogin_local.template import PROJECT_ROOT, Stack, load_template

TEMPLATE = load_template()
STACK = Stack.offline(TEMPLATE)


@pytest.fixture(scope="module")
def transformed() -> dict:
    return translated()


def function_module(logical_id: str):
    spec = STACK.functions()[logical_id]
    module_name, _ = spec.handler.rsplit(".", 1)  # app.lambda_handler, or docs.app.lambda_handler
    path = spec.code_uri / f"{module_name.replace('.', '/')}.py"
    module_spec = importlib.util.spec_from_file_location(f"template_check_{logical_id}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def code_operations(logical_id: str) -> set[tuple[str, str]]:
    app = getattr(function_module(logical_id), "app", None)
    if app is None:
        return set()
    paths = json.loads(app.get_openapi_json_schema(title="t", version="1")).get("paths", {})
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


def test_the_sam_transform_succeeds_offline(transformed):
    types = {r["Type"] for r in transformed["Resources"].values()}
    assert {"AWS::ApiGateway::RestApi", "AWS::Lambda::Function", "AWS::Lambda::LayerVersion",
            "AWS::DynamoDB::Table", "AWS::KMS::Key"} <= types


def test_functions_are_python_3_12_on_arm64(transformed):
    functions = [r for r in transformed["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert functions
    for function in functions:
        assert function["Properties"]["Runtime"] == "python3.12"
        assert function["Properties"]["Architectures"] == ["arm64"]


def test_admin_routes_need_iam_and_portal_routes_a_session(transformed):
    api = next(r for r in transformed["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi")
    for path, methods in api["Properties"]["Body"]["paths"].items():
        for verb, method in methods.items():
            if verb == "options":  # the CORS preflight: API Gateway answers it (test_security.py)
                continue
            security = {name for entry in method.get("security", []) for name in entry}
            if path.startswith("/v1/admin/"):
                assert security == {"AWS_IAM"}, path
            elif path in ("/v1/me", "/v1/logout"):
                assert security == {"SessionAuthorizer"}, path


def test_no_policy_allows_scan_or_wildcards_on_the_table(transformed):
    def statements():
        for resource in transformed["Resources"].values():
            if resource["Type"] in ("AWS::IAM::Role", "AWS::IAM::ManagedPolicy"):
                documents = [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]
                documents += [resource["Properties"]["PolicyDocument"]] if "PolicyDocument" in resource[
                    "Properties"] else []
                for document in documents:
                    yield from document["Statement"]

    actions = set()
    for statement in statements():
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    assert "dynamodb:Scan" not in actions and "dynamodb:*" not in actions and "*" not in actions
    assert "dynamodb:Query" in actions


def test_the_table_keeps_history_and_expires_what_expires():
    table = TEMPLATE["Resources"]["Table"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_ttl", "Enabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True


def test_every_template_path_is_served_by_its_functions_code():
    by_function: dict[str, set[str]] = {}
    for route in STACK.routes():
        by_function.setdefault(route.function, set()).add(route.path)
    for function, template_paths in by_function.items():
        served = {path for _, path in code_operations(function)}
        if function == "FallbackFunction":
            assert served == set()
            continue
        if function == "DocsFunction":  # the document serves itself without describing itself
            assert template_paths == {"/openapi.json"} and served <= template_paths
            continue
        assert served == template_paths, function


def test_every_route_has_a_sample_event():
    operations = {op for name in STACK.functions() for op in code_operations(name)}
    events = set()
    for path in (PROJECT_ROOT / "events").glob("*.json"):
        event = json.loads(path.read_text())
        if "httpMethod" in event:
            events.add((event["httpMethod"], event["resource"]))
    assert operations <= events, sorted(operations - events)


def test_runtime_dependencies_are_pinned():
    lines = Path(PROJECT_ROOT / "layers/securelogin/requirements.txt").read_text().splitlines()
    requirements = [line for line in lines if line and not line.startswith("#")]
    assert requirements and all("==" in line for line in requirements)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_deployed_functions_hash_with_rfc_9106_parameters(stage):
    """Every function (those that hash passwords and PINs among them) hashes with RFC 9106's
    second recommended option: template.yaml either leaves ARGON2_* unset (the settings'
    defaults) or sets exactly those values. The tests' cheap profile never reaches it."""
    rfc_9106 = Argon2Parameters(time_cost=3, memory_cost_kib=64 * 1024, parallelism=4)
    assert Argon2Parameters() == rfc_9106
    functions = Stack.offline(TEMPLATE, {"Stage": stage}).functions()
    assert {"LoginFunction", "ActivationFunction", "RecoveryFunction", "SharingFunction", "AdminFunction",
            "DevicesFunction"} <= set(functions)
    for name, spec in functions.items():
        set_here = {variable: spec.environment[variable] for variable in ARGON2_ENVIRONMENT.values()
                    if variable in spec.environment}
        assert set_here == {variable: str(getattr(rfc_9106, field)) for field, variable in ARGON2_ENVIRONMENT.items()
                            if variable in set_here}, name
        assert Argon2Parameters.from_environment(spec.environment) == rfc_9106, name
        assert Settings.from_environment(spec.environment).argon2 == rfc_9106, name
