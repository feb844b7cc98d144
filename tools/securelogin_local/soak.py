"""Memory soak of a running local stack: drives it with DSC+ logins and reports how its
resident memory grows, as Markdown.

``python -m securelogin_local.soak --base-url http://127.0.0.1:3000 --pid PID --requests 10000``

Each worker logs its own users in again and again: ``POST /v1/login``, ``POST
/v1/login/{id}/challenge`` (a DSC+ card), ``POST /v1/login/{id}/verify`` (one login in ten
first answers wrongly), ``GET /v1/me``, ``POST /v1/logout``. RSS is VmRSS summed over
``--pid`` and its descendants, read with no request in flight after the warm-up and then
every 1,000 requests (``--requests`` counts those after the warm-up). What the embedded
AWS holds (items by kind, the call log, the outbox) is counted at both ends, to tell real
data (audit events, flows that DynamoDB would keep until their TTL) from leaks.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from securelogin.crypto.ocra import ocra
from securelogin_local.sigv4 import LOCAL_CREDENTIALS

SUITE = "OCRA-1:HOTP-SHA256-8:QN06-PSHA1"
PIN = "4831"
MIB = 1024 * 1024


def rss_by_process(pid: int) -> dict[int, int]:
    """VmRSS in bytes of ``pid`` and of every process descended from it."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    rss, pending = {}, [pid]
    while pending:
        current = pending.pop()
        pending.extend(children.get(current, []))
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        rss[current] = next((int(line.split()[1]) * 1024 for line in status.splitlines()
                             if line.startswith("VmRSS:")), 0)
    return rss


