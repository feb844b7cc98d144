"""The bench's Markdown report, from its results (a plain dict, also written as JSON):
the targets and their verdicts first, then how to read the numbers, then each measurement.
Pure: it formats what was measured and measures nothing."""
from __future__ import annotations

from typing import Any

from securelogin_local.bench.stats import Target, fmt, markdown_table, ratio, targets_table

VERIFY = "POST /v1/login/{id}/verify (DSC+)"
CPU_PER_VERIFY_MS = 10.0
THROUGHPUT_VS_PEER = 2.0
SCALE_RATIO = 1.5
COLD_START_RATIO = 1.5


def _ok(section: Any) -> bool:
    return isinstance(section, dict) and "error" not in section


def _missing(section: Any, what: str) -> str:
    if isinstance(section, dict) and "error" in section:
        return str(section["error"])
    return f"{what} was not run (see --only)"


def _request(results: dict[str, Any], name: str) -> dict[str, Any] | None:
    section = results.get("inprocess")
    if not _ok(section):
        return None
    return next((r for r in section["requests"] if r["name"] == name), None)


# Packages whose CPU is the cost of making AWS calls (building, signing, sending, parsing).
AWS_CLIENT = ("botocore", "pynamodb", "urllib3", "jmespath", "dateutil", "stdlib http", "stdlib email")


def _shares(packages: list[dict[str, Any]], top: int = 4) -> str:
    return ", ".join(f"{p['package']} {p['share']:.0f}%" for p in packages[:top])


def aws_client_share(packages: list[dict[str, Any]]) -> float:
    return sum(p["share"] for p in packages if p["package"].startswith(AWS_CLIENT))


def _load_round(results: dict[str, Any], clients: int, extra_items: int = 0) -> dict[str, Any] | None:
    section = results.get("load")
    if not _ok(section):
        return None
    return next((r for r in section["rounds"] if r["clients"] == clients and r["extra_items"] == extra_items
                 and "not_run" not in r), None)


def cpu_target(results: dict[str, Any]) -> Target:
    verify = _request(results, VERIFY)
    why = ""
    if verify:
        section = results["inprocess"]
        packages = section["verify_cpu_by_package"]
        why = (f"{verify['aws_calls']:.0f} AWS calls per verify, and {aws_client_share(packages):.0f}% of its CPU "
               f"(profiled) is making them: {_shares(packages)}")
    return Target("Service CPU per verify (handler process alone, mean)", verify["cpu_ms"]["mean"] if verify else None,
                  CPU_PER_VERIFY_MS, "ms", why=why, missing=_missing(results.get("inprocess"), "the in-process run"))


def throughput_target(results: dict[str, Any]) -> Target:
    section = results.get("side_by_side")
    measured, why = None, ""
    if _ok(section):
        four = section["throughput_4_threads"]
        measured = four["ratio_ours_over_theirs"]
        why = f"{four['ours_per_s']:.0f}/s against {four['privacyidea_per_s']:.0f}/s"
        whole = _load_round(results, 4)
        if whole:
            why += (f"; the stack's processes spend {whole['stack_cpu_ms_per_verify']:.0f} ms CPU per verify with "
                    f"4 clients (the load section), a ceiling of about {2000 / whole['stack_cpu_ms_per_verify']:.0f}"
                    "/s on 2 free cores")
        aws, verify = results.get("inprocess"), _request(results, VERIFY)
        if whole and _ok(aws) and verify and aws.get("aws_cpu_ms_per_call"):
            service, moto = verify["cpu_ms"]["mean"], verify["aws_calls"] * aws["aws_cpu_ms_per_call"]
            rest = whole["stack_cpu_ms_per_verify"] - service - moto
            why += (f"; of it, the service {service:.0f} ms, moto about {moto:.0f} ms ({verify['aws_calls']:.0f} "
                    f"calls x {aws['aws_cpu_ms_per_call']:.1f} ms, one at a time) and the local HTTP server and "
                    f"gateway the remaining {max(rest, 0):.0f} ms: only the service's share is paid on AWS")
    return Target("Verify throughput with 4 clients, ours / privacyIDEA's (side_by_side.py)", measured,
                  THROUGHPUT_VS_PEER, "x", at_least=True, why=why, missing=_missing(section, "side_by_side.py"))


