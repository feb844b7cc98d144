"""template.yaml's permissions and exposure: what each function may do in AWS, the KMS key's
policy, the table's deletion protection, CORS for the portal, and the docs route."""
from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest
from templatekit import ACCOUNT, REGION, Resolver, iam_allows, listed, role_statements, translated

from securelogin_local.template import PROJECT_ROOT, Stack, load_template

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = sorted(n for n, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function")

READ = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"}
WRITE = {"dynamodb:PutItem", "dynamodb:UpdateItem"}
SEAL_AND_OPEN = {"kms:GenerateDataKey", "kms:Decrypt"}
SMS = {"sns:Publish"}
# What Lambda's event source mapping does with a function's role: read the table's stream, and
# send a batch it gave up on to the dead-letter queue.
STREAM_READ = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}
# What each function's code calls, read from its handlers down through runtime.services() to
# the adapters, and checked against the calls the code makes in every flow by
# tests/e2e/test_function_permissions.py. A TransactWriteItems needs the item actions it holds.
# Every function with routes that change state: an Idempotency-Key's claim and kept answer
# (PutItem, GetItem, UpdateItem) and the claim given back after a 5xx (DeleteItem); a kept
# answer that carries a secret is sealed (those functions already seal and open).
KEPT_ANSWERS = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
EXPECTED: dict[str, set[str]] = {
    # SessionStore.get and the device behind the session: GetItem only.
    "AuthorizerFunction": {"dynamodb:GetItem"},
    # Users (a transaction of Puts), devices issued and lost, temporary codes, fulfilled requests,
    # sharing decisions, the audit (Query), pending shares and account users (GSI1); seals
    # identities and seeds; a notice by SMS.
    "AdminFunction": READ | WRITE | KEPT_ANSWERS | SEAL_AND_OPEN | SMS,
    # Password step (lockout Update/Delete), challenges and answers (ConditionCheck on the device),
    # sessions, logout (DeleteItem); SMS, voice and push.
    "LoginFunction": READ | WRITE | {"dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"} | SEAL_AND_OPEN | SMS
    | {"sms-voice:SendVoiceMessage"},
    # Password step, the activation code by SMS (throttle given back on failure: DeleteItem),
    # enrolment with a sealed OCRA secret and a push endpoint.
    "ActivationFunction": READ | WRITE | {"dynamodb:DeleteItem"} | SEAL_AND_OPEN | SMS
    | {"sns:CreatePlatformEndpoint"},
    # As activation, and the challenge on a physical device (ConditionCheck).
    "RecoveryFunction": READ | WRITE | {"dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"} | SEAL_AND_OPEN
    | SMS | {"sns:CreatePlatformEndpoint"},
    # The push, its flow and device, the decision (ConditionCheck of the device as the answer is
    # counted), the number compared under the code-digest key, a notice when denials pause pushes.
    "AuthenticatorFunction": READ | WRITE | KEPT_ANSWERS | {"dynamodb:ConditionCheckItem", "kms:Decrypt"} | SMS,
    # Devices and DSC+ requests (ConditionCheck on the set of devices), seeds opened, the online
    # card sealed, notices.
    "DevicesFunction": READ | WRITE | KEPT_ANSWERS | {"dynamodb:ConditionCheckItem"} | SEAL_AND_OPEN | SMS,
    # The owner's password step, the owner's card answered (opened only), notices.
    # kms:GenerateDataKey: a kept answer that names a share (its id is a capability) is sealed
    "SharingFunction": READ | WRITE | {"dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"} | SEAL_AND_OPEN | SMS,
    # Day totals, challenges (SMS, voice, push; codes made with the code-digest key), the answer.
    "WithdrawalsFunction": READ | WRITE | {"dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"} | SEAL_AND_OPEN
    | SMS | {"sms-voice:SendVoiceMessage"},
    # Profile, limits, the setting and its notice.
    "PortalFunction": READ | WRITE | KEPT_ANSWERS | SMS,
    "FallbackFunction": set(),
    "DocsFunction": set(),
    # The outbox's consumer: a message's claim (UpdateItem), its read when already held or sent
    # (GetItem), its mark or release (UpdateItem), and the SMS or push it is; its stream and
    # dead-letter queue (Lambda's).
    "OutboxFunction": {"dynamodb:GetItem", "dynamodb:UpdateItem"} | SMS | STREAM_READ | {"sqs:SendMessage"},
}
INDEX_QUERIES = {"AdminFunction"}  # an account's users (a push now names its device's partition)
PUSH = {"LoginFunction", "WithdrawalsFunction", "OutboxFunction"}  # the outbox: push withdrawals

