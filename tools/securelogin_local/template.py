"""Reads template.yaml: its functions, their API routes and auth, its resources, and the
few intrinsic functions the local stack needs to resolve."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"
# What ``!Ref AWS::NoValue`` resolves to: the property, list item or variable is left out.
NO_VALUE: Any = type("NoValue", (), {"__repr__": lambda self: "AWS::NoValue"})()


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !GetAtt, !Sub, ...)."""


def _construct_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open() as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass


@dataclass(frozen=True)
class Route:
    path: str  # API Gateway resource path, e.g. /v1/login/{login_id}
    method: str  # ANY or an HTTP method
    function: str  # logical id
    auth: str  # "none", "session" or "iam"

    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamEvent:
    """A function's ``Type: DynamoDB`` event (an event source mapping on a table's stream),
    resolved: what the local stack's stream poller (streams.py) does as Lambda would."""
    function: str  # logical id
    table: str  # logical id of the table whose stream it reads
    starting_position: str
    batch_size: int
    parallelization_factor: int
    maximum_retry_attempts: int  # -1: until the record expires
    maximum_record_age_seconds: int  # -1: until the record expires
    bisect_on_error: bool
    reports_item_failures: bool
    filters: tuple[dict[str, Any], ...]  # the FilterCriteria's patterns, parsed
    on_failure: str | None  # logical id of the OnFailure destination


