"""``python -m securelogin_local [--port N] [--workers N]``: the local stack on 127.0.0.1
(``make run``), on every core.

The embedded AWS runs in a process of its own, and ``--workers`` gateway processes (one
per core by default) accept from one listening socket. The parent binds both listeners,
forks the AWS process, creates the stack's resources and seeds the demo user through it,
then forks the workers and the one process that consumes the table's stream as Lambda
would (streams.py: the outbox's messages); it starts no thread, so forking is safe. The
outbox, the AWS call log and the faults live in the AWS process, which answers for them
whichever worker asks; the clock's offset lives in shared memory, so ``POST /_local/clock``
moves every process's time. A signal to the parent, or any process of the stack ending,
stops them all.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.process import BaseProcess
from typing import Any

from securelogin import runtime
from securelogin.adapters.aws import forget_clients
from securelogin.clock import system_clock
from securelogin_local.aws import LISTEN_BACKLOG, EmbeddedAws
from securelogin_local.seed import how_to_log_in, seed_demo_user
from securelogin_local.stack import LocalStack
from securelogin_local.streams import run_pollers

# How long the stack's processes get to end on SIGTERM before they are killed.
STOP_SECONDS = 3.0


def make_handler(local: LocalStack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "securelogin-local"

        def _serve(self) -> None:
            started = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            answer = local.handle(self.command, self.path, dict(self.headers.items()), body, self.client_address[0])
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)
            # Paths may carry flow ids; only the method, status and time are logged.
            sys.stderr.write(f"{self.command} {answer.status} {1000 * (time.monotonic() - started):.0f}ms\n")

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def __getattr__(self, name: str) -> Any:
            # Any other method (TRACE, QUERY, ...) goes to the gateway too, which answers as
            # API Gateway would (405 on a known path), not http.server's HTML 501.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG  # socketserver's 5 resets clients beyond a handful at once
    daemon_threads = True


def make_server(host: str, port: int, local: LocalStack) -> ThreadingHTTPServer:
    """The local stack's HTTP listener (bound and listening, not yet serving)."""
    return _Server((host, port), make_handler(local))


def _stop(*_: object) -> None:
    # One stop is enough: a second signal (make passes SIGTERM on too) must not interrupt the shutdown.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _die_with(parent: int) -> None:
    """Ends this child when the parent ends, however it ends (on Linux, where prctl can say so)."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))
    if os.getppid() != parent:  # the parent ended before prctl
        os._exit(1)


def _serve_aws(parent: int, aws: EmbeddedAws) -> None:
    _die_with(parent)
    aws.serve()  # werkzeug's serve_forever returns on KeyboardInterrupt


def _serve_gateway(parent: int, server: ThreadingHTTPServer) -> None:
    _die_with(parent)
    # Each worker opens its own connections to the embedded AWS, not the parent's (seeding's).
    forget_clients()
    runtime.reset()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _serve_streams(parent: int, local: LocalStack) -> None:
    _die_with(parent)
    forget_clients()  # its own connections to the embedded AWS, as a worker's
    runtime.reset()
    with contextlib.suppress(KeyboardInterrupt):
        run_pollers(local.stream_pollers())


def _fork(name: str, target: Callable[..., None], *args: object) -> BaseProcess:
    process = multiprocessing.get_context("fork").Process(target=target, args=(os.getpid(), *args), name=name)
    process.start()
    return process


def _stop_all(processes: list[BaseProcess]) -> list[str]:
    """Stops every process, killing those still running ``STOP_SECONDS`` after SIGTERM;
    returns the names of the killed ones."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    killed = []
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
            killed.append(process.name)
    return killed


def serve_passkeys_from(port: int) -> None:
    """Passkeys on the local stack: the relying party is ``localhost`` (WebAuthn refuses IP
    addresses), and the portal's origin is ``http://localhost:{port}``, unless the template's
    parameters name another."""
    if not os.environ.get("WEBAUTHN_ORIGINS"):
        os.environ["WEBAUTHN_ORIGINS"] = f"http://localhost:{port}"
    runtime.reset()  # the services the seed built read the settings before this


def _cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the Secure Login System locally.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--workers", type=int, default=_cores(), help="gateway processes (default: one per core)")
    parser.add_argument("--no-seed", action="store_true", help="do not create the demo user")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers: at least 1")

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    # Made before forking, so every process shares it.
    system_clock.share_offset(multiprocessing.get_context("fork").Value("d", 0.0))
    processes: list[BaseProcess] = []
    exit_code = 0
    try:
        aws = EmbeddedAws(system_clock)  # listening already: calls queue until the AWS process serves
        processes.append(_fork("securelogin-aws", _serve_aws, aws))
        aws.stop()  # the parent's copy of the AWS listener; the AWS process serves it
        local = LocalStack.deploy(aws.endpoint_url)
        if not args.no_seed:
            seed_demo_user()
        server = make_server(args.host, args.port, local)
        serve_passkeys_from(server.server_address[1])
        processes += [_fork(f"securelogin-gateway-{n}", _serve_gateway, server) for n in range(args.workers)]
        server.server_close()
        processes.append(_fork("securelogin-streams", _serve_streams, local))  # exactly one consumer

        base_url = f"http://{args.host}:{server.server_address[1]}"
        print(f"Secure Login System on {base_url} with {args.workers} gateway workers "
              f"(embedded AWS at {aws.endpoint_url})", flush=True)
        if not args.no_seed:
            print(how_to_log_in(base_url), flush=True)
        ended_sentinel = multiprocessing.connection.wait([process.sentinel for process in processes])[0]
        ended = next(process for process in processes if process.sentinel == ended_sentinel)
        ended.join()
        print(f"{ended.name} ended (exit code {ended.exitcode}); stopping the local stack", file=sys.stderr)
        exit_code = 1
    except KeyboardInterrupt:
        pass
    finally:
        killed = _stop_all(processes)
        if killed:
            print(f"killed after {STOP_SECONDS:.0f} s, not stopped by SIGTERM: {', '.join(killed)}", file=sys.stderr)
            exit_code = 1
    # Nothing is left to clean up, and tearing down moto's and boto3's modules takes seconds.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)


if __name__ == "__main__":
    main()
