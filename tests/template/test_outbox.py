"""template.yaml's outbox and fault injection: the table's stream and the event that reads it
(its filter, retries, dead-letter queue), the consumer's own least-privilege role, the
alarms on it, and the FIS experiment with the extension every function then runs."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
from templatekit import ACCOUNT, REGION, Resolver, iam_allows, listed, role_statements, translated

from securelogin.adapters.table import OutboxItem
from securelogin.observability import Metric
from securelogin_local.streams import check_pattern, matches
from securelogin_local.template import PROJECT_ROOT, Stack, load_template

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = sorted(n for n, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function")
EVENT = RESOURCES["OutboxFunction"]["Properties"]["Events"]["Outbox"]
TABLE_ARN = "arn:aws:Table"
DLQ_ARN = "arn:aws:OutboxDeadLetterQueue"
LAYER = f"arn:aws:lambda:{REGION}:211125607513:layer:aws-fis-extension-arm64:9"
WITH_FIS = {"FisLambdaExtensionLayerArn": LAYER}


def stream_record(event_name: str, pk: str) -> dict[str, Any]:
    return {"eventName": event_name, "eventSource": "aws:dynamodb",
            "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": "MESSAGE"}}, "SequenceNumber": "1"}}


# ------------------------------------------------------------------ the stream and its event


def test_the_table_streams_keys_only():
    """The consumer reads each message as it claims it: no item's contents sit in the stream."""
    assert RESOURCES["Table"]["Properties"]["StreamSpecification"] == {"StreamViewType": "KEYS_ONLY"}
    assert EVENT["Type"] == "DynamoDB"
    assert EVENT["Properties"]["Stream"] == {"Fn::GetAtt": ["Table", "StreamArn"]}


def test_the_event_retries_from_the_first_failed_message_for_a_bounded_time():
    props = EVENT["Properties"]
    assert props["StartingPosition"] == "TRIM_HORIZON"  # nothing written before the mapping is skipped
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert 1 <= props["BatchSize"] <= 10
    assert 1 < props["ParallelizationFactor"] <= 10
    assert 10 <= props["MaximumRetryAttempts"] <= 100  # never -1: a stuck message would block its shard a day
    assert 600 <= props["MaximumRecordAgeInSeconds"] <= 24 * 3600
    assert "MaximumBatchingWindowInSeconds" not in props  # no wait: a notice goes out in seconds


def test_the_filter_lets_through_the_insert_of_an_outbox_message_only():
    (only,) = EVENT["Properties"]["FilterCriteria"]["Filters"]
    pattern = json.loads(only["Pattern"])
    check_pattern(pattern)  # the local stack implements it
    assert pattern["dynamodb"]["Keys"]["pk"]["S"] == [{"prefix": OutboxItem.PREFIX}]  # the code's key
    assert matches(pattern, stream_record("INSERT", f"{OutboxItem.PREFIX}0123abcd"))
    for name, pk in (("MODIFY", "OUTBOX#0123abcd"), ("REMOVE", "OUTBOX#0123abcd"), ("INSERT", "USER#alice"),
                     ("INSERT", "SESSION#0123"), ("INSERT", "outbox#0123")):
        assert not matches(pattern, stream_record(name, pk)), (name, pk)


