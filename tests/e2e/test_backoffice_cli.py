"""The back-office command line (``python -m securelogin_backoffice``) against a local stack:
each command run as an operator runs it, in a process of its own, its requests SigV4-signed."""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import pytest
from people import user_body

from securelogin.crypto.ocra import ocra

pytestmark = pytest.mark.e2e

SEED = "3132333435363738393031323334353637383930313233343536373839303132"
PIN = "4831"


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def backoffice(api, *args: str, stdin: str | None = None, local: bool = True, env: dict[str, str] | None = None) -> Run:
    """The CLI against the test's stack; no AWS setting of the caller's shell leaks in."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "SLS_BASE_URL"}
    argv = [sys.executable, "-m", "securelogin_backoffice", "--base-url", api.base_url,
            *(["--local"] if local else []), *args]
    done = subprocess.run(argv, input=stdin or "", capture_output=True, text=True, timeout=120,  # noqa: S603
                          env=clean | (env or {}), check=False)
    return Run(done.returncode, done.stdout, done.stderr)


def create_user(api, **over: Any) -> tuple[dict[str, Any], Run]:
    who = user_body("bo", **over)
    ident = who["identity"]
    run = backoffice(api, "create-user", "--username", who["username"], "--account-id", who["account_id"],
                     "--entity-id", who["entity_id"], "--date-of-birth", ident["date_of_birth"],
                     "--citizenship", ident["citizenship"], "--country-of-residence", ident["country_of_residence"],
                     "--id-type", ident["id_document"]["type"], "--id-number", ident["id_document"]["number"],
                     "--phone", who["phones"][0], "--balance", str(who["balance_usd"]), "--jurisdiction", "US",
                     "--password-stdin", stdin=who["password"] + "\n")
    return who, run


@pytest.fixture
def user(api) -> dict[str, Any]:
    who, run = create_user(api)
    assert run.code == 0, run
    return who


def issue_card(api, who: dict[str, Any]) -> dict[str, Any]:
    run = backoffice(api, "issue-device", who["username"], "--type", "dsc_plus", "--serial", "DSC-1001",
                     "--seed-hex", SEED, "--pin-stdin", stdin=PIN + "\n")
    assert run.code == 0, run
    assert "warning" not in run.err  # the seed was given, not made: nothing to show once
    return run.json


def portal(api, method: str, path: str, body: Any = None, token: str | None = None):
    """A call the test makes as the portal would, sent again once after a 503 (the contract allows it;
    on a loaded machine the embedded AWS may be slower than the service's timeouts)."""
    answer = api(method, path, body, token=token)
    if answer.status == 503:
        time.sleep(int(answer.headers.get("retry-after", "1")))
        answer = api(method, path, body, token=token)
    return answer


def login_start(api, who: dict[str, Any]) -> dict[str, Any]:
    start = portal(api, "POST", "/v1/login", {"username": who["username"], "password": who["password"],
                                              "client": {"platform": "portal"}})
    assert start.status == 200, start
    return start.body


def sms_login(api, who: dict[str, Any]) -> str:
    start = login_start(api, who)
    mark = len(api.outbox())
    sms = next(d["device_id"] for d in start["devices"] if d["type"] == "sms")
    assert portal(api, "POST", f"/v1/login/{start['login_id']}/challenge", {"device_id": sms}).status == 200
    body = [m["body"] for m in api.outbox()[mark:] if m["channel"] == "sms" and m["to"] == who["phones"][0]][-1]
    code = re.findall(r"\d{6}", body)[0]
    verify = portal(api, "POST", f"/v1/login/{start['login_id']}/verify", {"response": code})
    assert verify.status == 200, verify
    return verify.body["session_token"]


def card_login(api, who: dict[str, Any], card: dict[str, Any]) -> str:
    start = login_start(api, who)
    challenge = portal(api, "POST", f"/v1/login/{start['login_id']}/challenge", {"device_id": card["device_id"]})
    assert challenge.status == 200, challenge
    response = ocra(card["ocra_suite"], bytes.fromhex(SEED), challenge.body["challenge"]["challenge_code"], pin=PIN)
    verify = portal(api, "POST", f"/v1/login/{start['login_id']}/verify", {"response": response})
    assert verify.status == 200, verify
    return verify.body["session_token"]


def test_create_user_takes_the_password_from_stdin_and_never_prints_it(api):
    who, run = create_user(api)
    assert run.code == 0, run
    assert run.json == {"username": who["username"]}
    assert who["password"] not in run.out + run.err
    login_start(api, who)  # the password given on stdin is the user's

    seen = backoffice(api, "user", who["username"])
    assert seen.code == 0, seen
    assert seen.json["username"] == who["username"] and [d["type"] for d in seen.json["devices"]] == ["sms"]
    shown = backoffice(api, "user", who["username"], "--table")
    assert shown.code == 0 and "DEVICES" in shown.out and who["username"] in shown.out

    again = backoffice(api, "create-user", "--username", who["username"], "--account-id", "U1", "--entity-id", "E1",
                       "--date-of-birth", "1970-01-01", "--citizenship", "US", "--id-type", "passport",
                       "--id-number", "P1", "--jurisdiction", "US", "--password-stdin", stdin="another-password-1\n")
    assert again.code == 1 and "username_taken" in again.err and again.out == ""
    assert "another-password-1" not in again.out + again.err


def test_a_security_code_card_is_printed_once_with_a_warning(api, user):
    run = backoffice(api, "issue-device", user["username"], "--type", "scc")
    assert run.code == 0, run
    card = run.json["card"]
    assert run.json["type"] == "scc" and len(card) >= 2
    assert "warning" in run.err and "once" in run.err
    afterwards = backoffice(api, "user", user["username"])
    scc = next(d for d in afterwards.json["devices"] if d["type"] == "scc")
    assert scc["device_id"] == run.json["device_id"] and "card" not in scc
    assert '"card"' not in afterwards.out


def test_a_lost_card_a_temporary_code_and_the_audit_trail(api, user):
    card = issue_card(api, user)
    assert card["type"] == "dsc_plus" and card["serial"] == "DSC-1001" and "seed_hex" not in card

    lost = backoffice(api, "mark-lost", user["username"], card["device_id"], "--reason", "client called")
    assert lost.code == 0, lost
    assert lost.json["device_id"] == card["device_id"] and lost.json["status"] == "lost"

    temporary = backoffice(api, "temporary-code", user["username"], "--reason", "passport seen on video")
    assert temporary.code == 0, temporary
    assert temporary.json["code"] and {"device_id", "full_access_until", "portal_access_until"} <= temporary.json.keys()
    assert "warning" in temporary.err and "temporary code" in temporary.err
    start = login_start(api, user)
    device = next(d["device_id"] for d in start["devices"] if d["type"] == "temporary_code")
    flow = f"/v1/login/{start['login_id']}"
    assert portal(api, "POST", f"{flow}/challenge", {"device_id": device}).status == 200
    assert portal(api, "POST", f"{flow}/verify", {"response": temporary.json["code"]}).status == 200

    trail = backoffice(api, "audit", user["username"])
    assert trail.code == 0, trail
    events = trail.json["events"]
    assert events[-1]["type"] == "user.created"
    assert [e["at"] for e in events] == sorted((e["at"] for e in events), reverse=True)
    assert temporary.json["code"] not in trail.out
    newest = backoffice(api, "audit", user["username"], "--limit", "2")
    assert newest.json["events"] == events[:2]
    table = backoffice(api, "audit", user["username"], "--table")
    assert table.code == 0 and table.out.splitlines()[0].split() == ["AT", "TYPE", "DETAILS"]
    assert "user.created" in table.out.splitlines()[-1]


def test_a_device_request_is_fulfilled_with_the_seed_from_stdin(api, user):
    card = issue_card(api, user)
    token = card_login(api, user, card)
    request = portal(api, "POST", "/v1/devices/dsc-plus", {"pin": PIN, "reason": "broken"}, token=token)
    assert request.status == 201, request

    run = backoffice(api, "fulfil", request.body["request_id"], "--serial", "DSC-2002", "--seed-hex-stdin",
                     stdin=SEED + "\n")
    assert run.code == 0, run
    assert run.json["status"] == "pending" and run.json["serial"] == "DSC-2002"
    assert SEED not in run.out + run.err

    again = backoffice(api, "fulfil", request.body["request_id"], "--serial", "DSC-2002", "--seed-hex-stdin",
                       stdin=SEED + "\n")
    assert again.code == 1 and "request_fulfilled" in again.err
    unknown = backoffice(api, "fulfil", "req_" + "0" * 20, "--serial", "DSC-3", "--seed-hex-stdin", stdin=SEED)
    assert unknown.code == 1 and "request_not_found" in unknown.err


def test_compliance_lists_and_decides_a_share_across_entities(api):
    owner, run = create_user(api)
    assert run.code == 0, run
    twin, run = create_user(api, identity=owner["identity"])  # the same person, in another entity
    assert run.code == 0, run
    issue_card(api, owner)
    token = sms_login(api, twin)
    share = portal(api, "POST", "/v1/sharing",
                   {"owner_username": owner["username"], "owner_password": owner["password"]}, token=token)
    assert share.status == 201, share
    response = ocra(share.body["device"]["ocra_suite"], bytes.fromhex(SEED),
                    share.body["challenge"]["challenge_code"], pin=PIN)
    share_id = share.body["share_id"]
    done = portal(api, "POST", f"/v1/sharing/{share_id}/complete", {"response": response}, token=token)
    assert done.status == 200 and done.body["status"] == "pending_compliance", done

    pending = backoffice(api, "shares", "--status", "pending")
    assert pending.code == 0, pending
    mine = next(s for s in pending.json["shares"] if s["share_id"] == share_id)
    assert (mine["requester_username"], mine["owner_username"], mine["same_entity"]) == (
        twin["username"], owner["username"], False)
    table = backoffice(api, "shares", "--table")
    assert share_id in table.out and "pending_compliance" in table.out

    decided = backoffice(api, "decide", share_id, "approve", "--reason", "same person, two entities")
    assert decided.code == 0, decided
    assert decided.json["status"] == "approved" and decided.json["share_id"] == share_id
    assert share_id not in backoffice(api, "shares").out
    again = backoffice(api, "decide", share_id, "reject", "--reason", "changed my mind")
    assert again.code == 1 and "not_pending" in again.err


def test_the_default_credential_chain_signs_and_a_wrong_secret_is_forbidden(api, user, tmp_path):
    no_files = {"AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "creds"),
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": "testing"}
    right = backoffice(api, "--region", "us-east-1", "user", user["username"], local=False,
                       env=no_files | {"AWS_SECRET_ACCESS_KEY": "testing"})
    assert right.code == 0 and right.json["username"] == user["username"], right
    wrong = backoffice(api, "--region", "us-east-1", "user", user["username"], local=False,
                       env=no_files | {"AWS_SECRET_ACCESS_KEY": "not-the-secret"})
    assert wrong.code == 1 and wrong.out == ""
    assert wrong.err.startswith("error: forbidden:") and "HTTP 403" in wrong.err
    nothing = backoffice(api, "--region", "us-east-1", "shares", local=False,
                         env={k: v for k, v in no_files.items() if k != "AWS_ACCESS_KEY_ID"})
    assert nothing.code == 3 and "no AWS credentials" in nothing.err


def test_an_unknown_user_is_user_not_found(api):
    run = backoffice(api, "user", "nobody-" + secrets.token_hex(4))
    assert run.code == 1 and run.out == ""
    assert run.err.startswith("error: user_not_found:") and "HTTP 404" in run.err
    issued = backoffice(api, "temporary-code", "nobody-" + secrets.token_hex(4), "--reason", "passport seen")
    assert issued.code == 1 and "user_not_found" in issued.err


@pytest.fixture
def faults(api):
    yield lambda count: api("POST", "/_local/faults", {"service": "dynamodb", "operation": "*",
                                                       "error": "InternalServerError", "count": count})
    api("DELETE", "/_local/faults")


def test_a_503_is_sent_again_once_after_its_retry_after(api, user, faults):
    # How many failing AWS calls make one 503 (the service retries some itself): measured, not assumed.
    assert faults(50).status == 200
    refused = api("GET", f"/v1/admin/users/{user['username']}", signed=True)
    assert refused.status == 503 and refused.headers["retry-after"] == "1", refused
    per_503 = 50 - sum(f["count"] for f in api("GET", "/_local/faults").body["faults"])
    api("DELETE", "/_local/faults")

    faults(per_503)
    once = backoffice(api, "user", user["username"])
    assert once.code == 0 and once.json["username"] == user["username"], once
    assert "retrying once in 1 s" in once.err

    faults(2 * per_503 + 1)
    twice = backoffice(api, "user", user["username"])
    assert twice.code == 1 and "service_unavailable" in twice.err and "HTTP 503" in twice.err
