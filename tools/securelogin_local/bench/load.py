"""Verifies against a running local stack (``python -m securelogin_local``, as ``make run``
starts it): latency, throughput and AWS calls per verify at 1, 4 and 16 clients, with 0,
10,000 and 100,000 extra items in the table, and the memory of the stack's processes.

Each client has its own user and DSC+ card and its own kept-alive connection. Its logins
are started and challenged first, untimed (a login start is an Argon2id hash); then all
clients answer at once and only the verifies are timed."""
from __future__ import annotations

import concurrent.futures
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from securelogin_local.bench import filler, flows
from securelogin_local.bench.stats import summarize

LEVELS = (0, 10_000, 100_000)
CLIENTS = (1, 4, 16)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class StackProcess:
    """``python -m securelogin_local`` in a session of its own, so that all its processes
    (the gateway workers, the embedded AWS) are found, measured and stopped together."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="bench-stack-", suffix=".log", delete=False)  # noqa: SIM115
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, the project's own module
            [sys.executable, "-m", "securelogin_local", "--port", str(self.port), "--no-seed"],
            env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        caller = flows.HttpCaller(self.base_url, timeout=5)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the stack ended ({self.process.returncode}); see {self.log.name}")
            try:
                status, body = caller("GET", "/_local/health")
                if status == 200:
                    self.aws_endpoint_url = str(body["aws_endpoint_url"])
                    return
            except OSError:
                pass
            finally:
                caller.close()
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the stack did not answer in {timeout:.0f} s; see {self.log.name}")

    def pids(self) -> list[int]:
        """Every process of the stack's session."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        fields = stat.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[3]) == self.process.pid:  # field 6 of stat: the session id
                    found.append(int(entry))
        return found

    def memory(self) -> dict[str, float]:
        """RSS summed over the processes (counts pages shared by forked workers once per
        process) and PSS (shares them out: what the processes cost together)."""
        rss = pss = 0
        pids = self.pids()
        for pid in pids:
            try:
                with open(f"/proc/{pid}/smaps_rollup") as rollup:
                    for line in rollup:
                        if line.startswith("Rss:"):
                            rss += int(line.split()[1])
                        elif line.startswith("Pss:"):
                            pss += int(line.split()[1])
            except OSError:
                continue
        return {"processes": len(pids), "rss_mib": rss / 1024, "pss_mib": pss / 1024}

    def cpu_seconds(self) -> float:
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
            except OSError:
                continue
        return total

    def aws_call_count(self) -> int:
        caller = flows.HttpCaller(self.base_url)
        try:
            status, body = caller("GET", "/_local/aws-calls")
        finally:
            caller.close()
        if status != 200:
            raise RuntimeError(f"/_local/aws-calls: {status}")
        return len(body["calls"])

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


@contextmanager
def running_stack() -> Iterator[StackProcess]:
    stack = StackProcess()
    try:
        yield stack
    finally:
        stack.stop()