TABLE_ARN = "arn:aws:Table"
KEY_ARN = "arn:aws:DataKey"
PHONE = "+15551234567"
ENDPOINT = f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/GCM/securelogin-android/4f1c"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:someone-elses-topic"
ALERTS_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:securelogin-dev-AlertsTopic-1A2B3C"
CONTEXT = {"kms:EncryptionContext:service": "securelogin", "kms:EncryptionContextKeys": ["service"]}
CODE_KEY_CONTEXT = {"kms:EncryptionContext:service": "securelogin", "kms:EncryptionContext:use": "code-digest-key",
                    "kms:EncryptionContextKeys": ["service", "use"]}


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return translated()


def statements_of(cfn: dict[str, Any], function: str) -> list[dict[str, Any]]:
    return role_statements(cfn, function, refs={"AlertsTopic": ALERTS_TOPIC})


def granted(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements if s["Effect"] == "Allow" for a in listed(s["Action"])}


# ------------------------------------------------------------------ per-function IAM


def test_there_are_no_shared_policies_every_function_has_its_own():
    assert not [n for n, r in RESOURCES.items() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    assert set(EXPECTED) == set(FUNCTIONS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_is_granted_exactly_the_actions_its_code_uses(cfn, function):
    statements = statements_of(cfn, function)
    assert granted(statements) == EXPECTED[function]
    role = cfn["Resources"][f"{function}Role"]["Properties"]
    assert role["Path"] == {"Fn::Sub": "/${AWS::StackName}/"}  # the path DataKey's policy names
    assert not [a for a in role.get("ManagedPolicyArns", []) if "LambdaBasicExecutionRole" not in str(a)
                and "AWSXrayWriteOnlyAccess" not in str(a)]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_table_actions_are_on_the_table_and_only_the_back_office_queries_the_index(cfn, function):
    statements = statements_of(cfn, function)
    for action in EXPECTED[function] - STREAM_READ:
        if action.startswith("dynamodb:"):
            assert iam_allows(statements, action, TABLE_ARN), action
    for action in EXPECTED[function] & STREAM_READ:  # this table's stream, whatever its label, and no other
        assert iam_allows(statements, action, f"{TABLE_ARN}/stream/2026-01-01T00:00:00.000"), action
        assert not iam_allows(statements, action, TABLE_ARN), action
        assert not iam_allows(statements, action, "arn:aws:dynamodb:us-east-1:123456789012:table/other/stream/x")
    assert iam_allows(statements, "dynamodb:Query", f"{TABLE_ARN}/index/gsi1") is (function in INDEX_QUERIES)
    assert not iam_allows(statements, "dynamodb:Scan", TABLE_ARN)
    assert not iam_allows(statements, "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/other")


@pytest.mark.parametrize("function", [f for f in FUNCTIONS if "sns:Publish" in EXPECTED[f]])
def test_sms_goes_to_phone_numbers_push_to_endpoints_and_nothing_to_topics(cfn, function):
    statements = statements_of(cfn, function)
    # A Publish to a phone number names the number: IAM sees no ARN.
    assert iam_allows(statements, "sns:Publish", PHONE)
    assert iam_allows(statements, "sns:Publish", ENDPOINT) is (function in PUSH)
    assert not iam_allows(statements, "sns:Publish", TOPIC)
    assert not iam_allows(statements, "sns:Publish", ALERTS_TOPIC)
    assert not iam_allows(statements, "sns:Publish", "arn:aws:sns:eu-west-1:999999999999:endpoint/GCM/x/y")
    denied = [s for s in statements if s["Effect"] == "Deny" and "sns:Publish" in listed(s["Action"])]
    assert denied  # an explicit Deny: a topic policy granting the account cannot let the function in
    if function not in PUSH:
        assert [s["Resource"] for s in denied] == ["arn:aws:sns:*:*:*"]


@pytest.mark.parametrize("function", [f for f in FUNCTIONS if EXPECTED[f] & SEAL_AND_OPEN])
def test_data_keys_only_with_the_service_encryption_context(cfn, function):
    statements = statements_of(cfn, function)
    for action in EXPECTED[function] & SEAL_AND_OPEN:
        assert iam_allows(statements, action, KEY_ARN, CONTEXT), action
        assert iam_allows(statements, action, KEY_ARN, CODE_KEY_CONTEXT), action
        assert not iam_allows(statements, action, KEY_ARN, {}), action
        assert not iam_allows(statements, action, KEY_ARN, {**CONTEXT, "kms:EncryptionContext:service": "x"})
        assert not iam_allows(statements, action, KEY_ARN, {
            **CONTEXT, "kms:EncryptionContext:aws:dynamodb:tableName": "t",
            "kms:EncryptionContextKeys": ["service", "aws:dynamodb:tableName"]})
        assert not iam_allows(statements, action, "arn:aws:kms:us-east-1:123456789012:key/another", CONTEXT)


def test_the_push_endpoints_are_made_under_this_accounts_platform_applications(cfn):
    for function in ("ActivationFunction", "RecoveryFunction"):
        statements = statements_of(cfn, function)
        assert iam_allows(statements, "sns:CreatePlatformEndpoint",
                          f"arn:aws:sns:{REGION}:{ACCOUNT}:app/GCM/securelogin-android")
        assert not iam_allows(statements, "sns:CreatePlatformEndpoint", "arn:aws:sns:us-east-1:999999999999:app/GCM/x")


# ------------------------------------------------------------------ the KMS key


def key_statements() -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in RESOURCES["DataKey"]["Properties"]["KeyPolicy"]["Statement"]}


def test_the_key_policy_lets_administrators_manage_but_not_use_the_key():
    statements = key_statements()
    crypto = re.compile(r"^kms:(\*|Encrypt|Decrypt|ReEncrypt.*|GenerateDataKey.*|CreateGrant|Create\*|Sign|Verify"
                        r"|GenerateMac|VerifyMac|DeriveSharedSecret)$")
    root = {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    for sid, statement in statements.items():
        if statement["Principal"] == root and "Condition" not in statement:
            assert not [a for a in listed(statement["Action"]) if crypto.match(a)], sid
    admin = statements["AccountAdministratorsManageTheKey"]
    assert {"kms:Put*", "kms:ScheduleKeyDeletion", "kms:Enable*"} <= set(admin["Action"])


def test_the_functions_use_the_key_only_with_the_service_encryption_context():
    functions = key_statements()["FunctionsUseDataKeysUnderTheServiceContext"]
    assert set(functions["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    condition = functions["Condition"]
    assert condition["StringEquals"] == {"kms:EncryptionContext:service": "securelogin"}
    assert condition["ForAllValues:StringEquals"] == {"kms:EncryptionContextKeys": ["service", "use"]}
    path = TEMPLATE["Globals"]["Function"]["RolePath"]["Fn::Sub"]
    assert condition["ArnLike"]["aws:PrincipalArn"] == {
        "Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role{path}*"}
    from securelogin.adapters.kms import ENCRYPTION_CONTEXT  # what the code sends
    assert ENCRYPTION_CONTEXT == {"service": "securelogin"}


def test_dynamodb_keeps_using_the_key_for_the_tables_encryption():
    assert RESOURCES["Table"]["Properties"]["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS",
                                                                   "KMSMasterKeyId": {"Ref": "DataKey"}}
    dynamodb = key_statements()["DynamoDbEncryptsTheTable"]
    assert {"kms:Decrypt", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"} <= set(dynamodb["Action"])
    assert dynamodb["Condition"] == {"StringEquals": {
        "kms:ViaService": {"Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"},
        "kms:CallerAccount": {"Ref": "AWS::AccountId"}}}


# ------------------------------------------------------------------ the table


@pytest.mark.parametrize(("stage", "protected"), [("prod", True), ("dev", False)])
def test_the_table_has_deletion_protection_in_prod(stage, protected):
    setting = RESOURCES["Table"]["Properties"]["DeletionProtectionEnabled"]
    assert Resolver(TEMPLATE, Stage=stage)(setting) is protected
    assert RESOURCES["Table"]["DeletionPolicy"] == "Retain"


# ------------------------------------------------------------------ CORS

ORIGIN = "https://portal.example.com"


def cors_view(origin: str) -> tuple[dict[str, Any], dict[str, Any]]:
    cfn = translated(PortalOrigin=origin)
    resolve = Resolver(cfn, PortalOrigin=origin)
    return resolve(cfn["Resources"]["Api"]["Properties"]["Body"]), resolve(cfn["Resources"]["WebAcl"]["Properties"])


def test_the_portal_origin_may_call_the_api_and_preflights_need_no_session():
    body, acl = cors_view(ORIGIN)
    for path, methods in body["paths"].items():
        options = methods["options"]
        assert "security" not in options, path  # no authorizer on the preflight
        integration = options["x-amazon-apigateway-integration"]
        assert integration["type"] == "mock"
        headers = {k.rsplit(".", 1)[1]: v for k, v in integration["responses"]["default"]["responseParameters"].items()}
        assert headers["Access-Control-Allow-Origin"] == f"'{ORIGIN}'", path
        assert set(headers["Access-Control-Allow-Headers"].strip("'").split(",")) == {"Authorization", "Content-Type",
                                                                                      "Idempotency-Key"}
        assert {"GET", "POST", "PUT", "DELETE"} <= set(headers["Access-Control-Allow-Methods"].strip("'").split(","))
        assert int(headers["Access-Control-Max-Age"].strip("'")) > 0
    responses = body["x-amazon-apigateway-gateway-responses"]
    assert {"UNAUTHORIZED", "ACCESS_DENIED", "THROTTLED", "AUTHORIZER_FAILURE", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(
        responses)
    for kind, response in responses.items():
        header = response["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]
        assert header == f"'{ORIGIN}'", kind
    assert responses["THROTTLED"]["responseParameters"]["gatewayresponse.header.Retry-After"] == "'1'"
    for rule in acl["Rules"]:
        headers = {h["Name"]: h["Value"] for h in rule["Action"]["Block"]["CustomResponse"]["ResponseHeaders"]}
        assert headers["Access-Control-Allow-Origin"] == ORIGIN


def test_without_a_portal_origin_no_answer_names_an_origin():
    body, acl = cors_view("")
    for path, methods in body["paths"].items():
        parameters = methods["options"]["x-amazon-apigateway-integration"]["responses"]["default"][
            "responseParameters"]
        assert "method.response.header.Access-Control-Allow-Origin" not in parameters, path
    for kind, response in body["x-amazon-apigateway-gateway-responses"].items():
        assert "gatewayresponse.header.Access-Control-Allow-Origin" not in response.get("responseParameters", {}), kind
    for rule in acl["Rules"]:
        names = {h["Name"] for h in rule["Action"]["Block"]["CustomResponse"]["ResponseHeaders"]}
        assert names == {"Retry-After"}


@pytest.mark.parametrize("origin", ["", ORIGIN])
def test_the_functions_are_told_the_portal_origin(origin):
    for name, spec in Stack.offline(TEMPLATE, {"PortalOrigin": origin}).functions().items():
        assert spec.environment["PORTAL_ORIGIN"] == origin, name


@pytest.mark.parametrize(("origin", "accepted"), [
    ("", True), (ORIGIN, True), ("https://portal.example.com:8443", True), ("http://localhost:3000", True),
    ("*", False), ("https://portal.example.com/", False), ("http://portal.example.com", False),
    ("https://a.com','b", False), ("null", False)])
def test_the_portal_origin_parameter_takes_one_origin(origin, accepted):
    pattern = TEMPLATE["Parameters"]["PortalOrigin"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, origin)) is accepted
    assert TEMPLATE["Parameters"]["PortalOrigin"]["Default"] == ""


# ------------------------------------------------------------------ the docs route


def test_the_docs_function_serves_the_document_without_a_session_or_aws_access(cfn):
    docs = RESOURCES["DocsFunction"]
    props = docs["Properties"]
    assert docs["Metadata"]["BuildMethod"] == "makefile"
    assert (props["CodeUri"], props["Handler"], props["MemorySize"], props["Timeout"]) == (
        "functions/", "docs.app.lambda_handler", 512, 10)
    assert "Policies" not in props
    (event,) = props["Events"].values()
    assert event["Type"] == "Api"
    assert {k: event["Properties"][k] for k in ("Path", "Method", "Auth")} == {
        "Path": "/openapi.json", "Method": "GET", "Auth": {"Authorizer": "NONE"}}
    assert statements_of(cfn, "DocsFunction") == []
    operation = cfn["Resources"]["Api"]["Properties"]["Body"]["paths"]["/openapi.json"]["get"]
    assert operation.get("security", []) in ([], [{"NONE": []}])  # no authorizer
    spec = Stack.offline(TEMPLATE).functions()["DocsFunction"]
    assert (spec.code_uri / "docs" / "app.py").exists()  # where the local stack and Lambda find it


def test_samconfig_deploys_each_environment_with_its_stage():
    config = tomllib.loads((PROJECT_ROOT / "samconfig.toml").read_text())
    parameters = TEMPLATE["Parameters"]
    for environment in ("dev", "prod"):
        overrides = dict(item.split("=", 1) for item in
                         config[environment]["deploy"]["parameters"]["parameter_overrides"].split())
        assert overrides["Stage"] == environment
        assert set(overrides) <= set(parameters)
        if "LogRetentionDays" in overrides:
            assert int(overrides["LogRetentionDays"]) in parameters["LogRetentionDays"]["AllowedValues"]
    # Every parameter has a default, so a deploy with samconfig.toml alone works.
    assert all("Default" in p for p in parameters.values())
