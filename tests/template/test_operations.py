"""template.yaml for the operator: one stage, logs with a retention, Powertools settings, the
alerts topic and its alarms, the dashboard and the WAF in front of the API."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
from templatekit import Resolver, listed, translated

from securelogin_local.template import Stack, load_template

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = sorted(n for n, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function")
# The service's EMF metrics (namespace SecureLogin, dimension service=securelogin).
BUSINESS_METRICS = {"LoginSucceeded", "LoginFailed", "DeviceLocked", "PasswordLockout", "SmsSent", "SmsFailed",
                    "VoiceSent", "VoiceFailed", "PushSent", "PushFailed", "PushApproved", "PushDenied",
                    "WithdrawalAuthorized", "WithdrawalRefused", "ServiceUnavailable", "OutboxDelivered",
                    "OutboxDeliveryFailed"}
SERVICE_DIMENSION = [{"Name": "service", "Value": "securelogin"}]


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {n: r for n, r in template["Resources"].items() if r["Type"] == kind}


def alarm_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """An alarm's metrics (one metric, or each MetricStat of a metric math alarm)."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return [{"Namespace": props["Namespace"], "MetricName": props["MetricName"],
                 "Dimensions": props.get("Dimensions", [])}]
    return [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]


# ------------------------------------------------------------------ the stage


def test_openapi_3_so_sam_makes_no_stage_named_stage():
    assert str(TEMPLATE["Globals"]["Api"]["OpenApiVersion"]).startswith("3.")
    cfn = translated()
    assert list(of_type(cfn, "AWS::ApiGateway::Stage")) == ["ApiStage"]
    assert cfn["Resources"]["ApiStage"]["Properties"]["StageName"] == {"Ref": "Stage"}
    for deployment in of_type(cfn, "AWS::ApiGateway::Deployment").values():
        assert "StageName" not in deployment["Properties"]  # swagger 2.0 would add a stage "Stage"


# ------------------------------------------------------------------ logs


