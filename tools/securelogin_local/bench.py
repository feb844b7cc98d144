"""``make bench``: what the service costs, measured on this machine.

1. The crypto a request pays for: Argon2id, OCRA, envelope sealing, ECDSA.
2. Each function's cold start: importing its module and building what its first request
   needs (no AWS call may happen in either), and the memory of a fresh process that did so.
3. Requests end to end through a local stack (gateway, handler, embedded AWS), per step.

Numbers are milliseconds (p50 / p95) and MiB; it prints a Markdown report.
"""
from __future__ import annotations

import base64
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from securelogin.crypto import envelope
from securelogin.crypto.ocra import ocra
from securelogin.crypto.passwords import hash_password, verify_password
from securelogin.crypto.signatures import signature_is_valid
from securelogin_local.template import Stack, load_template

COLD_START = """
import importlib.util, json, os, re, sys, time
os.environ.update(TABLE_NAME="bench-table", KMS_KEY_ID="bench-key", AWS_REGION="us-east-1")
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from securelogin import runtime  # what the first request builds (no AWS call is made)
first_build = {"AuthorizerFunction": runtime.session_service, "FallbackFunction": lambda: None}
first_build.get(sys.argv[2], runtime.services)()
elapsed = (time.perf_counter() - started) * 1000
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec
peak_kib = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"ms": elapsed, "rss_mib": peak_kib / 1024}))
"""


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{statistics.median(ordered):.2f} / {p95:.2f}"


def timed(action: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def crypto_costs() -> list[tuple[str, str]]:
    password_hash = hash_password("a password to check")
    key, wrapped = os.urandom(32), b"wrapped"
    sealed = envelope.seal(key, wrapped, b"x" * 64, "ctx")
    phone = ec.generate_private_key(ec.SECP256R1())
    spki = base64.b64encode(phone.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    message = b"txn|nonce|approve"
    signature = base64.b64encode(phone.sign(message, ec.ECDSA(hashes.SHA256()))).decode()
    seed = bytes.fromhex("31" * 32)
    return [
        ("Argon2id verify (password, PIN)", percentiles(timed(lambda: verify_password(password_hash, "x"), 20))),
        ("OCRA response (DSC+, QN06-PSHA1)", percentiles(timed(
            lambda: ocra("OCRA-1:HOTP-SHA256-8:QN06-PSHA1", seed, "123456", pin="4831"), 2000))),
        ("AES-GCM seal + open (cached data key)", percentiles(timed(
            lambda: envelope.open_sealed(key, envelope.seal(key, wrapped, b"x" * 64, "ctx"), "ctx"), 2000))),
        ("ECDSA P-256 verify (push answer)", percentiles(timed(
            lambda: signature_is_valid(spki, message, signature), 500))),
        ("sealed value size (64-byte secret)", f"{len(sealed)} characters"),
    ]


def cold_starts() -> list[tuple[str, str, str]]:
    stack = Stack.offline(load_template())
    rows = []
    for name, spec in sorted(stack.functions().items()):
        path = spec.code_uri / "app.py"
        runs = [json.loads(subprocess.run([sys.executable, "-c", COLD_START, str(path), name],  # noqa: S603
                                          capture_output=True, text=True, check=True).stdout) for _ in range(3)]
        rows.append((name, f"{statistics.median(r['ms'] for r in runs):.0f}",
                     f"{statistics.median(r['rss_mib'] for r in runs):.0f}"))
    return rows


def main() -> None:
    print("## Crypto per request (ms, p50 / p95)\n\n| what | cost |\n|---|---|")
    for name, cost in crypto_costs():
        print(f"| {name} | {cost} |")
    print("\n## Cold start per function (import + first build, fresh process)\n")
    print("| function | ms | process max RSS MiB |\n|---|---|---|")
    for name, ms, rss in cold_starts():
        print(f"| {name} | {ms} | {rss} |")
    print("\n## Requests through the local stack (ms, p50 / p95)\n\n| request | latency |\n|---|---|")
    for name, cost in http_latencies():
        print(f"| {name} | {cost} |")


def http_latencies(users: int = 20) -> list[tuple[str, str]]:
    """SMS logins of ``users`` fresh users through a local stack in a subprocess."""
    import socket
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    stack = subprocess.Popen([sys.executable, "-m", "securelogin_local", "--port", str(port), "--no-seed"],  # noqa: S603
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def call(method: str, path: str, body: object = None, token: str | None = None, signed: bool = False) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        if signed:
            request = AWSRequest(method=method, url=base + path, data=data or b"", headers=headers)
            SigV4Auth(Credentials("testing", "testing"), "execute-api", "us-east-1").add_auth(request)
            headers = dict(request.headers.items())
        request = urllib.request.Request(base + path, data=data, method=method, headers=headers)  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - our own loopback stack
            return json.loads(answer.read() or b"{}")

    try:
        for _ in range(150):
            try:
                call("GET", "/_local/health")
                break
            except OSError:
                time.sleep(0.1)
        steps: dict[str, list[float]] = {}

        def step(name: str, action: Callable[[], dict]) -> dict:
            started = time.perf_counter()
            answer = action()
            steps.setdefault(name, []).append((time.perf_counter() - started) * 1000)
            return answer

        for _ in range(users):
            tag = secrets.token_hex(4)
            person = {"username": f"bench{tag}", "password": "bench-password-1", "account_id": "U1",
                      "entity_id": "E1", "primary": True, "phones": [f"+1555{secrets.randbelow(10**7):07d}"],
                      "identity": {"date_of_birth": "1970-01-01", "citizenship": "US", "country_of_residence": "US",
                                   "id_document": {"type": "passport", "number": tag}},
                      "balance_usd": 1, "jurisdiction": "US"}
            step("POST /v1/admin/users", lambda p=person: call("POST", "/v1/admin/users", p, signed=True))
            start = step("POST /v1/login", lambda p=person: call("POST", "/v1/login", {
                "username": p["username"], "password": p["password"]}))
            seen = len(call("GET", "/_local/outbox")["messages"])
            step("POST /v1/login/{id}/challenge (SMS)", lambda s=start: call(
                "POST", f"/v1/login/{s['login_id']}/challenge", {"device_id": s["default_device_id"]}))
            body = call("GET", "/_local/outbox")["messages"][seen:][-1]["body"]
            code = re.findall(r"\d{6}", body)[0]
            done = step("POST /v1/login/{id}/verify", lambda s=start, c=code: call(
                "POST", f"/v1/login/{s['login_id']}/verify", {"response": c}))
            step("GET /v1/me", lambda d=done: call("GET", "/v1/me", token=d["session_token"]))
        return [(name, percentiles(samples)) for name, samples in steps.items()]
    finally:
        stack.terminate()
        stack.wait(timeout=10)


if __name__ == "__main__":
    main()