def scale_target(results: dict[str, Any]) -> Target:
    section = results.get("scale_check")
    measured = section["ratio_after_over_before"] if _ok(section) else None
    why = ""
    inprocess = results.get("inprocess")
    if _ok(inprocess):
        grown = [op for op in inprocess["scale"]["operations"] if op["ms_fresh"] and op["ms_filled"]]
        grown.sort(key=lambda op: op["ms_filled"] / op["ms_fresh"], reverse=True)
        if grown:
            why = "a verify's AWS calls on a fresh table and with 20,000 more items: " + ", ".join(
                f"{op['call']} {op['ms_fresh']:.0f} -> {op['ms_filled']:.0f} ms" for op in grown[:3])
            why += "; the service's CPU per verify stays " + fmt(inprocess["scale"]["verify_cpu_ms_filled"], "ms")
    return Target("Verify time with 20,000 extra items / fresh stack (scale_check.py)", measured, SCALE_RATIO, "x",
                  why=why, missing=_missing(section, "scale_check.py"))


def cold_start_targets(results: dict[str, Any]) -> list[Target]:
    section = results.get("coldstart")
    if not _ok(section):
        return [Target("Cold start / `import boto3`, each built function", None, COLD_START_RATIO, "x",
                       missing=_missing(section, "the cold start run"))]
    functions = [f for f in section["functions"] if f["name"].endswith("Function")]
    worst = max(functions, key=lambda f: f["ratio"])
    over = [f["name"] for f in functions if f["ratio"] > COLD_START_RATIO]
    imports = ", ".join(f"{p['package']} {p['ms']:.0f} ms" for p in section["slowest_imports"][:5])
    why = (f"{len(over)} of {len(functions)} functions over; {worst['name']}: {worst['wall_ms']:.0f} ms against "
           f"{section['baseline_ms']:.0f} ms, of which its first build {worst['build_ms']:.0f} ms; import time "
           f"(self) of {section['slowest']} by package: {imports}")
    return [Target(f"Cold start / `import boto3`, worst built function ({worst['name']})", worst["ratio"],
                   COLD_START_RATIO, "x", why=why)]


def targets(results: dict[str, Any]) -> list[Target]:
    return [cpu_target(results), throughput_target(results), scale_target(results), *cold_start_targets(results)]


# ------------------------------------------------------------------ sections


def _inprocess(section: dict[str, Any], _: dict[str, Any]) -> list[str]:
    rows = [["request", "CPU ms mean", "CPU ms p50 / p95", "wall ms p50 / p95", "AWS calls", "which"]]
    for r in section["requests"]:
        rows.append([r["name"], fmt(r["cpu_ms"]["mean"]), f"{fmt(r['cpu_ms']['p50'])} / {fmt(r['cpu_ms']['p95'])}",
                     f"{fmt(r['wall_ms']['p50'])} / {fmt(r['wall_ms']['p95'])}", f"{r['aws_calls']:.1f}", r["calls"]])
    packages = [["package", "share of a verify's CPU"]] + [
        [p["package"], f"{p['share']:.0f}%"] for p in section["verify_cpu_by_package"]]
    return [
        f"The handlers in the bench's process, through the local gateway (authorizer included), against the "
        f"embedded AWS in another process; {section['iterations']} sessions, each a login (password, card), "
        "`/v1/me` and a withdrawal confirmed by the card. CPU is `time.process_time()` of the bench process "
        "around each request; wall is the same request's elapsed time, waits on the embedded AWS included.",
        "", markdown_table(rows), "",
        f"The embedded AWS (moto, in its own process) spent {fmt(section.get('aws_cpu_ms_per_call'))} ms CPU per AWS "
        "call over the same requests: local wall times are mostly that.", "",
        "Where a verify's CPU goes (cProfile with a CPU clock; built-ins counted to their callers):", "",
        markdown_table(packages),
    ]


