"""privacyIDEA side by side, and the scale check, from ../shared/peer (its README.md).

Each script runs against a fresh local stack of its own: ``side_by_side.py`` (verify time,
CPU per request, throughput with 4 clients and memory, ours and privacyIDEA's, in one run)
from the peer's venv, and ``scale_check.py`` (a verify's time before and after 20,000 items
are added) from this one. privacyIDEA is started if it is set up but not running, and
stopped again afterwards."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from securelogin_local.bench.load import running_stack
from securelogin_local.template import PROJECT_ROOT

PEER = Path(os.environ.get("SLS_PEER_SCRIPTS", PROJECT_ROOT.parent / "shared" / "peer"))
PEER_DIR = Path(os.environ.get("PEER_DIR", Path.home() / ".cache" / "sls-peer"))
PEER_PYTHON = PEER_DIR / "venv" / "bin" / "python"


class PeerUnavailable(RuntimeError):
    pass


def _json_from(output: str) -> dict[str, Any]:
    """The JSON document a script printed (after anything else it printed)."""
    start = output.find("{")
    if start < 0:
        raise ValueError("no JSON in the output")
    return dict(json.loads(output[start:]))


def _run(command: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout,  # noqa: S603
                          cwd=PROJECT_ROOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(command[1]).name} failed: {done.stderr.strip()[-800:]}")
    return _json_from(done.stdout)


def _environment(base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["SLS_BASE_URL"] = base_url
    return env


def peer_running() -> bool:
    done = subprocess.run([str(PEER / "run_peer.sh"), "status"], capture_output=True, text=True,  # noqa: S603
                          check=False)
    return done.returncode == 0 and done.stdout.startswith("running")


def side_by_side(log: Callable[[str], None], n: int | None = None, timeout: float = 1800) -> dict[str, Any]:
    if not (PEER / "side_by_side.py").exists():
        raise PeerUnavailable(f"no peer scripts at {PEER}")
    if not PEER_PYTHON.exists():
        raise PeerUnavailable(f"peer not set up: run {PEER / 'run_peer.sh'} once (~30 s)")
    has_botocore = subprocess.run([str(PEER_PYTHON), "-c", "import botocore"], capture_output=True,  # noqa: S603
                                  check=False).returncode == 0
    if not has_botocore:  # the README's one-time step
        log("peer: adding botocore to the peer's venv (its README's one-time step)")
        subprocess.run([str(PEER_PYTHON), "-m", "pip", "install", "-q", "botocore"], check=True,  # noqa: S603
                       capture_output=True)
    started_here = not peer_running()
    if started_here:
        log("peer: starting privacyIDEA")
        subprocess.run([str(PEER / "run_peer.sh")], check=True, capture_output=True, timeout=600)  # noqa: S603
    try:
        with running_stack() as stack:
            log(f"peer: side_by_side.py against {stack.base_url} ...")
            began = time.perf_counter()
            env = _environment(stack.base_url)
            if n:
                env["SBS_N"] = str(n)
            result = _run([str(PEER_PYTHON), str(PEER / "side_by_side.py")], env, timeout)
            result["seconds"] = time.perf_counter() - began
            return result
    finally:
        if started_here:
            subprocess.run([str(PEER / "run_peer.sh"), "stop"], check=False, capture_output=True)  # noqa: S603


def scale_check(log: Callable[[str], None], timeout: float = 1800) -> dict[str, Any]:
    if not (PEER / "scale_check.py").exists():
        raise PeerUnavailable(f"no scale check at {PEER}")
    with running_stack() as stack:
        log(f"peer: scale_check.py against {stack.base_url} ...")
        return _run([sys.executable, str(PEER / "scale_check.py")], _environment(stack.base_url), timeout)
