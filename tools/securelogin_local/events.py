"""Writes events/: a sample API Gateway (REST, v1 proxy) event for every route.

``make events`` rewrites them from the functions' routes; ``make invoke`` replays one.
Session routes carry the authorizer's context for the demo user, IAM routes an IAM
identity, as API Gateway would hand them to the function."""
from __future__ import annotations

import json
import re

from securelogin_local.gateway import FunctionHost, Gateway
from securelogin_local.template import PROJECT_ROOT, Stack, load_template

EVENTS_DIR = PROJECT_ROOT / "events"
SAMPLE_LOGIN_ID = "Zm9yLXNhbXBsZS1vbmx5"
SAMPLE_BODIES: dict[tuple[str, str], dict] = {
    ("POST", "/v1/admin/users"): {
        "username": "sample.user", "password": "a long sample password", "account_id": "U7654321",
        "entity_id": "E7654321", "primary": True,
        "identity": {"date_of_birth": "1975-05-17", "citizenship": "US", "country_of_residence": "US",
                     "id_document": {"type": "passport", "number": "S1234567"}, "ssn": "123456789"},
        "phones": ["+15550100002"], "balance_usd": 250000, "jurisdiction": "US"},
    ("POST", "/v1/admin/users/{username}/devices"): {"type": "dsc_plus", "serial": "DSC-0001", "pin": "4831"},
    ("POST", "/v1/devices/dsc-plus"): {"pin": "4831", "reason": "new"},
    ("POST", "/v1/devices/{device_id}/activate"): {"response": "12345678"},
    ("POST", "/v1/admin/device-requests/{request_id}/fulfil"): {"serial": "DSC-7777", "seed_hex": "31" * 32},
    ("POST", "/v1/sharing"): {"owner_username": "demo.other", "owner_password": "the owner's password"},
    ("POST", "/v1/sharing/{share_id}/complete"): {"response": "12345678"},
    ("POST", "/v1/admin/sharing/{share_id}/decision"): {"decision": "approve", "reason": "same person"},
    ("POST", "/v1/withdrawals"): {"amount_usd": 25000},
    ("POST", "/v1/withdrawals/{withdrawal_id}/challenge"): {"device_id": "dev_sample"},
    ("POST", "/v1/withdrawals/{withdrawal_id}/verify"): {"response": "12345678"},
    ("PUT", "/v1/settings/secure-login"): {"mode": "always"},
    ("POST", "/v1/recovery"): {"username": "demo", "password": "demo-password-1", "same_phone": False},
    ("POST", "/v1/login"): {"username": "demo", "password": "demo-password-1", "client": {"platform": "portal"}},
    ("POST", "/v1/login/{login_id}/challenge"): {"device_id": "dev_sample", "method": "sms"},
    ("POST", "/v1/login/{login_id}/verify"): {"response": "123456"},
}
SAMPLE_PARAMETERS = {"login_id": SAMPLE_LOGIN_ID, "username": "demo", "device_id": "dev_sample",
                     "request_id": "req_0123456789abcdef0123", "activation_id": SAMPLE_LOGIN_ID,
                     "recovery_id": SAMPLE_LOGIN_ID, "share_id": SAMPLE_LOGIN_ID,
                     "withdrawal_id": SAMPLE_LOGIN_ID, "session_id": "7KQ4M9XD2RTBH6WN"}


def file_name(method: str, path: str) -> str:
    words = re.sub(r"[{}]", "", path.removeprefix("/v1/")).replace("/", "-") or "root"
    return f"{method.lower()}-{words}.json"


def sample_events() -> dict[str, dict]:
    stack = Stack.offline(load_template())
    hosts = {name: FunctionHost(spec, stack.region, stack.account) for name, spec in stack.functions().items()}
    gateway = Gateway(stack, hosts)
    events = {}
    for route in gateway.routes:
        app = getattr(hosts[route.function].module(), "app", None)
        if app is None:
            continue
        operations = json.loads(app.get_openapi_json_schema(title="t", version="1"))["paths"].get(route.path, {})
        for method in operations:
            method = method.upper()
            path = route.path
            for name, value in SAMPLE_PARAMETERS.items():
                path = path.replace("{" + name + "}", value)
            params = {n: v for n, v in SAMPLE_PARAMETERS.items() if "{" + n + "}" in route.path}
            body = SAMPLE_BODIES.get((method, route.path))
            raw = json.dumps(body).encode() if body is not None else b""
            headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com", "Content-Type": "application/json",
                       "User-Agent": "sample"}
            identity = {"sourceIp": "203.0.113.10", "userAgent": "sample"}
            authorizer = None
            if route.auth == "iam":
                arn = "arn:aws:iam::123456789012:user/client-services"
                identity.update(accessKey="AKIASAMPLE", userArn=arn, caller=arn)
            elif route.auth == "session":
                headers["Authorization"] = "Bearer sls_sample-token"
                authorizer = {"principalId": "demo", "username": "demo", "scope": "full",
                              "session_key": "0" * 64}
            event = gateway._event(method, path, "", headers, raw, route, params, identity, authorizer)
            event["requestContext"]["requestId"] = "00000000-0000-4000-8000-000000000000"
            event["requestContext"]["requestTimeEpoch"] = 1795255200000
            event["requestContext"]["requestTime"] = "21/Nov/2026:10:00:00 +0000"
            events[file_name(method, route.path)] = event
    return events


def main() -> None:
    EVENTS_DIR.mkdir(exist_ok=True)
    for name, event in sample_events().items():
        (EVENTS_DIR / name).write_text(json.dumps(event, indent=2) + "\n")
        print(f"events/{name}")


if __name__ == "__main__":
    main()