def _load(section: dict[str, Any], results: dict[str, Any]) -> list[str]:
    rows = [["extra items", "clients", "verifies", "p50 / p95 ms", "verifies/s", "AWS calls / verify",
             "stack CPU ms / verify", "errors"]]
    for r in section["rounds"]:
        if "not_run" in r:
            rows.append([f"{r['extra_items']:,}", r["clients"], "-", "-", "-", "-", "-", r["not_run"]])
            continue
        latency = r["latency_ms"]
        rows.append([f"{r['extra_items']:,}", r["clients"], r["verifies"],
                     f"{fmt(latency['p50'])} / {fmt(latency['p95'])}" if latency else "-", fmt(r["per_second"]),
                     f"{r['aws_calls_per_verify']:.1f}", fmt(r["stack_cpu_ms_per_verify"]),
                     f"{r['error_count']} {' '.join(r['errors'])}".strip() if r["error_count"] else "0"])
    levels = [["extra items", "items in the table", "written in", "moto: Query of a user, ms",
               "moto: GetItem, ms", "stack RSS MiB (summed)", "stack PSS MiB"]]
    for level in section["levels"]:
        levels.append([f"{level['extra_items']:,}", f"{level['items']:,}", f"{level['fill_seconds']:.0f} s",
                       fmt(level.get("query_ms")), fmt(level.get("get_item_ms")), fmt(level["memory"]["rss_mib"]),
                       fmt(level["memory"]["pss_mib"])])
    notes = []
    first_query = section["levels"][0].get("query_ms") if section["levels"] else None
    for level in section["levels"]:
        failed = next((r["not_run"] for r in section["rounds"] if r["extra_items"] == level["extra_items"]
                       and r.get("not_run", "").startswith("failed")), None)
        if failed and level.get("query_ms") and first_query:
            notes += ["", f"At {level['extra_items']:,} extra items the round {failed}. The embedded AWS's Query of "
                      f"one user's partition took {level['query_ms']:.0f} ms there, against {first_query:.0f} ms "
                      "on the fresh table: moto scans every item of the table for a Query (DynamoDB reads only the "
                      "partition), and a login start's Query, queued behind other calls, passed the service's 2 s "
                      "read timeout. The service is not at fault; the embedded AWS would need an indexed Query."]
    memory = [["when", "processes", "RSS MiB (summed)", "PSS MiB"]]
    for label, m in (("fresh stack", section["memory_fresh"]), ("every function loaded", section["memory_warm"]),
                     ("end", section["memory_end"])):
        memory.append([label, m["processes"], fmt(m["rss_mib"]), fmt(m["pss_mib"])])
    return [
        "`python -m securelogin_local` (as `make run`) in a session of its own; each client a thread with its own "
        "user, DSC+ card and kept-alive connection. Logins are started and challenged untimed, then all clients "
        "answer together: latency is each verify's, throughput the right answers over the round's span. AWS calls "
        "come from `/_local/aws-calls`; stack CPU is the CPU of all the stack's processes (the embedded AWS "
        "included) over the round, per verify. Extra items: copies of a real user's items (profile, devices, "
        "answer slots, audit events) in partitions of their own, written with BatchWriteItem. A round that "
        "fails or would not fit its time budget is said so, and the rest of its level skipped.",
        "", markdown_table(rows), *notes, "",
        "Each level: the table, the embedded AWS's own time for a Query of one user's partition and a GetItem "
        "(from outside the stack, median of 3), and the memory of the stack's processes (RSS summed counts "
        "pages the forked workers share once per process; PSS shares them out):", "", markdown_table(levels), "",
        "Memory of the stack's processes:", "", markdown_table(memory),
    ]