def test_every_function_logs_to_a_group_of_its_own_with_the_retention_parameter():
    groups = of_type(TEMPLATE, "AWS::Logs::LogGroup")
    used = set()
    for name in FUNCTIONS:
        props = RESOURCES[name]["Properties"]
        function_name = props["FunctionName"]["Fn::Sub"]
        assert function_name.startswith("${AWS::StackName}-"), name
        group = props["LoggingConfig"]["LogGroup"]["Ref"]  # the function is made after its group
        assert groups[group]["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{function_name}"}, name
        assert groups[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        used.add(group)
    assert len(used) == len(FUNCTIONS)
    names = {props["FunctionName"]["Fn::Sub"] for props in (RESOURCES[n]["Properties"] for n in FUNCTIONS)}
    assert len(names) == len(FUNCTIONS)


def test_the_retention_parameter_takes_what_cloudwatch_logs_accepts():
    parameter = TEMPLATE["Parameters"]["LogRetentionDays"]
    assert parameter["AllowedValues"] == [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                                          1827, 2192, 2557, 2922, 3288, 3653]
    assert parameter["Default"] in parameter["AllowedValues"]


def access_log_format() -> dict[str, str]:
    stage = translated()["Resources"]["ApiStage"]["Properties"]
    setting = stage["AccessLogSetting"]
    assert setting["DestinationArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${ApiAccessLogGroup}"}
    line = setting["Format"]
    assert "\n" not in line
    # $context.error.messageString is a quoted JSON string already.
    return json.loads(line.replace("$context.error.messageString", '"$context.error.messageString"'))


def test_api_access_logs_are_one_json_line_with_what_operators_need():
    fields = access_log_format()
    wanted = {"requestId": "$context.requestId", "ip": "$context.identity.sourceIp",
              "caller": "$context.identity.caller", "user": "$context.identity.user",
              "httpMethod": "$context.httpMethod", "resourcePath": "$context.resourcePath",
              "status": "$context.status", "responseLength": "$context.responseLength",
              "integrationLatency": "$context.integration.latency", "authorizerError": "$context.authorizer.error",
              "authorizerStatus": "$context.authorizer.status", "wafResponseCode": "$context.wafResponseCode"}
    assert wanted.items() <= fields.items()
    # Never the path itself: it carries flow ids that let whoever reads them finish the flow.
    assert not [v for v in fields.values() if v in ("$context.path", "$context.requestOverride.path")]
    group = RESOURCES["ApiAccessLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_api_gateway_has_its_account_logging_role_unless_the_account_has_one():
    parameter = TEMPLATE["Parameters"]["ManageApiGatewayAccount"]
    assert parameter["Default"] == "true" and parameter["AllowedValues"] == ["true", "false"]
    account = RESOURCES["ApiGatewayAccount"]
    assert account["Type"] == "AWS::ApiGateway::Account"
    assert account["Condition"] == "ManagesApiGatewayAccount"
    role = RESOURCES[account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]]
    assert role["Condition"] == "ManagesApiGatewayAccount"
    assert role["Properties"]["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "apigateway.amazonaws.com"}]
    # The API (and so its stage, which logs) is made after the setting, when the stack makes it.
    cfn = translated()
    assert cfn["Resources"]["Api"]["DependsOn"] == "ApiGatewayAccountReady"
    ready = cfn["Resources"]["ApiGatewayAccountReady"]["Metadata"]
    assert ready == {"AccountSetting": {"Fn::If": ["ManagesApiGatewayAccount", {"Ref": "ApiGatewayAccount"}, "none"]}}
    for value, made in (("true", True), ("false", False)):
        assert Resolver(TEMPLATE, ManageApiGatewayAccount=value).condition("ManagesApiGatewayAccount") is made


# ------------------------------------------------------------------ Powertools and tracing


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_function_names_the_metrics_namespace_and_never_traces_answers_or_errors(stage):
    for name, spec in Stack.offline(TEMPLATE, {"Stage": stage}).functions().items():
        env = spec.environment
        assert env["POWERTOOLS_SERVICE_NAME"] == "securelogin", name
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "SecureLogin", name
        assert env["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false", name
        assert env["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false", name
    for function in of_type(translated(), "AWS::Lambda::Function").values():
        assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}


# ------------------------------------------------------------------ alerts


def test_the_alerts_topic_is_encrypted_under_a_key_cloudwatch_may_use():
    topic = RESOURCES["AlertsTopic"]
    assert topic["Type"] == "AWS::SNS::Topic"
    key_ref = topic["Properties"]["KmsMasterKeyId"]
    # Not alias/aws/sns: its policy cannot let CloudWatch in, and alarms could not publish.
    assert key_ref == {"Ref": "AlertsKey"}
    statements = RESOURCES["AlertsKey"]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(listed(cloudwatch[0]["Action"]))
    policy = RESOURCES["AlertsTopicPolicy"]["Properties"]
    assert policy["Topics"] == [{"Ref": "AlertsTopic"}]
    publish = [s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "sns:Publish"]
    assert publish[0]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


@pytest.mark.parametrize(("email", "subscribed"), [("", False), ("oncall@example.com", True)])
def test_alarms_are_emailed_only_to_an_address_given(email, subscribed):
    subscription = RESOURCES["AlertEmailSubscription"]
    assert subscription["Condition"] == "HasAlertEmail"
    assert subscription["Properties"] == {"TopicArn": {"Ref": "AlertsTopic"}, "Protocol": "email",
                                          "Endpoint": {"Ref": "AlertEmail"}}
    assert TEMPLATE["Parameters"]["AlertEmail"]["Default"] == ""
    assert re.fullmatch(TEMPLATE["Parameters"]["AlertEmail"]["AllowedPattern"], email)
    assert Resolver(TEMPLATE, AlertEmail=email).condition("HasAlertEmail") is subscribed


def test_every_alarm_notifies_the_alerts_topic_when_it_fires_and_when_it_clears():
    alarms = of_type(TEMPLATE, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 4 + len(FUNCTIONS)
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlertsTopic"}], name
        assert alarm["Properties"]["OKActions"] == [{"Ref": "AlertsTopic"}], name
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching", name


def test_api_5xx_alarm_watches_this_api_stage():
    cfn = translated()
    alarm = cfn["Resources"]["ApiServerErrorsAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/ApiGateway", "5XXError", "Sum")
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert dimensions == {"ApiName": cfn["Resources"]["Api"]["Properties"]["Name"], "Stage": {"Ref": "ApiStage"}}


def test_the_authorizer_pages_on_throttles_not_on_the_tokens_it_refuses():
    """A refused token is a Lambda error (the TOKEN authorizer refuses by raising); the
    authorizer's real faults are 503s at the API (AUTHORIZER_FAILURE), which the 5XX alarm sees."""
    watched = [m["MetricName"] for alarm in of_type(TEMPLATE, "AWS::CloudWatch::Alarm").values()
               for m in alarm_metrics(alarm)
               if m["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "AuthorizerFunction"}}]]
    assert watched == ["Throttles"]
    responses = TEMPLATE["Resources"]["Api"]["Properties"].get("GatewayResponses") or \
        TEMPLATE["Globals"]["Api"]["GatewayResponses"]
    assert responses["AUTHORIZER_FAILURE"]["StatusCode"] == 503


@pytest.mark.parametrize("function", [f for f in FUNCTIONS if f != "AuthorizerFunction"])
def test_every_function_has_an_alarm_on_its_errors_and_throttles(function):
    covering = []
    for name, alarm in of_type(TEMPLATE, "AWS::CloudWatch::Alarm").items():
        metrics = {m["MetricName"] for m in alarm_metrics(alarm) if m["Namespace"] == "AWS/Lambda"
                   and m["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]}
        if metrics == {"Errors", "Throttles"}:
            covering.append(name)
    assert len(covering) == 1, (function, covering)
    props = RESOURCES[covering[0]]["Properties"]
    expression = next(m for m in props["Metrics"] if "Expression" in m)
    assert expression.get("ReturnData", True) and {"errors", "throttles"} <= set(re.findall(r"\w+", expression[
        "Expression"]))


def test_table_throttles_alarm_covers_the_table_and_its_index():
    metrics = alarm_metrics(RESOURCES["TableThrottlesAlarm"])
    table = [{"Name": "TableName", "Value": {"Ref": "Table"}}]
    index = [*table, {"Name": "GlobalSecondaryIndexName", "Value": "gsi1"}]
    seen = {(m["MetricName"], json.dumps(m["Dimensions"])) for m in metrics if m["Namespace"] == "AWS/DynamoDB"}
    assert seen == {(metric, json.dumps(dims)) for metric in ("ReadThrottleEvents", "WriteThrottleEvents")
                    for dims in (table, index)}


def metric_math(expression: str, **values: float) -> float:
    """CloudWatch's IF and FILL for single values, enough to check an alarm's arithmetic."""
    python = re.sub(r"FILL\((\w+),\s*0\)", r"\1", expression)
    python = re.sub(r"IF\((.+?),\s*(.+),\s*([^,]+)\)$", r"((\2) if (\1) else (\3))", python)
    return eval(python, {}, values)  # noqa: S307 - the template's own expression, in a test


def test_sms_failure_rate_alarm_uses_the_service_metrics_with_a_minimum_volume():
    props = RESOURCES["SmsFailureRateAlarm"]["Properties"]
    by_id = {m["Id"]: m for m in props["Metrics"]}
    assert {m["MetricName"] for m in alarm_metrics(RESOURCES["SmsFailureRateAlarm"])} == {"SmsSent", "SmsFailed"}
    for metric in alarm_metrics(RESOURCES["SmsFailureRateAlarm"]):
        assert metric["Namespace"] == "SecureLogin" and metric["Dimensions"] == SERVICE_DIMENSION
    assert all(m["MetricStat"]["Period"] == 300 for m in by_id.values() if "MetricStat" in m)
    expression = next(m for m in props["Metrics"] if "Expression" in m)["Expression"]
    assert props["ComparisonOperator"] == "GreaterThanThreshold" and props["Threshold"] == 20

    def fires(sent: float, failed: float) -> bool:
        return metric_math(expression, sent=sent, failed=failed) > props["Threshold"]

    assert fires(sent=50, failed=50) and fires(sent=70, failed=30)
    assert not fires(sent=90, failed=10) and not fires(sent=1000, failed=0)
    assert not fires(sent=3, failed=4)  # too few to say


def test_service_unavailable_alarm_fires_only_when_503s_last():
    props = RESOURCES["ServiceUnavailableAlarm"]["Properties"]
    assert (props["Namespace"], props["MetricName"], props["Dimensions"]) == (
        "SecureLogin", "ServiceUnavailable", SERVICE_DIMENSION)
    assert props["EvaluationPeriods"] >= 3 and props["DatapointsToAlarm"] == props["EvaluationPeriods"]


# ------------------------------------------------------------------ dashboard


def dashboard() -> tuple[dict[str, Any], set[str]]:
    body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    names = set(re.findall(r"\$\{([^}]+)\}", body))
    return json.loads(re.sub(r"\$\{([^}]+)\}", r"<\1>", body)), names


def test_the_dashboard_names_this_stacks_api_functions_and_table():
    _, names = dashboard()
    known = set(RESOURCES) | set(TEMPLATE["Parameters"]) | {"AWS::Region", "AWS::StackName"}
    assert {n.split(".")[0] for n in names} <= known
    assert {"Table", "Stage", "AWS::StackName"} | set(FUNCTIONS) <= names


def test_the_dashboard_shows_the_business_api_lambda_and_table_metrics():
    body, _ = dashboard()
    shown: dict[str, set[tuple[str, ...]]] = {}
    for widget in body["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            options = metric[-1] if isinstance(metric[-1], dict) else {}
            names = [m for m in metric if isinstance(m, str)]
            stat = options.get("stat", widget["properties"].get("stat"))
            shown.setdefault(names[0], set()).add((names[1], stat, *names[2:]))
    assert {m for m, *_ in shown["SecureLogin"]} == BUSINESS_METRICS
    assert {tuple(rest) for _, _, *rest in shown["SecureLogin"]} == {("service", "securelogin")}
    api = {(m, s) for m, s, *_ in shown["AWS/ApiGateway"]}
    assert {("Count", "Sum"), ("4XXError", "Sum"), ("5XXError", "Sum"), ("Latency", "p50"), ("Latency", "p99")} <= api
    for metric, stat in (("Errors", "Sum"), ("Throttles", "Sum"), ("Duration", "p99")):
        functions = {rest[1] for m, s, *rest in shown["AWS/Lambda"] if (m, s) == (metric, stat)}
        assert functions == {f"<{f}>" for f in FUNCTIONS}, metric
    table = {m for m, *_ in shown["AWS/DynamoDB"]}
    assert {"ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits", "ReadThrottleEvents",
            "WriteThrottleEvents"} <= table
    alarms = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert {a.removeprefix("<").removesuffix(".Arn>") for a in alarms[0]["properties"]["alarms"]} == set(
        of_type(TEMPLATE, "AWS::CloudWatch::Alarm"))


# ------------------------------------------------------------------ WAF


def waf_rules() -> list[dict[str, Any]]:
    acl = RESOURCES["WebAcl"]["Properties"]
    assert acl["Scope"] == "REGIONAL" and acl["DefaultAction"] == {"Allow": {}}
    assert acl["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True
    return acl["Rules"]


def scope_down(rule: dict[str, Any]) -> str:
    """The URI regex of a rate-based rule's scope-down statement: it counts every method."""
    uri = rule["Statement"]["RateBasedStatement"]["ScopeDownStatement"]["RegexMatchStatement"]
    assert uri["FieldToMatch"] == {"UriPath": {}}
    assert [t["Type"] for t in sorted(uri["TextTransformations"], key=lambda t: t["Priority"])] == [
        "URL_DECODE", "NORMALIZE_PATH"]
    return uri["RegexString"]


def test_waf_rate_limits_per_ip_and_answers_429_in_the_contract_shape():
    acl = RESOURCES["WebAcl"]["Properties"]
    rules = waf_rules()
    assert len({r["Priority"] for r in rules}) == len(rules)
    for rule in rules:
        statement = rule["Statement"]["RateBasedStatement"]
        assert statement["AggregateKeyType"] == "IP" and statement["Limit"] == {"Ref": "WafRateLimit"}
        assert rule["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True
        response = rule["Action"]["Block"]["CustomResponse"]
        assert response["ResponseCode"] == 429
        headers = Resolver(TEMPLATE)(response["ResponseHeaders"])
        assert {h["Name"] for h in headers} == {"Retry-After"} and int(headers[0]["Value"]) > 0
        body = acl["CustomResponseBodies"][response["CustomResponseBodyKey"]]
        assert body["ContentType"] == "APPLICATION_JSON"
        error = json.loads(body["Content"])["error"]
        assert error["code"] == "too_many_requests" and error["message"]
    parameter = TEMPLATE["Parameters"]["WafRateLimit"]
    assert parameter["Type"] == "Number" and parameter["MinValue"] >= 10 and parameter["Default"] >= 100


# The routes that hash a password or send a message without a session, with the stage in front
# (the execute-api host) or not (a custom domain).
EXPENSIVE = ["/v1/login", "/v1/login/L1/challenge", "/v1/login/L1/verify", "/v1/activation/sms",
             "/v1/activation/A1/complete", "/v1/activation/qr/complete", "/v1/recovery", "/v1/recovery/R1/complete",
             "/v1/authenticator/push-responses", "/v1/sharing"]
CHEAP = ["/v1/login/L1", "/v1/me", "/v1/activation/qr", "/v1/withdrawals", "/v1/admin/users", "/openapi.json",
         "/v1/logout", "/v1/sharing/S1/complete", "/v1/devices/dsc-plus", "/v1/loginx", "/v1/recovery/R1"]


def matched_by_waf(path: str) -> bool:
    """Whether a request to ``path`` counts toward a rate rule, whatever its method."""
    return any(re.search(regex, path) for regex in map(scope_down, waf_rules()))


@pytest.mark.parametrize("prefix", ["", "/dev", "/prod"])
def test_waf_counts_the_expensive_unauthenticated_routes_with_or_without_the_stage(prefix):
    for path in EXPENSIVE:
        assert matched_by_waf(prefix + path), prefix + path
        assert matched_by_waf(prefix + path + "/"), prefix + path
    for path in CHEAP:
        assert not matched_by_waf(prefix + path), prefix + path


def test_waf_covers_every_unauthenticated_route_but_polling_the_404_and_the_document():
    routes = {r.path for r in Stack.offline(TEMPLATE).routes() if r.auth == "none"}
    polling = {"/v1/login/{login_id}", "/v1/authenticator/pushes/{push_id}"}
    left = routes - polling - {"/", "/{proxy+}", "/openapi.json"}
    concrete = {re.sub(r"\{[^}]+\}", "X1", path) for path in left}
    assert concrete == {re.sub(r"/[ALR]1/", "/X1/", p) for p in EXPENSIVE if "/qr/" not in p} - {"/v1/sharing"} | {
        "/v1/activation/qr/complete"}
    assert all(matched_by_waf("/dev" + path) for path in concrete)


def test_the_web_acl_is_associated_with_the_api_stage_once_it_exists():
    cfn = translated()
    association = cfn["Resources"]["WebAclAssociation"]["Properties"]
    assert association["WebACLArn"] == {"Fn::GetAtt": ["WebAcl", "Arn"]}
    arn = association["ResourceArn"]["Fn::Sub"]
    # ${ApiStage} is SAM's stage: the reference makes the association wait for it.
    assert arn == "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/${ApiStage}"
    assert cfn["Resources"]["ApiStage"]["Type"] == "AWS::ApiGateway::Stage"
