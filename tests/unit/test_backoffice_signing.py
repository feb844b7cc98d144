"""The back-office CLI's signing: what it sends verifies with the local gateway's SigV4 check
(as API Gateway's AWS_IAM auth does), a stage path included; 503s are sent again once."""
from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.credentials import Credentials

from securelogin_backoffice import cli
from securelogin_backoffice.client import LOCAL_CREDENTIALS, ApiError, Client, host_header
from securelogin_local import sigv4

DEPLOYED = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod"


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def verdict(prepared, url: str | None = None, body: bytes | None = None, **more: Any) -> str | None:
    return sigv4.check(prepared.method, url or prepared.url, lower(prepared.headers),
                       prepared.body if body is None else body, **more)


def test_a_signed_post_verifies_and_signs_the_exact_body():
    client = Client("http://127.0.0.1:3000", LOCAL_CREDENTIALS, "us-east-1")
    prepared = client.prepare("POST", client.url(["v1", "admin", "sharing", "shr_1234567890abcdef", "decision"]),
                              {"decision": "approve", "reason": "same person, two entities"})
    assert prepared.body == b'{"decision":"approve","reason":"same person, two entities"}'
    assert lower(prepared.headers)["host"] == "127.0.0.1:3000"
    assert lower(prepared.headers)["content-type"] == "application/json"
    assert verdict(prepared) is None
    assert verdict(prepared, body=prepared.body.replace(b"approve", b"reject_")) == "INVALID_SIGNATURE"
    assert verdict(prepared, credentials=Credentials("testing", "not-the-secret")) == "INVALID_SIGNATURE"
    assert verdict(prepared, region="eu-west-1") == "INVALID_SIGNATURE"


def test_a_stage_path_is_part_of_what_is_signed():
    client = Client(DEPLOYED + "/", LOCAL_CREDENTIALS, "us-east-1")
    prepared = client.prepare("GET", client.url(["v1", "admin", "users", "jdoe1", "audit"], {"limit": 5}))
    assert prepared.url == DEPLOYED + "/v1/admin/users/jdoe1/audit?limit=5"
    assert lower(prepared.headers)["host"] == "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
    assert prepared.body == b"" and "content-type" not in lower(prepared.headers)
    assert verdict(prepared) is None
    unstaged = prepared.url.replace("/prod/", "/")
    assert verdict(prepared, url=unstaged) == "INVALID_SIGNATURE"
    assert verdict(prepared, url=prepared.url.replace("limit=5", "limit=500")) == "INVALID_SIGNATURE"


def test_temporary_credentials_sign_their_session_token():
    credentials = Credentials("ASIAEXAMPLE", "secret-of-the-role", "the-session-token")
    client = Client(DEPLOYED, credentials, "us-east-1")
    prepared = client.prepare("POST", client.url(["v1", "admin", "users", "jdoe1", "temporary-code"]))
    headers = lower(prepared.headers)
    assert headers["x-amz-security-token"] == "the-session-token"
    assert "x-amz-security-token" in headers["authorization"].split("SignedHeaders=")[1]
    assert verdict(prepared, credentials=credentials) is None


def test_path_segments_are_escaped_and_the_host_matches_the_url():
    client = Client("http://127.0.0.1:3000", LOCAL_CREDENTIALS, "us-east-1")
    assert client.url(["v1", "admin", "users", "a/b?c"]) == "http://127.0.0.1:3000/v1/admin/users/a%2Fb%3Fc"
    assert host_header("https://X.execute-api.us-east-1.amazonaws.com:443/prod") == \
        "x.execute-api.us-east-1.amazonaws.com"
    assert host_header("http://localhost:8080") == "localhost:8080"
    assert host_header("http://[::1]:3000/") == "[::1]:3000"


# ------------------------------------------------------------------ over the wire