@dataclass
class Stack:
    template: dict[str, Any]
    parameters: dict[str, str]
    physical: dict[str, dict[str, str]]  # logical id -> {"Ref": ..., "Arn": ..., ...}
    region: str = "us-east-1"
    account: str = "123456789012"

    @classmethod
    def offline(cls, template: dict[str, Any], parameters: dict[str, str] | None = None,
                region: str = "us-east-1") -> Stack:
        """The template with its parameters' defaults and a placeholder name and ARN for
        every resource, until real ones are created."""
        defaults = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
        stack = cls(template=template, parameters={**defaults, **(parameters or {})}, physical={}, region=region)
        for name in template["Resources"]:
            stack.physical[name] = {"Ref": f"securelogin-local-{name}",
                                    "Arn": f"arn:aws:local:{region}:{stack.account}:{name}"}
        return stack

    # -------------------------------------------------------------- intrinsics

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not NO_VALUE}
        (name, arg), = value.items()
        if name == "Ref":
            return NO_VALUE if arg == "AWS::NoValue" else self._ref(arg)
        if name == "Fn::GetAtt":
            logical, attribute = arg
            return self.physical[logical][attribute]
        if name == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(extra.get(m.group(1)) or self._sub_var(m.group(1))), text)
        if name == "Fn::If":
            condition, when_true, when_false = arg
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Fn::Equals":
            left, right = self.resolve(arg)
            return left == right
        if name == "Fn::Not":
            return not self.resolve(arg[0])
        if name == "Fn::And":
            return all(self.resolve(a) for a in arg)
        if name == "Fn::Or":
            return any(self.resolve(a) for a in arg)
        if name == "Condition" and isinstance(arg, str):  # a condition within a condition
            return self.condition(arg)
        if name == "Fn::Join":
            separator, parts = arg
            return separator.join(str(p) for p in self.resolve(parts))
        return {name: self.resolve(arg)}

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))

    def _ref(self, name: str) -> str:
        pseudo = {"AWS::Region": self.region, "AWS::AccountId": self.account, "AWS::Partition": "aws",
                  "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "securelogin-local"}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.physical[name]["Ref"]

    def _sub_var(self, name: str) -> str:
        if "." in name:
            logical, attribute = name.split(".", 1)
            return self.physical[logical][attribute]
        return self._ref(name)

    # -------------------------------------------------------------- reading

    def resources_of(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: spec for name, spec in self.template["Resources"].items() if spec["Type"] == resource_type}

    def functions(self) -> dict[str, FunctionSpec]:
        globals_ = self.template.get("Globals", {}).get("Function", {})
        found = {}
        for name, spec in self.resources_of("AWS::Serverless::Function").items():
            props = {**globals_, **spec["Properties"]}
            env = {**globals_.get("Environment", {}).get("Variables", {}),
                   **spec["Properties"].get("Environment", {}).get("Variables", {})}
            found[name] = FunctionSpec(logical_id=name, code_uri=PROJECT_ROOT / props["CodeUri"],
                                       handler=props["Handler"], memory_mb=int(props.get("MemorySize", 128)),
                                       timeout_s=int(props.get("Timeout", 3)),
                                       environment={k: str(v) for k, v in ((k, self.resolve(v)) for k, v in env.items())
                                                    if v is not NO_VALUE})
        return found

    def stream_events(self) -> list[StreamEvent]:
        """Every function's DynamoDB stream events (their intrinsics are not resolved: a
        GetAtt names the table and the destination)."""
        found = []
        for name, spec in self.resources_of("AWS::Serverless::Function").items():
            for event in spec["Properties"].get("Events", {}).values():
                if event["Type"] != "DynamoDB":
                    continue
                props = event["Properties"]
                table = props["Stream"]["Fn::GetAtt"]
                if table[1] != "StreamArn":
                    raise ValueError(f"{name}: the local stack reads a table's StreamArn only")
                destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
                found.append(StreamEvent(
                    function=name, table=table[0], starting_position=props["StartingPosition"],
                    batch_size=int(props.get("BatchSize", 100)),
                    parallelization_factor=int(props.get("ParallelizationFactor", 1)),
                    maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                    maximum_record_age_seconds=int(props.get("MaximumRecordAgeInSeconds", -1)),
                    bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
                    reports_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                    filters=tuple(json.loads(f["Pattern"]) for f in props.get("FilterCriteria", {}).get("Filters", [])),
                    on_failure=destination["Fn::GetAtt"][0] if destination else None))
        return found

    def routes(self) -> list[Route]:
        api = next(iter(self.resources_of("AWS::Serverless::Api").values()))
        default = api["Properties"].get("Auth", {}).get("DefaultAuthorizer")
        routes = []
        for name, spec in self.resources_of("AWS::Serverless::Function").items():
            for event in spec["Properties"].get("Events", {}).values():
                if event["Type"] != "Api":
                    continue
                props = event["Properties"]
                authorizer = props.get("Auth", {}).get("Authorizer", default)
                auth = {"NONE": "none", "AWS_IAM": "iam", None: "none"}.get(authorizer, "session")
                routes.append(Route(path=props["Path"], method=props["Method"].upper(), function=name, auth=auth))
        return routes

    def authorizer_function(self) -> str:
        api = next(iter(self.resources_of("AWS::Serverless::Api").values()))
        authorizers = api["Properties"]["Auth"]["Authorizers"]
        arn = next(iter(authorizers.values()))["FunctionArn"]
        return arn["Fn::GetAtt"][0]

    def stage(self) -> str:
        api = next(iter(self.resources_of("AWS::Serverless::Api").values()))
        return str(self.resolve(api["Properties"]["StageName"]))

    def gateway_response(self, response_type: str) -> tuple[int, str, dict[str, str]]:
        """(status, body, headers) of one of the API's gateway responses, as API Gateway
        would give it, falling back to DEFAULT_4XX/5XX like API Gateway does."""
        api = next(iter(self.resources_of("AWS::Serverless::Api").values()))
        configured = api["Properties"].get("GatewayResponses", {})
        defaults = {"UNAUTHORIZED": 401, "ACCESS_DENIED": 403, "MISSING_AUTHENTICATION_TOKEN": 403,
                    "INVALID_SIGNATURE": 403, "EXPIRED_TOKEN": 403, "AUTHORIZER_FAILURE": 500,
                    "THROTTLED": 429, "BAD_REQUEST_BODY": 400, "INTEGRATION_TIMEOUT": 504}
        status = defaults.get(response_type, 500)
        spec = configured.get(response_type) or configured.get("DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX", {})
        status = int(configured.get(response_type, {}).get("StatusCode", status))
        body = spec.get("ResponseTemplates", {}).get("application/json", '{"message": "error"}')
        headers = {k: v.strip("'") for k, v in spec.get("ResponseParameters", {}).get("Headers", {}).items()}
        return status, body, headers
