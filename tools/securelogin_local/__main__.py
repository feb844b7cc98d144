"""``python -m securelogin_local [--port N]``: the local stack on 127.0.0.1 (``make run``)."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from securelogin_local.aws import LISTEN_BACKLOG
from securelogin_local.seed import how_to_log_in, seed_demo_user
from securelogin_local.stack import LocalStack


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the Secure Login System locally.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--no-seed", action="store_true", help="do not create the demo user")
    args = parser.parse_args(argv)

    local = LocalStack.start()
    if not args.no_seed:
        seed_demo_user()
    server = make_server(args.host, args.port, local)
    base_url = f"http://{args.host}:{server.server_address[1]}"
    print(f"Secure Login System on {base_url} (embedded AWS at {local.aws.endpoint_url})", flush=True)
    if not args.no_seed:
        print(how_to_log_in(base_url), flush=True)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        local.stop()


if __name__ == "__main__":
    main()
