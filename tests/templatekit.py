"""What the template tests and the permission e2e test share: the template as SAM translates
it (with parameters), just enough CloudFormation to resolve it for given parameters, and a
small IAM evaluator."""
from __future__ import annotations

import copy
import fnmatch
import functools
import json
import re
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from securelogin_local.template import load_template

ACCOUNT, REGION, STACK_NAME = "123456789012", "us-east-1", "securelogin-dev"
NO_VALUE = object()


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


@functools.cache
def _translated(parameters: str) -> str:
    packaged = load_template()  # as `sam package` leaves it: code in S3
    for resource in packaged["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/function.zip"
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = "s3://artifacts/layer.zip"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", REGION)
        return json.dumps(transform(packaged, json.loads(parameters), _NoManagedPolicies()))


def translated(**parameters: str) -> dict[str, Any]:
    """The SAM-translated template (CloudFormation, conditions unresolved)."""
    return json.loads(_translated(json.dumps(parameters, sort_keys=True)))


class Resolver:
    """Ref, GetAtt, Sub, If, Join and conditions, for the given parameters. Resources resolve
    from ``physical`` (logical id -> attribute -> value, ``Ref`` included) when given, else to
    placeholder names and ARNs (``<name>`` and ``arn:aws:<name>``)."""

    def __init__(self, template: dict[str, Any], refs: dict[str, str] | None = None,
                 physical: dict[str, dict[str, str]] | None = None, **parameters: str) -> None:
        self.template = template
        self.refs = refs or {}  # what Ref gives for some resources (e.g. a topic's ARN)
        self.physical = physical
        defaults = {n: str(p.get("Default", "")) for n, p in template.get("Parameters", {}).items()}
        self.values = {**defaults, **parameters, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
                       "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": STACK_NAME}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self(v) for v in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (name, arg), = value.items()
            if name == "Ref":
                return NO_VALUE if arg == "AWS::NoValue" else self.ref(arg)
            if name == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.attribute(logical, attribute)
            if name == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self(arg[1]))
                return re.sub(r"\$\{([^}!]+)\}", lambda m: str(extra[m.group(1)]) if m.group(1) in extra
                              else self.sub(m.group(1)), text)
            if name == "Fn::If":
                condition, yes, no = arg
                return self(yes if self.condition(condition) else no)
            if name == "Fn::Join":
                return arg[0].join(str(p) for p in self(arg[1]))
        return {k: v for k, v in ((k, self(v)) for k, v in value.items()) if v is not NO_VALUE}

    def ref(self, name: str) -> str:
        if name in self.values:
            return self.values[name]
        if self.physical is not None:
            return self.physical[name]["Ref"]
        return self.refs.get(name, f"<{name}>")

    def attribute(self, logical: str, attribute: str) -> str:
        if self.physical is not None:
            return self.physical[logical][attribute]
        return f"arn:aws:{logical}" if attribute == "Arn" else f"{logical}.{attribute}"

    def sub(self, name: str) -> str:
        if "." in name:
            return self.attribute(*name.split(".", 1))
        return self.ref(name)

    def condition(self, name: str) -> bool:
        return self.truth(self.template["Conditions"][name])

    def truth(self, expression: Any) -> bool:
        (name, arg), = expression.items()
        if name == "Condition":
            return self.condition(arg)
        if name == "Fn::Equals":
            left, right = (self(a) for a in arg)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not self.truth(arg[0])
        if name == "Fn::And":
            return all(self.truth(a) for a in arg)
        if name == "Fn::Or":
            return any(self.truth(a) for a in arg)
        raise AssertionError(name)


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches(pattern: str, value: str, ignore_case: bool = False) -> bool:
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _compare(operator: str, got: str, wanted: list[str]) -> bool:
    if operator in ("StringEquals", "ArnEquals"):
        return got in wanted
    if operator in ("StringLike", "ArnLike"):
        return any(_matches(w, got) for w in wanted)
    if operator == "StringNotEquals":
        return got not in wanted
    if operator in ("StringNotLike", "ArnNotLike"):
        return not any(_matches(w, got) for w in wanted)
    if operator == "Bool":
        return got.lower() in [w.lower() for w in wanted]
    raise AssertionError(f"condition operator not modelled: {operator}")


def _condition_holds(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    for operator, tests in condition.items():
        for key, wanted in tests.items():
            wanted = [str(w) for w in listed(wanted)]
            got = context.get(key)
            if operator == "Null":
                if (got is None) != (wanted[0] == "true"):
                    return False
                continue
            if operator.startswith("ForAllValues:"):
                if not all(_compare(operator.split(":", 1)[1], str(v), wanted) for v in (got or ())):
                    return False
                continue
            if operator.startswith("ForAnyValue:"):
                if not any(_compare(operator.split(":", 1)[1], str(v), wanted) for v in (got or ())):
                    return False
                continue
            if_exists = operator.endswith("IfExists")
            base = operator.removesuffix("IfExists")
            if got is None:
                if if_exists or base.startswith("StringNot") or base.startswith("ArnNot"):
                    continue
                return False
            if not _compare(base, str(got), wanted):
                return False
    return True


def _applies(statement: dict[str, Any], action: str, resource: str, context: dict[str, Any]) -> bool:
    if "Action" in statement:
        if not any(_matches(a, action, ignore_case=True) for a in listed(statement["Action"])):
            return False
    elif any(_matches(a, action, ignore_case=True) for a in listed(statement["NotAction"])):
        return False
    if "Resource" in statement:
        if not any(_matches(r, resource) for r in listed(statement["Resource"])):
            return False
    elif any(_matches(r, resource) for r in listed(statement["NotResource"])):
        return False
    return _condition_holds(statement.get("Condition", {}), context)


def iam_allows(statements: list[dict[str, Any]], action: str, resource: str,
               context: dict[str, Any] | None = None) -> bool:
    """An identity policy's decision: some Allow applies and no Deny does."""
    applying = [s for s in statements if _applies(s, action, resource, context or {})]
    return any(s["Effect"] == "Allow" for s in applying) and not any(s["Effect"] == "Deny" for s in applying)


def role_statements(template: dict[str, Any], function: str, refs: dict[str, str] | None = None,
                    **parameters: str) -> list[dict[str, Any]]:
    """The resolved statements of a translated function's role (inline policies)."""
    resources = template["Resources"]
    role = resources[resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
    statements = []
    for policy in Resolver(template, refs, **parameters)(copy.deepcopy(role.get("Policies", []))):
        statements += listed(policy["PolicyDocument"]["Statement"])
    return statements