def test_what_the_consumer_gives_up_on_goes_to_an_encrypted_queue_kept_14_days():
    mapping = translated()["Resources"]["OutboxFunctionOutbox"]
    assert mapping["Type"] == "AWS::Lambda::EventSourceMapping"
    assert mapping["Properties"]["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": ["OutboxDeadLetterQueue", "Arn"]}}}
    queue = RESOURCES["OutboxDeadLetterQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    props = queue["Properties"]
    assert props["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props


def test_the_consumer_is_where_the_template_says_and_hands_records_back_before_its_timeout():
    spec = Stack.offline(TEMPLATE).functions()["OutboxFunction"]
    module, _ = spec.handler.split(".")
    source = (spec.code_uri / f"{module}.py").read_text()
    reserve = int(re.search(r"^RESERVE_MS = (\d+)", source, re.MULTILINE).group(1))
    assert 0 < reserve < 1000 * spec.timeout_s
    assert spec.code_uri == PROJECT_ROOT / "functions" / "outbox"


# ------------------------------------------------------------------ least privilege


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return translated()


def outbox_statements(cfn: dict[str, Any]) -> list[dict[str, Any]]:
    return role_statements(cfn, "OutboxFunction", refs={"AlertsTopic": f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"})


def test_the_consumer_has_a_role_of_its_own_and_no_managed_stream_policy(cfn):
    assert RESOURCES["OutboxFunction"]["Properties"]["Role"] == {"Fn::GetAtt": ["OutboxFunctionRole", "Arn"]}
    trust = RESOURCES["OutboxFunctionRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
    # SAM's AWSLambdaDynamoDBExecutionRole reads every stream of the account: no role has it.
    assert "AWSLambdaDynamoDBExecutionRole" not in json.dumps(cfn)


def test_the_consumer_reads_and_marks_messages_reads_its_stream_and_writes_its_queue_only(cfn):
    statements = outbox_statements(cfn)
    for action in ("dynamodb:GetItem", "dynamodb:UpdateItem"):
        assert iam_allows(statements, action, TABLE_ARN, {"dynamodb:LeadingKeys": ["OUTBOX#0a1b"]})
        # a user's items, a session, a kept answer: out of its reach
        for other in ("USER#alice", "SESSION#0a1b", "IDEMPOTENCY#0a1b"):
            assert not iam_allows(statements, action, TABLE_ARN, {"dynamodb:LeadingKeys": [other]}), other
    for action in ("dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan",
                   "dynamodb:TransactWriteItems", "kms:Decrypt", "kms:GenerateDataKey", "sms-voice:SendVoiceMessage"):
        assert not iam_allows(statements, action, TABLE_ARN), action
        assert not iam_allows(statements, action, "arn:aws:DataKey"), action
    assert iam_allows(statements, "dynamodb:GetRecords", f"{TABLE_ARN}/stream/2026-12-06T00:00:00.000")
    assert not iam_allows(statements, "dynamodb:GetRecords", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/x/stream/y")
    assert iam_allows(statements, "sqs:SendMessage", DLQ_ARN)
    assert not iam_allows(statements, "sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:another-queue")
    assert {a for s in statements if s["Effect"] == "Allow" for a in listed(s["Action"])
            if a.startswith("sqs:")} == {"sqs:SendMessage"}


# ------------------------------------------------------------------ alarms


def alarm(name: str) -> dict[str, Any]:
    found = RESOURCES[name]
    assert found["Type"] == "AWS::CloudWatch::Alarm"
    props = found["Properties"]
    assert props["AlarmActions"] == [{"Ref": "AlertsTopic"}] and props["TreatMissingData"] == "notBreaching"
    return props


def test_a_batch_in_the_dead_letter_queue_pages_at_once():
    props = alarm("OutboxDeadLetterAlarm")
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == (
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum")
    assert props["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["OutboxDeadLetterQueue",
                                                                                  "QueueName"]}}]
    assert (props["ComparisonOperator"], props["Threshold"], props["EvaluationPeriods"]) == (
        "GreaterThanThreshold", 0, 1)


def test_deliveries_failing_minute_after_minute_page_on_the_services_own_metric():
    props = alarm("OutboxDeliveryFailedAlarm")
    assert (props["Namespace"], props["MetricName"]) == ("SecureLogin", Metric.OUTBOX_FAILED.value)
    assert props["Dimensions"] == [{"Name": "service", "Value": "securelogin"}]
    assert props["DatapointsToAlarm"] == props["EvaluationPeriods"] >= 3  # sustained, not one failure


def test_messages_late_by_more_than_a_minute_page():
    props = alarm("OutboxLagAlarm")
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == ("AWS/Lambda", "IteratorAge", "Maximum")
    assert props["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "OutboxFunction"}}]
    assert props["Threshold"] == 60_000


def test_every_metric_the_service_counts_is_on_the_dashboard():
    body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    shown = set(re.findall(r'\["SecureLogin", "(\w+)"', body))
    assert shown == {metric.value for metric in Metric}
    assert "${OutboxDeadLetterQueue.QueueName}" in body and '"IteratorAge", "FunctionName", "${OutboxFunction}"' in body


# ------------------------------------------------------------------ fault injection (FIS)

FIS_RESOURCES = {"FisConfigBucket", "FisConfigBucketPolicy", "FisExtensionReadsItsConfiguration", "FaultInjectionRole",
                 "FaultInjectionExperiment"}


@pytest.mark.parametrize(("layer", "made"), [("", False), (LAYER, True)])
def test_fault_injection_exists_only_with_the_extensions_layer(layer, made):
    parameter = TEMPLATE["Parameters"]["FisLambdaExtensionLayerArn"]
    assert parameter["Default"] == "" and re.fullmatch(parameter["AllowedPattern"], layer)
    assert Resolver(TEMPLATE, FisLambdaExtensionLayerArn=layer).condition("HasFisExtension") is made
    assert {n for n, r in RESOURCES.items() if r.get("Condition") == "HasFisExtension"} == FIS_RESOURCES
    assert TEMPLATE["Outputs"]["FaultInjectionExperimentId"]["Condition"] == "HasFisExtension"
    for name, spec in Stack.offline(TEMPLATE, {"FisLambdaExtensionLayerArn": layer}).functions().items():
        fis = {k: v for k, v in spec.environment.items() if k.startswith(("AWS_FIS_", "AWS_LAMBDA_EXEC"))}
        assert set(fis) == ({"AWS_FIS_CONFIGURATION_LOCATION", "AWS_LAMBDA_EXEC_WRAPPER"} if made else set()), name
        if made:
            assert fis["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/aws-fis/bootstrap"
            assert fis["AWS_FIS_CONFIGURATION_LOCATION"].endswith("/FisConfigs/")


@pytest.mark.parametrize("value", ["arn:aws:lambda:us-east-1:211125607513:layer:aws-fis-extension-arm64",
                                   "aws-fis-extension", "arn:aws:s3:::bucket", " " + LAYER])
def test_the_layer_parameter_takes_a_layer_versions_arn_only(value):
    assert not re.fullmatch(TEMPLATE["Parameters"]["FisLambdaExtensionLayerArn"]["AllowedPattern"], value)


@pytest.mark.parametrize(("parameters", "runs"), [({}, False), (WITH_FIS, True)])
def test_every_function_runs_the_extension_when_it_is_given(parameters, runs):
    cfn = translated(**parameters)
    resolve = Resolver(cfn, **parameters)
    for name in FUNCTIONS:
        layers = resolve(cfn["Resources"][name]["Properties"]["Layers"])
        assert len(layers) == 1 + runs and (LAYER in layers) is runs, name


def experiment() -> dict[str, Any]:
    return RESOURCES["FaultInjectionExperiment"]["Properties"]


def test_the_experiment_fails_invocations_and_delays_them_with_fis_lambda_actions():
    actions = experiment()["Actions"]
    assert {a["ActionId"] for a in actions.values()} == {"aws:lambda:invocation-error",
                                                         "aws:lambda:invocation-add-delay"}
    for name, action in actions.items():
        params = action["Parameters"]
        assert re.fullmatch(r"PT\d+M", params["duration"]), name
        assert 0 < int(params["invocationPercentage"]) <= 100, name
        assert set(action["Targets"]) == {"Functions"} and action["Targets"]["Functions"] in experiment()["Targets"]
        if action["ActionId"] == "aws:lambda:invocation-error":
            assert params["preventExecution"] in ("true", "false")
        else:
            delay = int(params["startupDelayMilliseconds"])
            assert 0 < delay < 1000 * int(TEMPLATE["Globals"]["Function"]["Timeout"])
    lost = actions["ApiAnswersLost"]["Parameters"]
    assert lost["preventExecution"] == "false"  # the writes happen, the answer is lost
    assert int(lost["invocationPercentage"]) <= 10
    assert actions["OutboxDown"]["Parameters"]["preventExecution"] == "true"
    assert actions["ApiCallsHang"]["StartAfter"] == ["ApiAnswersLost"]  # never two actions on one function at once


def test_the_experiment_targets_the_functions_that_use_the_table_by_arn():
    targets = experiment()["Targets"]
    for target in targets.values():
        assert target["ResourceType"] == "aws:lambda:function" and target["SelectionMode"] == "ALL"
        assert "ResourceTags" not in target  # by ARN: no tag:GetResources for the role
    named = {arn["Fn::GetAtt"][0] for t in targets.values() for arn in t["ResourceArns"]}
    assert named == set(FUNCTIONS) - {"AuthorizerFunction", "FallbackFunction", "DocsFunction"}
    assert [a["Fn::GetAtt"][0] for a in targets["OutboxConsumer"]["ResourceArns"]] == ["OutboxFunction"]


def test_the_experiment_stops_on_the_apis_5xx_alarm_and_on_a_dead_letter():
    stops = experiment()["StopConditions"]
    assert {"Source": "aws:cloudwatch:alarm", "Value": {"Fn::GetAtt": ["ApiServerErrorsAlarm", "Arn"]}} in stops
    assert {"Source": "aws:cloudwatch:alarm", "Value": {"Fn::GetAtt": ["OutboxDeadLetterAlarm", "Arn"]}} in stops
    assert RESOURCES["ApiServerErrorsAlarm"]["Properties"]["MetricName"] == "5XXError"
    assert experiment()["ExperimentOptions"] == {"AccountTargeting": "single-account",
                                                 "EmptyTargetResolutionMode": "fail"}


def test_fis_may_only_read_its_targets_and_write_the_faults_where_the_extension_reads_them():
    cfn = translated(**WITH_FIS)
    resolve = Resolver(cfn, **WITH_FIS)
    role = resolve(cfn["Resources"]["FaultInjectionRole"]["Properties"])
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "fis.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert "ManagedPolicyArns" not in role
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    targets = {arn for t in resolve(experiment()["Targets"]).values() for arn in t["ResourceArns"]}
    for arn in targets:
        assert iam_allows(statements, "lambda:GetFunction", arn), arn
    assert not iam_allows(statements, "lambda:GetFunction", "arn:aws:AuthorizerFunction")
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert iam_allows(statements, action, "arn:aws:FisConfigBucket/FisConfigs/x.json")
        assert not iam_allows(statements, action, "arn:aws:FisConfigBucket/other/x.json")
    assert not iam_allows(statements, "s3:GetObject", "arn:aws:FisConfigBucket/FisConfigs/x.json")
    granted = {a for s in statements for a in listed(s["Action"])}
    assert granted == {"lambda:GetFunction", "s3:PutObject", "s3:DeleteObject"}


def test_each_function_may_only_read_the_faults_under_the_configuration_prefix():
    cfn = translated(**WITH_FIS)
    policy = Resolver(cfn, **WITH_FIS)(cfn["Resources"]["FisExtensionReadsItsConfiguration"]["Properties"])
    roles = set(policy["Roles"])
    assert roles == {f"<{cfn['Resources'][f]['Properties']['Role']['Fn::GetAtt'][0]}>" for f in FUNCTIONS}
    statements = policy["PolicyDocument"]["Statement"]
    assert iam_allows(statements, "s3:GetObject", "arn:aws:FisConfigBucket/FisConfigs/x.json")
    assert not iam_allows(statements, "s3:GetObject", "arn:aws:FisConfigBucket/elsewhere.json")
    assert iam_allows(statements, "s3:ListBucket", "arn:aws:FisConfigBucket", {"s3:prefix": "FisConfigs/a"})
    assert not iam_allows(statements, "s3:ListBucket", "arn:aws:FisConfigBucket", {"s3:prefix": "other/"})
    assert not iam_allows(statements, "s3:PutObject", "arn:aws:FisConfigBucket/FisConfigs/x.json")


def test_the_configuration_bucket_is_private_encrypted_and_tls_only():
    bucket = RESOURCES["FisConfigBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    (deny,) = RESOURCES["FisConfigBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