def listening_pids(port: int) -> set[int]:
    """The processes that hold the socket listening on ``port`` (IPv4, this machine)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:  # 0A: LISTEN
            inodes.add(f"socket:[{fields[9]}]")
    pids = set()
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd) in inodes:
                pids.add(int(fd.parent.parent.name))
        except OSError:
            continue
    return pids


@dataclass
class Client:
    base_url: str

    def call(self, method: str, path: str, body: object = None, token: str | None = None,
             signed: bool = False) -> tuple[int, dict]:
        url = self.base_url + path
        data = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"} if data is not None else {}
        if token:
            headers["authorization"] = f"Bearer {token}"
        if signed:
            request = AWSRequest(method=method, url=url, data=data or b"", headers=headers)
            SigV4Auth(LOCAL_CREDENTIALS, "execute-api", "us-east-1").add_auth(request)
            headers = dict(request.headers.items())
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - a URL the caller gave
                status, payload = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        return status, (json.loads(payload) if payload else {})


@dataclass
class Soak:
    """Counts requests; at each measuring point, holds new requests back until none is in
    flight and then reads the RSS, so that no Argon2id hash (64 MiB while it runs) is in it."""

    client: Client
    pid: int
    requests: int
    warmup: int
    done: int = 0
    in_flight: int = 0
    paused: bool = False
    statuses: Counter = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    samples: list[tuple[int, float, dict[int, int]]] = field(default_factory=list)  # (requests, seconds, rss)
    lock: threading.Condition = field(default_factory=threading.Condition)
    started: float = 0.0
    state_before: AwsState | None = None

    def step(self, route: str, expected: int, method: str, path: str, body: object = None,
             token: str | None = None) -> dict:
        with self.lock:
            self.lock.wait_for(lambda: not self.paused)
            self.in_flight += 1
        status, answer = self.client.call(method, path, body, token)
        with self.lock:
            self.in_flight -= 1
            self.lock.notify_all()
            self.done += 1
            self.statuses[(route, status, status == expected)] += 1
            if status != expected and len(self.unexpected) < 10:
                self.unexpected.append(f"{route}: {status} {json.dumps(answer)[:200]}")
            if self.done == self.warmup or (self.done > self.warmup and self.done % 1000 == 0):
                self.measure()
        return answer if status == expected else {}

    def measure(self) -> None:
        """With the lock held: waits for the requests in flight, then samples the RSS."""
        self.paused = True
        self.lock.wait_for(lambda: self.in_flight == 0)
        if not self.samples:
            self.started = time.monotonic()
        self.samples.append((self.done, time.monotonic() - self.started, rss_by_process(self.pid)))
        if len(self.samples) == 1:
            self.state_before = AwsState.read(self.client)
        self.paused = False
        self.lock.notify_all()

    def login(self, user: dict, wrong_first: bool) -> None:
        start = self.step("POST /v1/login", 200, "POST", "/v1/login", {
            "username": user["username"], "password": user["password"], "client": {"platform": "portal"}})
        if not start:
            return
        login = f"/v1/login/{start['login_id']}"
        challenge = self.step("POST /v1/login/{id}/challenge", 200, "POST", f"{login}/challenge",
                              {"device_id": user["card_id"]})
        if not challenge:
            return
        answer = ocra(SUITE, bytes.fromhex(user["seed_hex"]), challenge["challenge"]["challenge_code"], pin=PIN)
        if wrong_first:
            wrong = str((int(answer) + 1) % 10**8).zfill(8)
            self.step("POST /v1/login/{id}/verify (wrong)", 401, "POST", f"{login}/verify", {"response": wrong})
        session = self.step("POST /v1/login/{id}/verify", 200, "POST", f"{login}/verify", {"response": answer})
        if not session:
            return
        self.step("GET /v1/me", 200, "GET", "/v1/me", token=session["session_token"])
        self.step("POST /v1/logout", 204, "POST", "/v1/logout", token=session["session_token"])

    def worker(self, users: list[dict]) -> None:
        cycle = 0
        while True:
            with self.lock:
                if self.done >= self.requests:
                    return
            self.login(users[cycle % len(users)], wrong_first=cycle % 10 == 9)
            cycle += 1


def create_user(client: Client) -> dict:
    tag = secrets.token_hex(4)
    user = {"username": f"soak{tag}", "password": "soak-password-" + tag, "account_id": f"U{tag}",
            "entity_id": f"E{tag}", "primary": True, "phones": [f"+1555{secrets.randbelow(10**7):07d}"],
            "identity": {"date_of_birth": "1970-01-01", "citizenship": "US", "country_of_residence": "US",
                         "id_document": {"type": "passport", "number": f"P{tag}"}},
            "balance_usd": 1000, "jurisdiction": "US"}
    status, answer = client.call("POST", "/v1/admin/users", user, signed=True)
    if status != 201:
        raise SystemExit(f"creating a user: {status} {answer}")
    seed_hex = secrets.token_hex(32)
    status, card = client.call("POST", f"/v1/admin/users/{user['username']}/devices",
                               {"type": "dsc_plus", "seed_hex": seed_hex, "pin": PIN}, signed=True)
    if status != 201:
        raise SystemExit(f"issuing a DSC+: {status} {card}")
    return {**user, "seed_hex": seed_hex, "card_id": card["device_id"]}


@dataclass
class AwsState:
    """What the embedded AWS holds: items by ``kind``, and the front's call log and outbox."""

    kinds: Counter
    calls: int
    messages: int

    @classmethod
    def read(cls, client: Client) -> AwsState:
        _, health = client.call("GET", "/_local/health")
        dynamodb = boto3.client("dynamodb", endpoint_url=health["aws_endpoint_url"], region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing")  # noqa: S106
        kinds: Counter = Counter()
        for table in dynamodb.list_tables()["TableNames"]:
            for page in dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="kind"):
                kinds.update(item.get("kind", {}).get("S", "?") for item in page["Items"])
        _, calls = client.call("GET", "/_local/aws-calls")
        _, outbox = client.call("GET", "/_local/outbox")
        return cls(kinds, len(calls.get("calls", [])), len(outbox.get("messages", [])))


