"""How many AWS calls each request makes, read from the embedded AWS's call log.

The numbers are those of docs/aws-calls.md; a change that adds calls to a flow has to
change that page too. Measured warm (after the first request of each function, which
also loads the code-digest key or a data key once per container)."""
from __future__ import annotations

import re
import secrets
from collections import Counter

import pytest

# Every request with a session starts with the authorizer: GetItem session, GetItem the device that opened it
# (a session lives no longer than its device), counted as "authorizer" below.
BUDGET = {
    "create user": 1,  # TransactWriteItems (user, answer slots, SMS device, 2 audit events; data key cached)
    # Query user partition, UpdateItem lockout (the guess counted before the hash is checked),
    # DeleteItem lockout (a right password ends the run of failures), PutItem flow
    "password step": 4,
    "wrong password": 3,  # Query user partition, UpdateItem lockout, PutItem audit: as for an unknown username
    "unknown username": 3,
    "sms challenge": 5,  # GetItem flow, GetItem device, UpdateItem throttle, UpdateItem flow, SNS Publish
    # GetItem flow (with the device as challenged), TransactWriteItems (take: attempt, the device unchanged,
    # a slot at random), TransactWriteItems (flow, session, device, slot back, audit)
    "verify": 3,
    "issue card": 4,  # Query user partition, TransactWriteItems, PutItem audit, SNS Publish (the notice)
    "card challenge": 3,  # GetItem flow, GetItem device, UpdateItem flow
    "card verify": 3,  # as verify; the seed's data key is cached
    "code card challenge": 4,  # as card challenge + UpdateItem device (the pair last asked)
    # password step (Query, 2 lockout writes), UpdateItem throttle, PutItem flow with its code, SNS Publish, audit
    "activation start": 7,
    # GetItem flow, Query user, TransactWriteItems (take), SNS CreatePlatformEndpoint,
    # TransactWriteItems (flow, device, revocations, instance, audit), SNS Publish (notice)
    "activation complete": 6,
    "push challenge": 5,  # GetItem flow, GetItem device, UpdateItem push guard, UpdateItem flow, SNS Publish
    "push answer": 4,  # Query GSI1 device, BatchGetItem (login or withdrawal), TransactWriteItems (+ audit), UpdateItem
    "poll approved": 3,  # GetItem flow, GetItem device (the session's), TransactWriteItems (flow, session, audit)
    # password step (Query, 2 lockout writes), PutItem flow with its challenge, PutItem audit (a DSC+: no SMS)
    "recovery start": 5,
    # GetItem flow, Query user, 2 TransactWriteItems (take, enrol with the audit events), SNS Publish (notice)
    "recovery complete": 5,
    # authorizer (2), owner's password step (Query, 2 lockout writes), 2 Query (both users), PutItem flow,
    # PutItem share, 2 audit
    "share request": 11,
    # authorizer (2), GetItem share, GetItem flow, TransactWriteItems (take), Query requester,
    # TransactWriteItems (share, flow, link, own devices, slot back), 2 PutItem audit,
    # GetItem owner + 2 SNS Publish (the notices)
    "share complete": 12,
    "withdrawal create": 6,  # authorizer (2), Query user, Query day totals, PutItem flow, PutItem audit
    # authorizer (2), GetItem flow, GetItem user, Query day totals, GetItem device, UpdateItem flow
    "withdrawal challenge": 7,
    # authorizer (2), GetItem flow, TransactWriteItems (take), GetItem user, Query day totals,
    # TransactWriteItems (add to the day's total, flow, device, slot back, audit)
    "withdrawal verify": 7,
    "settings change": 6,  # authorizer (2), GetItem user, UpdateItem user, PutItem audit, SNS Publish
    "login status": 1,
    "me": 4,  # authorizer (2), Query user partition, Query day totals (what is left)
    "logout": 4,  # authorizer (2), DeleteItem session, PutItem audit
    "admin view": 1,  # Query user partition (identity key cached)
    "audit": 1,
}


@pytest.fixture(scope="module")
def api(local_stack):
    """One gateway worker: each worker process is a container, warmed on its own, so with
    several a request that reaches a cold one makes a call more (e.g. kms Decrypt)."""
    with local_stack("--workers", "1") as client:
        yield client


def ocra_response(seed_hex, question, pin):
    from securelogin.crypto.ocra import ocra
    return ocra("OCRA-1:HOTP-SHA256-8:QN06-PSHA1", bytes.fromhex(seed_hex), question, pin=pin)