def _scale(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    check = results.get("scale_check")
    if _ok(check):
        lines += [f"`scale_check.py` (fresh stack): a verify's median {check['verify_median_ms_before']} ms before, "
                  f"{check['verify_median_ms_after']} ms after {check['items_added']:,} items: "
                  f"{check['ratio_after_over_before']}x.", ""]
    elif check is not None:
        lines += [f"`scale_check.py`: {_missing(check, 'scale_check.py')}", ""]
    inprocess = results.get("inprocess")
    if _ok(inprocess):
        scale = inprocess["scale"]
        rows = [["AWS call in a verify", "ms, fresh table", f"ms, {scale['items_added']:,} more items"]]
        rows += [[op["call"], fmt(op["ms_fresh"]), fmt(op["ms_filled"])] for op in scale["operations"]]
        lines += [f"Each AWS call of a verify timed as it leaves the handler process (median), on the in-process "
                  f"stack's table ({scale['items_before']} items) and after {scale['items_added']:,} more "
                  f"(written in {scale['fill_seconds']:.0f} s). The verify: {fmt(scale['verify_wall_ms_fresh'])} -> "
                  f"{fmt(scale['verify_wall_ms_filled'])} ms wall; the service's CPU: "
                  f"{fmt(scale['verify_cpu_ms_filled'])} ms with the items.", "", markdown_table(rows)]
    return lines


def _coldstart(section: dict[str, Any], _: dict[str, Any]) -> list[str]:
    rows = [["function", "process ms", "/ import boto3", "import ms", "first build ms", "peak RSS MiB"]]
    for f in section["functions"]:
        rows.append([f["name"], fmt(f["wall_ms"]), f"{f['ratio']:.2f}", fmt(f["import_ms"]), fmt(f["build_ms"]),
                     fmt(f["rss_mib"])])
    imports = [["package", "import ms (self)"]] + [[p["package"], fmt(p["ms"])] for p in section["slowest_imports"]]
    bytecode = section["bytecode"]
    return [
        f"`sam build` of template.yaml for this machine ({section['arch']}; the deployed build is arm64), through "
        f"the Makefile's build rules: {bytecode['compiled']} of {bytecode['modules']} modules ship their bytecode. "
        "Each run is a fresh `python -I -S` whose path is the function's directory and the layer's `python/`, "
        "importing the handler and building what its first request needs; timed from start to exit, median of "
        f"{section['runs']}, interleaved. The baseline runs `import boto3` from the same layer the same way. "
        "\"Without bytecode\" is the same function from a copy without `__pycache__`, read-only (`-B`), as "
        "Lambda ran it before the build compiled it.", "", markdown_table(rows), "",
        f"Where the slowest, {section['slowest']}, spends its import time (`-X importtime`, a separate run):", "",
        markdown_table(imports),
    ]


def _side_by_side(section: dict[str, Any], results: dict[str, Any]) -> list[str]:
    verify, both = section["verify"], section["challenge_and_verify"]
    four, memory = section["throughput_4_threads"], section["memory_rss_mb"]
    cpu = verify["cpu_ms_per_request"]
    rows = [["measure", "ours", "privacyIDEA", "ours / theirs"],
            ["verify, median ms", verify["ours"]["median_ms"], verify["privacyidea"]["median_ms"],
             verify["ratio_median_ours_over_theirs"]],
            ["CPU ms per verify (side_by_side.py's server process tree)", cpu["ours"], cpu["privacyidea"],
             fmt(ratio(cpu["ours"], cpu["privacyidea"]))],
            ["challenge + verify, median ms", both["ours"]["median_ms"], both["privacyidea"]["median_ms"],
             both["ratio_median_ours_over_theirs"]],
            ["verifies/s, 4 clients", four["ours_per_s"], four["privacyidea_per_s"], four["ratio_ours_over_theirs"]],
            ["memory RSS MiB (side_by_side.py's server process tree)", memory["ours_stack_incl_embedded_aws"],
             memory["privacyidea_gunicorn_tree"],
             fmt(ratio(memory["ours_stack_incl_embedded_aws"], memory["privacyidea_gunicorn_tree"]))]]
    notes = []
    whole, load = _load_round(results, 4), results.get("load")
    if whole and _ok(load):
        rows.append(["CPU ms per verify, every process of our stack (load section, 4 clients)",
                     fmt(whole["stack_cpu_ms_per_verify"]), cpu["privacyidea"],
                     fmt(ratio(whole["stack_cpu_ms_per_verify"], cpu["privacyidea"]))])
        rows.append(["memory RSS MiB, every process of our stack (load section, every function loaded)",
                     fmt(load["memory_warm"]["rss_mib"]), memory["privacyidea_gunicorn_tree"],
                     fmt(ratio(load["memory_warm"]["rss_mib"], memory["privacyidea_gunicorn_tree"]))])
        if load["memory_warm"]["processes"] > 1:
            notes = ["", "side_by_side.py finds our stack by the process listening on its port and counts that "
                     "process and its children. The stack's gateway workers share the listening socket, so it may "
                     "find a worker alone: its CPU and memory for ours then leave out the other processes (the "
                     "embedded AWS among them). The last two rows count every process of the stack."]
    return [f"`../shared/peer/side_by_side.py` (n = {section['n']}), ours on a fresh local stack, privacyIDEA "
            "3.14 on gunicorn with 2 workers and SQLite; a verify is a DSC+ answer for us, a right HOTP value for "
            "privacyIDEA. Throughput and times are measured by the clients.", "", markdown_table(rows), *notes]


HOW_TO_READ = """\
- **The service and the embedded AWS are measured apart.** "Service CPU" is the handler
  process alone: the handlers, the domain code, PynamoDB, and botocore building, signing and
  parsing every AWS call, which the service pays in Lambda too. The embedded AWS (moto) runs
  in another process and is not in it. In Lambda, CPU comes with memory (a full vCPU at
  1,769 MB): at 512 MB, 10 ms of CPU here is roughly 35 ms of a function's time there.
- **Local wall times are mostly moto**, which serves one AWS call at a time and spends
  several milliseconds of CPU on each. On AWS a DynamoDB call takes a few milliseconds and
  calls do not queue, so what carries over is the count of AWS calls per request (and
  docs/aws-calls.md), not the local milliseconds. For the same reason the local stack's
  throughput is capped by moto: about 1,000 / (calls per verify x moto ms per call) verifies/s.
- **Argon2id dominates every request that checks a password** (~100 ms, RFC 9106's 64 MiB
  and 3 passes, by design), so the login start is shown apart; answering a challenge never
  pays it.
- **Cold starts** are those of the `sam build` artifact (bytecode compiled at build time),
  compared with `python -c "import boto3"` run the same way; Lambda adds its runtime's own
  start to both. The import breakdown shows what a faster start would have to cut.
- **Wall-clock numbers depend on the machine's load** (latency, throughput, cold starts);
  CPU times much less. The load average at the start and end of the run is in the heading:
  above the core count, compare runs with care.
- **Targets** are shown here and never asserted in timed tests: each is met, or short by a
  factor, with what the measurements say about why."""


def render(results: dict[str, Any]) -> str:
    meta = results.get("meta", {})
    out = [
        "# Benchmark", "",
        f"`make bench` on {meta.get('machine', 'this machine')} ({meta.get('cores', '?')} cores, Python "
        f"{meta.get('python', '?')}), {meta.get('date', '')}, code at {meta.get('revision', '?')}; load average "
        f"{meta.get('load_before', '?')} at the start and {meta.get('load_after', '?')} at the end; "
        f"{meta.get('minutes', 0):.0f} minutes{' (--quick: fewer samples)' if meta.get('quick') else ''}.",
        "", "## Targets", "", targets_table(targets(results)), "", "## How to read it", "", HOW_TO_READ, "",
    ]
    sections = [
        ("## Service CPU per request (handlers in-process, embedded AWS apart)", "inprocess", _inprocess),
        ("## Verify under load: 1, 4 and 16 clients, 0 to 100,000 extra items", "load", _load),
        ("## Cold start of the built functions", "coldstart", _coldstart),
        ("## privacyIDEA side by side", "side_by_side", _side_by_side),
    ]
    for heading, key, render_section in sections:
        section = results.get(key)
        if section is None:
            continue
        out += [heading, ""]
        out += render_section(section, results) if _ok(section) else [f"Not measured: {_missing(section, key)}"]
        out.append("")
        if key == "load" and (scale := _scale(results)):
            out += ["## Table size: a verify with 20,000 more items", "", *scale, ""]
    return "\n".join(out).rstrip() + "\n"
