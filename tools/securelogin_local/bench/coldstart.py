"""Each function's cold start, measured on what ``sam build`` ships.

The bench builds the template for this machine's architecture (the deployed build is for
arm64, whose wheels cannot load here), through the same Makefile rules as ``make build``,
bytecode included. A cold start is a fresh interpreter whose path is only the function's
directory and the layer's ``python/`` (as in Lambda), importing the handler module and
building what its first request needs (no AWS call happens in either), timed from the
outside, start to exit; the baseline is the same interpreter doing ``import boto3`` from
the same layer. The median of several runs, interleaved, so that drift hits all alike."""
from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from securelogin_local.template import PROJECT_ROOT, Stack, load_template

BUILD_DIR = PROJECT_ROOT / ".aws-sam" / "bench-build"
CACHE_DIR = PROJECT_ROOT / ".aws-sam" / "bench-cache"
BASELINE = "python -c 'import boto3'"
WITHOUT_BYTECODE = "LoginFunction without bytecode"

# Run as ``python -I -S -c SNIPPET <function dir> <layer dir> <module> <logical id>``: no site,
# no environment's paths; the path is the function's and the layer's, as in Lambda.
SNIPPET = """
import sys, time
started = time.perf_counter()
function_dir, layer_dir, module_name, logical_id = sys.argv[1:5]
sys.path[:0] = [p for p in (function_dir, layer_dir) if p]
if module_name == "boto3":
    import boto3
    imported = built = time.perf_counter()
else:
    import importlib
    importlib.import_module(module_name)
    imported = time.perf_counter()
    from securelogin import runtime  # what the first request builds (no AWS call is made)
    first_build = {"AuthorizerFunction": runtime.session_service, "FallbackFunction": lambda: None}
    first_build.get(logical_id, runtime.services)()
    built = time.perf_counter()
import json, re
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec
peak_kib = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"import_ms": (imported - started) * 1000, "build_ms": (built - imported) * 1000,
                  "rss_mib": peak_kib / 1024}))
"""


def lambda_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(machine, machine)


def sam_build(sam: str, log: Callable[[str], None]) -> float:
    """``sam build`` of template.yaml into BUILD_DIR for this machine; returns its seconds."""
    env = {**os.environ, "LAMBDA_ARCH": lambda_arch(), "LAMBDA_PYTHON": sys.executable}
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - the SAM CLI the Makefile installed
        [sam, "build", "--build-dir", str(BUILD_DIR), "--cache-dir", str(CACHE_DIR), "--cached", "--parallel"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"sam build failed:\n{tail}")
    seconds = time.perf_counter() - started
    log(f"cold start: sam build for {lambda_arch()} in {seconds:.0f} s")
    return seconds


def bytecode_coverage(directory: Path) -> tuple[int, int]:
    """(modules with a .pyc for this interpreter, modules) under ``directory``."""
    tag = sys.implementation.cache_tag
    sources = [p for p in directory.rglob("*.py")]
    compiled = [p for p in sources if (p.parent / "__pycache__" / f"{p.stem}.{tag}.pyc").exists()]
    return len(compiled), len(sources)


def environment(spec_env: dict[str, Any]) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "LANG": "C.UTF-8", **{k: str(v) for k, v in spec_env.items()}}


def one_run(function_dir: str, layer_dir: str, module: str, name: str, env: dict[str, str],
            extra_flags: tuple[str, ...] = ()) -> dict[str, float]:
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - this interpreter and our snippet
        [sys.executable, "-I", "-S", *extra_flags, "-c", SNIPPET, function_dir, layer_dir, module, name],
        env=env, capture_output=True, text=True, check=False)
    wall_ms = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"cold start of {name} failed: {done.stderr.strip()[-600:]}")
    return {"wall_ms": wall_ms, **json.loads(done.stdout)}


def import_breakdown(function_dir: str, layer_dir: str, module: str, name: str, env: dict[str, str],
                     top: int = 8) -> list[dict[str, Any]]:
    """Where a cold start's import time goes (``-X importtime``, self time by top-level
    package): a separate run, since importtime slows what it measures."""
    done = subprocess.run(  # noqa: S603 - this interpreter and our snippet
        [sys.executable, "-I", "-S", "-X", "importtime", "-c", SNIPPET, function_dir, layer_dir, module, name],
        env=env, capture_output=True, text=True, check=True)
    by_package: dict[str, float] = defaultdict(float)
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, imported = line.removeprefix("import time:").split("|")
        by_package[imported.strip().split(".")[0]] += int(own) / 1000
    ranked = sorted(by_package.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return [{"package": package, "ms": ms} for package, ms in ranked]


def run(sam: str | None, runs: int = 5, log: Callable[[str], None] = print) -> dict[str, Any]:
    if not sam or not Path(sam).exists():
        raise RuntimeError("the SAM CLI is not installed: `make build` installs it in .venv-sam")
    build_seconds = sam_build(sam, log)
    layer = BUILD_DIR / "DomainLayer" / "python"
    stack = Stack.offline(load_template())
    cases: dict[str, tuple[str, str, str, dict[str, str], tuple[str, ...]]] = {
        BASELINE: ("", str(layer), "boto3", environment({}), ()),
    }
    for name, spec in sorted(stack.functions().items()):
        module = spec.handler.rsplit(".", 1)[0]
        cases[name] = (str(BUILD_DIR / name), str(layer), module, environment(spec.environment), ())
    compiled, modules = bytecode_coverage(BUILD_DIR)

    with tempfile.TemporaryDirectory(prefix="bench-nopyc-") as bare:
        # What the build shipped before: the same files without bytecode, on a read-only path (-B).
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(BUILD_DIR / "LoginFunction", Path(bare) / "fn", ignore=ignore)
        shutil.copytree(layer, Path(bare) / "layer", ignore=ignore)
        login = cases["LoginFunction"]
        cases[WITHOUT_BYTECODE] = (str(Path(bare) / "fn"), str(Path(bare) / "layer"), login[2], login[3], ("-B",))

        samples: dict[str, list[dict[str, float]]] = defaultdict(list)
        for name, (function_dir, layer_dir, module, env, flags) in cases.items():  # once each, untimed: disk cache
            one_run(function_dir, layer_dir, module, name.split()[0], env, flags)
        for round_ in range(runs):
            for name, (function_dir, layer_dir, module, env, flags) in cases.items():
                samples[name].append(one_run(function_dir, layer_dir, module, name.split()[0], env, flags))
            log(f"cold start: round {round_ + 1}/{runs}")

    def median(name: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[name])

    baseline = median(BASELINE, "wall_ms")
    functions = []
    for name in cases:
        functions.append({"name": name, "wall_ms": median(name, "wall_ms"), "import_ms": median(name, "import_ms"),
                          "build_ms": median(name, "build_ms"), "rss_mib": median(name, "rss_mib"),
                          "ratio": median(name, "wall_ms") / baseline})
    slowest = max((f for f in functions if f["name"] in stack.functions()), key=lambda f: f["wall_ms"])
    breakdown = import_breakdown(*cases[slowest["name"]][:3], slowest["name"], cases[slowest["name"]][3])
    return {"build_seconds": build_seconds, "arch": lambda_arch(), "runs": runs, "baseline_ms": baseline,
            "bytecode": {"compiled": compiled, "modules": modules}, "functions": functions,
            "slowest": slowest["name"], "slowest_imports": breakdown}


if __name__ == "__main__":  # python -m securelogin_local.bench.coldstart [sam]
    json.dump(run(sys.argv[1] if len(sys.argv) > 1 else ".venv-sam/bin/sam", runs=2), sys.stdout, indent=1)