def measure_ib_key(api, user, measured):
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    mark = len(api.outbox())
    started, measured["activation start"] = measure(api, lambda: api("POST", "/v1/activation/sms", {
        "username": user["username"], "password": user["password"], "phone": user["phones"][0]}))
    code = re.findall(r"\d{8}", [m for m in api.outbox()[mark:] if m["channel"] == "sms"][-1]["body"])[0]
    enrol = {"activation_code": code, "pin": "7Q!x2", "public_key": base64.b64encode(der).decode(),
             "platform": "android", "push_token": "token-e2e"}
    done, measured["activation complete"] = measure(
        api, lambda: api("POST", f"/v1/activation/{started.body['activation_id']}/complete", enrol))
    assert done.status == 201, done
    login = api("POST", "/v1/login", {"username": user["username"], "password": user["password"]})
    login_id = login.body["login_id"]
    mark = len(api.outbox())
    _, measured["push challenge"] = measure(
        api, lambda: api("POST", f"/v1/login/{login_id}/challenge", {"device_id": done.body["device_id"]}))
    data = [m for m in api.outbox()[mark:] if m["channel"] == "push"][-1]["data"]
    signature = base64.b64encode(key.sign(f"{login_id}|{data['nonce']}|approve".encode(),
                                          ec.ECDSA(hashes.SHA256()))).decode()
    answer, measured["push answer"] = measure(api, lambda: api("POST", "/v1/authenticator/push-responses", {
        "device_id": data["device_id"], "transaction_id": login_id, "nonce": data["nonce"], "decision": "approve",
        "signature": signature}))
    assert answer.status == 200, answer
    polled, measured["poll approved"] = measure(api, lambda: api("GET", f"/v1/login/{login_id}"))
    assert polled.body["session_token"]

    started, measured["recovery start"] = measure(api, lambda: api("POST", "/v1/recovery", {
        "username": user["username"], "password": user["password"], "same_phone": False}))
    assert started.body["method"] == "device", started
    response = ocra_response("31" * 32, started.body["challenge"]["challenge_code"], "4831")
    enrol = {"response": response, "pin": "5t%R9", "public_key": base64.b64encode(der).decode(), "platform": "ios"}
    done, measured["recovery complete"] = measure(
        api, lambda: api("POST", f"/v1/recovery/{started.body['recovery_id']}/complete", enrol))
    assert done.status == 200, done


def measure_sharing(api, user_body, measured):
    owner = user_body()
    twin = {**user_body(), "identity": owner["identity"], "entity_id": owner["entity_id"]}
    for who in (owner, twin):
        assert api("POST", "/v1/admin/users", who, signed=True).status == 201
    api("POST", f"/v1/admin/users/{owner['username']}/devices", {"type": "dsc_plus", "seed_hex": "31" * 32,
                                                                 "pin": "4831"}, signed=True)
    start = api("POST", "/v1/login", {"username": twin["username"], "password": twin["password"]})
    mark = len(api.outbox())
    api("POST", f"/v1/login/{start.body['login_id']}/challenge", {"device_id": start.body["default_device_id"]})
    code = re.findall(r"\d{6}", [m for m in api.outbox()[mark:] if m["to"] == twin["phones"][0]][-1]["body"])[0]
    token = api("POST", f"/v1/login/{start.body['login_id']}/verify", {"response": code}).body["session_token"]
    share, measured["share request"] = measure(api, lambda: api("POST", "/v1/sharing", {
        "owner_username": owner["username"], "owner_password": owner["password"]}, token=token))
    assert share.status == 201, share
    response = ocra_response("31" * 32, share.body["challenge"]["challenge_code"], "4831")
    done, measured["share complete"] = measure(api, lambda: api(
        "POST", f"/v1/sharing/{share.body['share_id']}/complete", {"response": response}, token=token))
    assert done.body["status"] == "approved", done


def measure_withdrawal(api, user, measured):
    start = api("POST", "/v1/login", {"username": user["username"], "password": user["password"]})
    card = next(d for d in start.body["devices"] if d["type"] == "dsc_plus")
    public = api("POST", f"/v1/login/{start.body['login_id']}/challenge", {"device_id": card["device_id"]}).body
    token = api("POST", f"/v1/login/{start.body['login_id']}/verify", {
        "response": ocra_response("31" * 32, public["challenge"]["challenge_code"], "4831")}).body["session_token"]
    created, measured["withdrawal create"] = measure(
        api, lambda: api("POST", "/v1/withdrawals", {"amount_usd": 1000}, token=token))
    withdrawal_id = created.body["withdrawal_id"]
    challenged, measured["withdrawal challenge"] = measure(api, lambda: api(
        "POST", f"/v1/withdrawals/{withdrawal_id}/challenge", {"device_id": card["device_id"]}, token=token))
    response = ocra_response("31" * 32, challenged.body["challenge"]["challenge_code"], "4831")
    verified, measured["withdrawal verify"] = measure(api, lambda: api(
        "POST", f"/v1/withdrawals/{withdrawal_id}/verify", {"response": response}, token=token))
    assert verified.body["status"] == "authorized", verified
    _, measured["settings change"] = measure(api, lambda: api(
        "PUT", "/v1/settings/secure-login", {"mode": "always"}, token=token))