class Recorder(BaseHTTPRequestHandler):
    answers: list[tuple[int, dict[str, str], Any]] = []
    seen: list[dict[str, Any]] = []

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        url = f"http://{headers.get('host')}{self.path}"
        self.seen.append({"method": self.command, "path": self.path, "body": body,
                          "verdict": sigv4.check(self.command, url, headers, body),
                          "key": headers.get("idempotency-key")})
        status, extra, payload = self.answers.pop(0) if self.answers else (200, {}, {"ok": True})
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in {"content-type": "application/json", **extra}.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[type[Recorder]]:
    handler = type("Handler", (Recorder,), {"answers": [], "seen": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    handler.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def unavailable(retry_after: str) -> tuple[int, dict[str, str], Any]:
    return 503, {"Retry-After": retry_after}, {"error": {"code": "service_unavailable", "message": "Try again."}}


def test_what_goes_over_the_wire_verifies_with_a_stage_path(server):
    client = Client(server.base_url + "/prod", LOCAL_CREDENTIALS, "us-east-1")
    assert client.call("POST", ["v1", "admin", "users", "jdoe1", "devices"], {"type": "scc"}) == {"ok": True}
    assert client.call("GET", ["v1", "admin", "sharing"], query={"status": "pending"}) == {"ok": True}
    assert [(s["method"], s["path"], s["body"], s["verdict"]) for s in server.seen] == [
        ("POST", "/prod/v1/admin/users/jdoe1/devices", b'{"type":"scc"}', None),
        ("GET", "/prod/v1/admin/sharing?status=pending", b"", None)]


def test_a_503_is_sent_again_once_after_its_retry_after(server):
    waits: list[float] = []
    client = Client(server.base_url, LOCAL_CREDENTIALS, "us-east-1", sleep=waits.append)
    server.answers = [unavailable("2"), (201, {}, {"username": "jdoe1"})]
    assert client.call("POST", ["v1", "admin", "users"], {"username": "jdoe1"}) == {"username": "jdoe1"}
    assert waits == [2.0]
    assert len(server.seen) == 2 and all(s["verdict"] is None for s in server.seen)
    assert server.seen[0]["body"] == server.seen[1]["body"]

    server.answers = [unavailable("0"), unavailable("0")]
    with pytest.raises(ApiError) as refused:
        client.call("GET", ["v1", "admin", "users", "jdoe1"])
    assert (refused.value.status, refused.value.code) == (503, "service_unavailable")
    assert len(server.seen) == 4  # once again, not more


def test_each_command_that_changes_state_sends_a_fresh_key_and_its_retry_the_same_one(server):
    waits: list[float] = []
    client = Client(server.base_url, LOCAL_CREDENTIALS, "us-east-1", sleep=waits.append)
    server.answers = [unavailable("0"), (201, {}, {"code": "1"}),
                      (409, {"Retry-After": "1"}, {"error": {"code": "request_in_progress", "message": "m"}}),
                      (201, {}, {"code": "2"}), (201, {}, {"code": "3"})]
    path = ["v1", "admin", "users", "jdoe1", "temporary-code"]
    assert client.call("POST", path, {"reason": "r"}) == {"code": "1"}
    assert client.call("POST", path, {"reason": "r"}) == {"code": "2"}
    assert client.call("POST", path, {"reason": "r"}) == {"code": "3"}
    assert client.call("GET", ["v1", "admin", "users", "jdoe1"]) == {"ok": True}
    keys = [s["key"] for s in server.seen]
    assert keys[0] == keys[1] and keys[2] == keys[3]  # a retry reuses its command's key ...
    assert len({keys[0], keys[2], keys[4]}) == 3  # ... and each command has its own
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,128}", k) for k in keys[:5])
    assert keys[5] is None  # a GET changes nothing: no key
    assert waits == [0.0, 1.0] and all(s["verdict"] is None for s in server.seen)


def test_errors_carry_the_contract_code(server):
    client = Client(server.base_url, LOCAL_CREDENTIALS, "us-east-1")
    server.answers = [(404, {}, {"error": {"code": "user_not_found", "message": "No such user."}}),
                      (502, {}, "<html>bad gateway</html>")]
    with pytest.raises(ApiError) as missing:
        client.call("GET", ["v1", "admin", "users", "nobody"])
    assert (missing.value.status, missing.value.code, missing.value.message) == (404, "user_not_found",
                                                                                  "No such user.")
    with pytest.raises(ApiError) as odd:
        client.call("GET", ["v1", "admin", "users", "nobody"])
    assert odd.value.code == "http_502"


def test_the_cli_signs_with_the_default_credential_chain(server, monkeypatch, capsys, tmp_path):
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("SLS_BASE_URL", server.base_url + "/dev")
    server.answers = [(200, {}, {"events": [{"at": "2026-11-21T10:00:00Z", "type": "user.created"}]})]
    assert cli.main(["--region", "us-east-1", "audit", "jdoe1", "--limit", "3", "--table"]) == 0
    out = capsys.readouterr().out
    assert "user.created" in out and out.startswith("AT")
    assert server.seen == [{"method": "GET", "path": "/dev/v1/admin/users/jdoe1/audit?limit=3", "body": b"",
                            "verdict": None, "key": None}]


def test_the_region_comes_from_an_execute_api_url(monkeypatch, tmp_path):
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example")
    args = cli.build_parser().parse_args(["--base-url", DEPLOYED.replace("us-east-1", "eu-west-2"), "shares"])
    client = cli.make_client(args)
    assert client.region == "eu-west-2" and client.base_url.endswith("/prod")
    local = cli.make_client(cli.build_parser().parse_args(["shares", "--local"]))
    assert (local.base_url, local.region, local.credentials.access_key) == ("http://127.0.0.1:3000", "us-east-1",
                                                                            "testing")
