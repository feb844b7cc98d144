"""Creates template.yaml's stateful resources in the embedded AWS, from the template
itself, so the local stack cannot drift from what is deployed."""
from __future__ import annotations

from typing import Any

import boto3

from securelogin_local.template import Stack, load_template

STACK_NAME = "securelogin-local"
# Parameters that name things made outside the stack; locally they are made here.
LOCAL_PLATFORM_APPLICATIONS = {"PushPlatformApplicationIos": "APNS", "PushPlatformApplicationAndroid": "GCM"}


def _client(service: str, endpoint_url: str | None, region: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint_url, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")  # noqa: S106


def _create_table(dynamodb: Any, name: str, props: dict[str, Any]) -> dict[str, str]:
    """Creates the table; its ``Arn`` and, with a stream, its ``StreamArn``."""
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if props.get("StreamSpecification"):  # CloudFormation's has the view type; the API's also says "enabled"
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    table = dynamodb.create_table(**request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    attributes = {"Arn": table["TableArn"]}
    if "LatestStreamArn" in table:
        attributes["StreamArn"] = table["LatestStreamArn"]
    return attributes


# AWS::SQS::Queue properties that are queue attributes of the same name.
QUEUE_ATTRIBUTES = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
                    "VisibilityTimeout", "SqsManagedSseEnabled", "KmsMasterKeyId")


def _create_queue(sqs: Any, stack: Stack, logical_id: str, props: dict[str, Any]) -> dict[str, str]:
    """Creates the queue; its ``Ref`` (the URL), ``Arn`` and ``QueueName``."""
    name = str(stack.resolve(props.get("QueueName", {"Fn::Sub": f"{STACK_NAME}-{logical_id}"})))
    values = {k: stack.resolve(props[k]) for k in QUEUE_ATTRIBUTES if k in props}
    attributes = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()}
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"Ref": url, "Arn": arn, "QueueName": name}


def create_stack(endpoint_url: str | None, parameters: dict[str, str] | None = None,
                 region: str = "us-east-1") -> Stack:
    stack = Stack.offline(load_template(), parameters, region)

    sns = _client("sns", endpoint_url, region)
    for parameter, platform in LOCAL_PLATFORM_APPLICATIONS.items():
        if parameter in stack.template.get("Parameters", {}) and not stack.parameters.get(parameter):
            stack.parameters[parameter] = sns.create_platform_application(
                Name=f"{STACK_NAME}-{platform.lower()}", Platform=platform,
                Attributes={"PlatformCredential": "local", "PlatformPrincipal": "local"})["PlatformApplicationArn"]

    kms = _client("kms", endpoint_url, region)
    for name, spec in stack.resources_of("AWS::KMS::Key").items():
        key = kms.create_key(Description=spec["Properties"].get("Description", name))["KeyMetadata"]
        stack.physical[name] = {"Ref": key["KeyId"], "Arn": key["Arn"]}
    for spec in stack.resources_of("AWS::KMS::Alias").values():
        kms.create_alias(AliasName=stack.resolve(spec["Properties"]["AliasName"]),
                         TargetKeyId=stack.resolve(spec["Properties"]["TargetKeyId"]))

    dynamodb = _client("dynamodb", endpoint_url, region)
    for name, spec in stack.resources_of("AWS::DynamoDB::Table").items():
        table_name = f"{STACK_NAME}-{name}"
        stack.physical[name] = {"Ref": table_name, **_create_table(dynamodb, table_name, spec["Properties"])}

    sqs = _client("sqs", endpoint_url, region)
    for name, spec in stack.resources_of("AWS::SQS::Queue").items():
        stack.physical[name] = _create_queue(sqs, stack, name, spec.get("Properties", {}))
    return stack