def measure(api, action):
    before = len(api.aws_calls())
    answer = action()
    calls = api.aws_calls()[before:]
    return answer, calls


def test_each_request_stays_within_its_budget(api):
    measured: dict[str, list[tuple[str, str]]] = {}

    def user_body():
        tag = secrets.token_hex(4)
        return {"username": f"calls{tag}", "password": "pw-calls-1234", "account_id": "U1", "entity_id": "E1",
                "primary": True, "identity": {"date_of_birth": "1970-01-01", "citizenship": "US",
                                              "country_of_residence": "US",
                                              "id_document": {"type": "passport", "number": "P1"}},
                "phones": [f"+1555{secrets.randbelow(10**7):07d}"], "balance_usd": 1, "jurisdiction": "US"}

    def full_login(user, record):
        start, calls = measure(api, lambda: api("POST", "/v1/login", {"username": user["username"],
                                                                      "password": user["password"]}))
        record and measured.setdefault("password step", calls)
        login_id, device_id = start.body["login_id"], start.body["default_device_id"]
        mark = len(api.outbox())
        _, calls = measure(api, lambda: api("POST", f"/v1/login/{login_id}/challenge", {"device_id": device_id}))
        record and measured.setdefault("sms challenge", calls)
        code = re.findall(r"\d{6}", [m for m in api.outbox()[mark:] if m["to"] == user["phones"][0]][-1]["body"])[0]
        verified, calls = measure(api, lambda: api("POST", f"/v1/login/{login_id}/verify", {"response": code}))
        record and measured.setdefault("verify", calls)
        _, calls = measure(api, lambda: api("GET", f"/v1/login/{login_id}"))
        record and measured.setdefault("login status", calls)
        return verified.body["session_token"]

    warm_up = user_body()
    api("POST", "/v1/admin/users", warm_up, signed=True)
    full_login(warm_up, record=False)

    user = user_body()
    _, measured["create user"] = measure(api, lambda: api("POST", "/v1/admin/users", user, signed=True))
    token = full_login(user, record=True)
    _, measured["me"] = measure(api, lambda: api("GET", "/v1/me", token=token))
    _, measured["logout"] = measure(api, lambda: api("POST", "/v1/logout", token=token))
    _, measured["admin view"] = measure(api, lambda: api("GET", f"/v1/admin/users/{user['username']}", signed=True))
    _, measured["audit"] = measure(api, lambda: api("GET", f"/v1/admin/users/{user['username']}/audit", signed=True))

    card_body = {"type": "dsc_plus", "seed_hex": "31" * 32, "pin": "4831"}
    api("POST", f"/v1/admin/users/{warm_up['username']}/devices", card_body, signed=True)
    card, measured["issue card"] = measure(
        api, lambda: api("POST", f"/v1/admin/users/{user['username']}/devices", card_body, signed=True))
    start = api("POST", "/v1/login", {"username": user["username"], "password": user["password"]})
    login_id = start.body["login_id"]
    challenge, measured["card challenge"] = measure(
        api, lambda: api("POST", f"/v1/login/{login_id}/challenge", {"device_id": card.body["device_id"]}))
    response = ocra_response("31" * 32, challenge.body["challenge"]["challenge_code"], "4831")
    verified, measured["card verify"] = measure(
        api, lambda: api("POST", f"/v1/login/{login_id}/verify", {"response": response}))
    assert verified.status == 200, verified
    scc = api("POST", f"/v1/admin/users/{user['username']}/devices", {"type": "scc"}, signed=True)
    start = api("POST", "/v1/login", {"username": user["username"], "password": user["password"]})
    _, measured["code card challenge"] = measure(
        api, lambda: api("POST", f"/v1/login/{start.body['login_id']}/challenge", {"device_id": scc.body["device_id"]}))

    measure_ib_key(api, user, measured)
    measure_sharing(api, user_body, measured)
    measure_withdrawal(api, user, measured)

    _, measured["wrong password"] = measure(api, lambda: api("POST", "/v1/login", {
        "username": user["username"], "password": "not-the-password"}))
    _, measured["unknown username"] = measure(api, lambda: api("POST", "/v1/login", {
        "username": f"nobody{secrets.token_hex(4)}", "password": "not-the-password"}))

    report = {flow: dict(Counter(f"{s}:{o}" for s, o in calls)) for flow, calls in measured.items()}
    print(report)
    for flow, calls in measured.items():
        assert len(calls) <= BUDGET[flow], (flow, report[flow])
    assert not [c for c in api.aws_calls() if c[1] == "Scan"], "a request path scanned a table"
    # Enumeration by timing: a wrong password makes the same calls, known username or not.
    assert measured["wrong password"] == measured["unknown username"], (report["wrong password"],
                                                                       report["unknown username"])
