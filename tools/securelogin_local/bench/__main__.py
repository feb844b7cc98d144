"""``python -m securelogin_local.bench [--write docs/benchmark.md] [--quick] [--only ...]``

Runs each measurement in turn (a failing one is reported as such, and the others still
run), prints the Markdown report and, with --write, writes it."""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from securelogin_local.bench import coldstart, inprocess, load, peer, report
from securelogin_local.template import PROJECT_ROOT

SECTIONS = ("coldstart", "inprocess", "load", "peer")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def attempt(name: str, measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The section's results, or what stopped it."""
    try:
        return measure()
    except peer.PeerUnavailable as missing:
        log(f"{name}: {missing}")
        return {"error": str(missing)}
    except Exception as error:  # one failing measurement must not lose the others
        log(f"{name} failed:\n{traceback.format_exc()}")
        last_line = (str(error).strip().splitlines() or [""])[-1]
        return {"error": f"failed: {type(error).__name__}: {last_line}"}


def revision() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,  # noqa: S603, S607
                              check=False).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{head} + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else head


def machine() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{model}, {platform.machine()}"


def load_average() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m securelogin_local.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", type=Path, help="also write the report here (make bench: docs/benchmark.md)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--quick", action="store_true", help="fewer samples and no 100,000-item level: a check")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated, of {', '.join(SECTIONS)}")
    parser.add_argument("--from", dest="source", type=Path,
                        help="measure nothing: render the report from results written by --json")
    parser.add_argument("--sam", default=str(PROJECT_ROOT / ".venv-sam" / "bin" / "sam"), help="the SAM CLI")
    args = parser.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    if only - set(SECTIONS):
        parser.error(f"unknown sections: {', '.join(sorted(only - set(SECTIONS)))}")
    quick = args.quick
    if args.source:
        publish(json.loads(args.source.read_text()), args.write, None)
        return

    started = time.perf_counter()
    results: dict[str, Any] = {"meta": {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(), "cores": os.cpu_count(),
        "python": platform.python_version(), "revision": revision(), "load_before": load_average(), "quick": quick,
    }}
    log(f"load average {results['meta']['load_before']} on {os.cpu_count()} cores")
    if "coldstart" in only:
        results["coldstart"] = attempt("coldstart", lambda: coldstart.run(args.sam, runs=3 if quick else 5, log=log))
    if "inprocess" in only:
        results["inprocess"] = attempt("inprocess", lambda: inprocess.run(
            iterations=8 if quick else 30, warmup=2 if quick else 3, profiled=4 if quick else 10,
            scale_verifies=3 if quick else 5, log=log))
    if "load" in only:
        results["load"] = attempt("load", lambda: load.run(
            levels=(0, 10_000) if quick else load.LEVELS, total=16 if quick else 48,
            per_client_min=2 if quick else 6, log=log))
    if "peer" in only:
        results["side_by_side"] = attempt("side_by_side", lambda: peer.side_by_side(log, n=20 if quick else None))
        results["scale_check"] = attempt("scale_check", lambda: peer.scale_check(log))
    results["meta"].update(load_after=load_average(), minutes=(time.perf_counter() - started) / 60)
    publish(results, args.write, args.json)


def publish(results: dict[str, Any], markdown_path: Path | None, json_path: Path | None) -> None:
    markdown = report.render(results)
    print(markdown)
    if markdown_path:
        markdown_path.write_text(markdown)
        log(f"wrote {markdown_path}")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=1))
        log(f"wrote {json_path}")


if __name__ == "__main__":
    main()