def verifies_per_client(clients: int, total: int, per_client_min: int, one_verify_s: float | None,
                        budget_s: float) -> int:
    """How many verifies each client makes: about ``total`` in all, at least ``per_client_min``
    each, but no more than fit ``budget_s`` if the stack answered one at a time, taking
    ``one_verify_s`` each (the embedded AWS serves one call at a time). 0: not even one each."""
    wanted = max(per_client_min, math.ceil(total / clients))
    if not one_verify_s:
        return wanted
    return min(wanted, int(budget_s / one_verify_s) // clients)


def _prepared(stack: StackProcess, people: list[flows.Person], per_client: int) -> list[list[tuple[str, str]]]:
    """Per client, logins started and challenged: (login_id, right answer)."""
    local = threading.local()

    def prepare(person: flows.Person) -> tuple[str, str]:
        if not hasattr(local, "caller"):
            local.caller = flows.HttpCaller(stack.base_url)
        login_id = flows.login_start(local.caller, person)
        return login_id, flows.login_challenge(local.caller, person, login_id)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return [list(pool.map(prepare, [person] * per_client)) for person in people]


def verify_round(stack: StackProcess, people: list[flows.Person], per_client: int) -> dict[str, Any]:
    work = _prepared(stack, people, per_client)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(len(people) + 1)
    spans: list[tuple[float, float]] = []

    def client(logins: list[tuple[str, str]]) -> None:
        caller = flows.HttpCaller(stack.base_url)
        caller.connect()  # before the start
        ready.wait()
        first = time.perf_counter()
        for login_id, answer in logins:
            started = time.perf_counter()
            try:
                status, body = caller("POST", f"/v1/login/{login_id}/verify", {"response": answer})
            except OSError as error:
                status, body = 0, {"error": {"code": type(error).__name__}}
            took = time.perf_counter() - started
            with lock:
                if status == 200:
                    latencies.append(took * 1000)
                else:
                    errors.append(f"{status} {(body.get('error') or {}).get('code', '')}".strip())
        with lock:
            spans.append((first, time.perf_counter()))
        caller.close()

    calls, cpu = stack.aws_call_count(), stack.cpu_seconds()
    threads = [threading.Thread(target=client, args=(logins,)) for logins in work]
    for thread in threads:
        thread.start()
    ready.wait()
    for thread in threads:
        thread.join()
    cpu, calls = stack.cpu_seconds() - cpu, stack.aws_call_count() - calls
    sent = len(people) * per_client
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    return {
        "clients": len(people), "verifies": sent, "ok": len(latencies),
        "errors": sorted(set(errors)), "error_count": len(errors),
        "latency_ms": asdict(summarize(latencies)) if latencies else None,
        "per_second": len(latencies) / elapsed if elapsed > 0 else None,
        "aws_calls_per_verify": calls / sent, "stack_cpu_ms_per_verify": 1000 * cpu / sent,
    }


def probe(client: Any, table: str, username: str, runs: int = 3) -> dict[str, float]:
    """The embedded AWS's own time for a Query of one user's partition and a GetItem of its
    profile, from outside the stack (median ms): what a table's size does to moto itself."""
    def timed(action: Callable[[], object]) -> float:
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            action()
            samples.append((time.perf_counter() - started) * 1000)
        return sorted(samples)[len(samples) // 2]

    key = {"pk": {"S": f"USER#{username}"}, "sk": {"S": "PROFILE"}}
    return {
        "query_ms": timed(lambda: client.query(TableName=table, KeyConditionExpression="pk = :pk",
                                               ExpressionAttributeValues={":pk": key["pk"]})),
        "get_item_ms": timed(lambda: client.get_item(TableName=table, Key=key)),
    }


def run(levels: tuple[int, ...] = LEVELS, clients: tuple[int, ...] = CLIENTS, total: int = 48,
        per_client_min: int = 6, budget_s: float = 60, log: Callable[[str], None] = print) -> dict[str, Any]:
    result: dict[str, Any] = {"rounds": [], "levels": []}
    with running_stack() as stack:
        log(f"load: stack on {stack.base_url}, {len(stack.pids())} processes")
        result["memory_fresh"] = stack.memory()
        admin = flows.HttpCaller(stack.base_url)
        people = [flows.create_person(admin) for _ in range(max(clients))]
        model = flows.create_person(admin)  # the filler's model: a user with a card
        verify_round(stack, people, 1)  # every client's first verify: loads the functions where they run
        result["memory_warm"] = stack.memory()
        client = filler.dynamodb(stack.aws_endpoint_url)
        table = filler.table_name(client)
        template = filler.template_items(client, table, model.username)
        added, copy = 0, 0
        for level in levels:
            fill_seconds = 0.0
            if level > added:
                log(f"load: filling to {level} extra items ...")
                fill_seconds, copy = filler.fill(client, table, template, model.username, level - added, copy)
                added = level
            result["levels"].append({"extra_items": level, "fill_seconds": fill_seconds,
                                     "items": filler.item_count(client, table), "memory": stack.memory(),
                                     **probe(client, table, people[0].username)})
            one_verify_s, failed = None, None
            for n in clients:
                per_client = verifies_per_client(n, total, per_client_min, one_verify_s, budget_s)
                if failed or per_client == 0:
                    why = failed or (f"not run: one verify takes {one_verify_s:.1f} s, so {n} clients would not "
                                     f"fit {budget_s:.0f} s")
                    result["rounds"].append({"extra_items": level, "clients": n, "not_run": why})
                    continue
                log(f"load: {level} extra items, {n} clients x {per_client} verifies ...")
                try:
                    measured = verify_round(stack, people[:n], per_client)
                except (flows.BenchError, OSError) as error:  # the rest of this level would fail alike
                    log(f"load: {level} extra items, {n} clients: {error}")
                    result["rounds"].append({"extra_items": level, "clients": n, "not_run": f"failed: {error}"})
                    failed = f"not run: the {n}-client round failed"
                    continue
                measured["extra_items"] = level
                result["rounds"].append(measured)
                if measured["latency_ms"] and n == 1:
                    one_verify_s = measured["latency_ms"]["p50"] / 1000
        result["memory_end"] = stack.memory()
    return result


if __name__ == "__main__":  # a quick look: python -m securelogin_local.bench.load
    import json

    json.dump(run(levels=(0, 2000), clients=(1, 4), total=8, per_client_min=2), sys.stdout, indent=1)