def aws_port(client: Client) -> int:
    _, health = client.call("GET", "/_local/health")
    return urllib.parse.urlsplit(health["aws_endpoint_url"]).port or 80


def report(soak: Soak, before: AwsState, after: AwsState, aws_pids: set[int], users: int, workers: int) -> str:
    (first, _, start), (last, seconds, end) = soak.samples[0], soak.samples[-1]
    measured = last - first
    growth = sum(end.values()) - sum(start.values())
    lines = [f"## Memory soak: {measured} requests after {first} of warm-up, {users} users, {workers} workers\n",
             f"- RSS after warm-up: {sum(start.values()) / MIB:.1f} MiB; at the end: {sum(end.values()) / MIB:.1f} MiB",
             f"- growth: {growth / MIB:+.1f} MiB, {growth / MIB * 1000 / max(measured, 1):+.2f} MiB per 1,000 requests",
             f"- throughput after warm-up: {measured / max(seconds, 1e-9):.1f} requests/s\n",
             "| process | RSS after warm-up, MiB | at the end | growth |", "|---|---|---|---|"]
    for pid in sorted(set(start) | set(end)):
        role = "embedded AWS" if pid in aws_pids else "parent" if pid == soak.pid else "gateway"
        lines.append(f"| {pid} ({role}) | {start.get(pid, 0) / MIB:.1f} | {end.get(pid, 0) / MIB:.1f} "
                     f"| {(end.get(pid, 0) - start.get(pid, 0)) / MIB:+.1f} |")
    lines += ["", "| requests | seconds | RSS MiB | MiB per 1,000 since previous |", "|---|---|---|---|"]
    previous = soak.samples[0]
    for done, at, rss in soak.samples:
        step = (sum(rss.values()) - sum(previous[2].values())) / MIB * 1000 / max(done - previous[0], 1)
        lines.append(f"| {done} | {at:.0f} | {sum(rss.values()) / MIB:.1f} | {step:+.2f} |")
        previous = (done, at, rss)
    lines += ["", "| route | status | expected | count |", "|---|---|---|---|"]
    lines += [f"| {route} | {status} | {'yes' if ok else '**no**'} | {count} |"
              for (route, status, ok), count in sorted(soak.statuses.items())]
    lines += [f"- unexpected: {answer}" for answer in soak.unexpected]
    lines += ["", "| held by the embedded AWS | after warm-up | at the end |", "|---|---|---|",
              f"| AWS calls in the call log | {before.calls} | {after.calls} |",
              f"| messages in the outbox | {before.messages} | {after.messages} |"]
    lines += [f"| items of kind {kind} | {before.kinds[kind]} | {after.kinds[kind]} |"
              for kind in sorted(set(before.kinds) | set(after.kinds))]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Memory soak of a running local stack.")
    parser.add_argument("--base-url", default=os.environ.get("SLS_BASE_URL", "http://127.0.0.1:3000"))
    parser.add_argument("--pid", type=int, required=True, help="the local stack's process")
    parser.add_argument("--requests", type=int, default=10_000, help="requests measured, after the warm-up")
    parser.add_argument("--warmup", type=int, default=500, help="requests before the first measurement")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    if args.users < args.workers:
        parser.error("--users must be at least --workers: each worker logs its own users in")

    client = Client(args.base_url.rstrip("/"))
    users = [create_user(client) for _ in range(args.users)]
    soak = Soak(client, args.pid, args.requests + args.warmup, args.warmup)
    threads = [threading.Thread(target=soak.worker, args=(users[i::args.workers],)) for i in range(args.workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with soak.lock:  # the last request may not land on a multiple of 1,000
        if soak.samples[-1][0] != soak.done:
            soak.measure()
    print(report(soak, soak.state_before, AwsState.read(client), listening_pids(aws_port(client)),
                 args.users, args.workers))


if __name__ == "__main__":
    main()
