"""The back-office commands: ``python -m securelogin_backoffice [options] COMMAND ...``.

JSON on stdout (``--table`` for a readable table); on a 4xx/5xx the API's error code and
message on stderr and a non-zero exit. Passwords and PINs are read from a prompt or stdin, never
from the command line, and never printed (so is a fulfilled card's seed); secrets the API shows
once (a generated seed, a card, a temporary code) are printed once, with a warning on stderr."""
from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from collections.abc import Callable
from typing import Any

import botocore.exceptions
import botocore.session

from securelogin_backoffice.client import LOCAL_BASE_URL, LOCAL_CREDENTIALS, LOCAL_REGION, ApiError, Client

EXIT_API_ERROR = 1  # a 4xx/5xx, or no answer at all (connection_failed); argparse exits 2 on bad usage
EXIT_SETUP = 3  # no credentials, region or base URL

ONCE = {"seed_hex": "the card's seed", "card": "the card's values", "code": "the temporary code"}


class SetupError(Exception):
    pass


# ------------------------------------------------------------------ reading secrets

def read_stdin_line(what: str) -> str:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise SetupError(f"no {what} on stdin")
    return line


def prompt_secret(what: str, confirm: bool = False) -> str:
    value = getpass.getpass(f"{what}: ")
    if confirm and getpass.getpass(f"{what} (again): ") != value:
        raise SetupError(f"the two {what}s differ")
    if not value:
        raise SetupError(f"no {what} given")
    return value


# ------------------------------------------------------------------ commands
# Each takes the client and the parsed arguments and returns the API's answer.

def create_user(client: Client, args: argparse.Namespace) -> Any:
    password = read_stdin_line("password") if args.password_stdin else prompt_secret("Password", confirm=True)
    identity: dict[str, Any] = {
        "date_of_birth": args.date_of_birth, "citizenship": args.citizenship,
        "country_of_residence": args.country_of_residence or args.citizenship,
        "id_document": {"type": args.id_type, "number": args.id_number}}
    if args.ssn:
        identity["ssn"] = args.ssn
    body = {"username": args.username, "password": password, "account_id": args.account_id,
            "entity_id": args.entity_id, "primary": args.primary, "identity": identity, "phones": args.phone or [],
            "balance_usd": args.balance, "jurisdiction": args.jurisdiction}
    return client.call("POST", ["v1", "admin", "users"], body)


def issue_device(client: Client, args: argparse.Namespace) -> Any:
    body: dict[str, Any] = {"type": args.type}
    if args.serial:
        body["serial"] = args.serial
    if args.seed_hex:
        body["seed_hex"] = args.seed_hex
    if args.pin_stdin:
        body["pin"] = read_stdin_line("PIN")
    elif args.pin_prompt:
        body["pin"] = prompt_secret("Card PIN")
    if args.legacy_import:
        body["legacy_import"] = True
    return client.call("POST", ["v1", "admin", "users", args.username, "devices"], body)


def show_user(client: Client, args: argparse.Namespace) -> Any:
    return client.call("GET", ["v1", "admin", "users", args.username])


def temporary_code(client: Client, args: argparse.Namespace) -> Any:
    return client.call("POST", ["v1", "admin", "users", args.username, "temporary-code"], {"reason": args.reason})


def mark_lost(client: Client, args: argparse.Namespace) -> Any:
    return client.call("POST", ["v1", "admin", "users", args.username, "devices", args.device_id, "lost"],
                       {"reason": args.reason})


def fulfil(client: Client, args: argparse.Namespace) -> Any:
    seed = read_stdin_line("seed") if args.seed_hex_stdin else prompt_secret("Seed (hex)")
    return client.call("POST", ["v1", "admin", "device-requests", args.request_id, "fulfil"],
                       {"serial": args.serial, "seed_hex": seed.strip()})


def shares(client: Client, args: argparse.Namespace) -> Any:
    return client.call("GET", ["v1", "admin", "sharing"], query={"status": args.status})


def decide(client: Client, args: argparse.Namespace) -> Any:
    return client.call("POST", ["v1", "admin", "sharing", args.share_id, "decision"],
                       {"decision": args.decision, "reason": args.reason})


def audit(client: Client, args: argparse.Namespace) -> Any:
    return client.call("GET", ["v1", "admin", "users", args.username, "audit"], query={"limit": args.limit})


# ------------------------------------------------------------------ output

def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return "(none)"
    if columns is None:
        columns = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def key_values(record: dict[str, Any]) -> str:
    width = max(len(k) for k in record) if record else 0
    return "\n".join(f"{k.ljust(width)}  {_cell(v)}" for k, v in record.items())


def render_table(command: str, answer: Any) -> str:
    if command == "user":
        fields = {k: v for k, v in answer.items() if k != "devices"}
        devices = table(answer.get("devices", []), ["device_id", "type", "status", "label", "serial",
                                                    "security_level", "created_at", "last_used_at", "valid_until"])
        return f"{key_values(fields)}\n\nDEVICES\n{devices}"
    if command == "shares":
        return table(answer.get("shares", []))
    if command == "audit":
        rows = [{"at": e.get("at"), "type": e.get("type"),
                 "details": _cell({k: v for k, v in e.items() if k not in ("at", "type")})}
                for e in answer.get("events", [])]
        return table(rows, ["at", "type", "details"])
    if command == "issue-device" and isinstance(answer.get("card"), dict):
        fields = {k: v for k, v in answer.items() if k != "card"}
        card = table([{"index": i, "value": v} for i, v in answer["card"].items()])
        return f"{key_values(fields)}\n\nCARD\n{card}"
    return key_values(answer) if isinstance(answer, dict) else json.dumps(answer)


def warn_once(answer: Any) -> None:
    if not isinstance(answer, dict):
        return
    shown = [what for name, what in ONCE.items() if answer.get(name)]
    if shown:
        print(f"warning: this answer holds {' and '.join(shown)}, shown this once: it cannot be read again. "
              "Hand it over securely and do not keep this output.", file=sys.stderr)


# ------------------------------------------------------------------ arguments

COMMANDS: dict[str, tuple[Callable[[Client, argparse.Namespace], Any], str]] = {
    "create-user": (create_user, "create a user (the password from a prompt or --password-stdin)"),
    "issue-device": (issue_device, "issue a physical device (card) to a user"),
    "user": (show_user, "a user, without secrets, and their devices"),
    "temporary-code": (temporary_code, "issue a temporary code (shown once)"),
    "mark-lost": (mark_lost, "mark a user's device lost"),
    "fulfil": (fulfil, "ship the DSC+ of a device request (the seed from a prompt or --seed-hex-stdin)"),
    "shares": (shares, "device shares waiting for Compliance"),
    "decide": (decide, "approve or reject a share (Compliance)"),
    "audit": (audit, "a user's audit trail, newest first"),
}


def _connection_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The options every command takes, before or after the command's name."""
    default = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    group = parser.add_argument_group("connection and output")
    group.add_argument("--base-url", default=default(None),
                       help="the API's URL, stage included (the stack's ApiUrl output); else $SLS_BASE_URL")
    group.add_argument("--local", action="store_true", default=default(False),
                       help=f"the local stack: access key 'testing', region {LOCAL_REGION}, {LOCAL_BASE_URL} "
                            "unless --base-url")
    group.add_argument("--profile", default=default(None), help="AWS profile (else the default credential chain)")
    group.add_argument("--region", default=default(None),
                       help="signing region (else the profile's, else the one in an execute-api URL)")
    group.add_argument("--timeout", type=float, default=default(30.0), help="seconds per request (30)")
    group.add_argument("--table", action="store_true", default=default(False), help="a readable table, not JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m securelogin_backoffice",
        description="Back office of the Secure Login System: admin routes, SigV4-signed with your AWS credentials.")
    _connection_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = {name: sub.add_parser(name, help=text, description=text) for name, (_, text) in COMMANDS.items()}
    for name, command in add.items():
        _connection_options(command, suppress=True)
        if name not in ("create-user", "fulfil", "shares", "decide"):
            command.add_argument("username", metavar="USERNAME")

    p = add["create-user"]
    p.add_argument("--username", required=True)
    p.add_argument("--account-id", required=True)
    p.add_argument("--entity-id", required=True)
    p.add_argument("--primary", action=argparse.BooleanOptionalAction, default=True,
                   help="the account's primary user (default: yes)")
    p.add_argument("--date-of-birth", required=True, metavar="YYYY-MM-DD")
    p.add_argument("--citizenship", required=True, metavar="CC")
    p.add_argument("--country-of-residence", metavar="CC", help="default: the citizenship")
    p.add_argument("--id-type", required=True, help="identity document type, e.g. passport")
    p.add_argument("--id-number", required=True)
    p.add_argument("--ssn", help="nine digits, optional")
    p.add_argument("--phone", action="append", metavar="E164", help="repeat for several")
    p.add_argument("--balance", type=float, default=0.0, metavar="USD")
    p.add_argument("--jurisdiction", required=True, metavar="CC")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin's first line")

    p = add["issue-device"]
    p.add_argument("--type", required=True, choices=["dsc_plus", "scc", "dsc", "gold", "platinum"])
    p.add_argument("--serial")
    p.add_argument("--seed-hex", help="the card's seed (else the server makes one and shows it once)")
    pin = p.add_mutually_exclusive_group()
    pin.add_argument("--pin-stdin", action="store_true", help="read the card's PIN from stdin's first line")
    pin.add_argument("--pin-prompt", action="store_true", help="prompt for the card's PIN")
    p.add_argument("--legacy-import", action="store_true", help="needed for dsc, gold and platinum")

    add["mark-lost"].add_argument("device_id", metavar="DEVICE_ID")
    for name in ("mark-lost", "temporary-code"):
        add[name].add_argument("--reason", required=True,
                               help="why, e.g. how the caller's identity was verified (kept in the audit trail)")

    p = add["fulfil"]
    p.add_argument("request_id", metavar="REQUEST_ID")
    p.add_argument("--serial", required=True)
    p.add_argument("--seed-hex-stdin", action="store_true", help="read the seed from stdin (else a prompt)")

    add["shares"].add_argument("--status", default="pending", choices=["pending"])

    p = add["decide"]
    p.add_argument("share_id", metavar="SHARE_ID")
    p.add_argument("decision", choices=["approve", "reject"])
    p.add_argument("--reason", required=True)

    add["audit"].add_argument("--limit", type=int, metavar="N", help="at most N events (1-500; the API's default 100)")
    return parser


_EXECUTE_API_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$")


def make_client(args: argparse.Namespace) -> Client:
    base_url = args.base_url or (LOCAL_BASE_URL if args.local else os.environ.get("SLS_BASE_URL"))
    if not base_url:
        raise SetupError("no API URL: give --base-url (the stack's ApiUrl output), set SLS_BASE_URL, or use --local")
    if not re.match(r"^https?://[^/?#]+", base_url):
        raise SetupError(f"the API URL must be http(s)://host[/stage]: {base_url!r}")
    base_url = base_url.rstrip("/")
    if args.local:
        return Client(base_url, LOCAL_CREDENTIALS, args.region or LOCAL_REGION, args.timeout)

    try:
        session = botocore.session.Session(profile=args.profile)
        credentials = session.get_credentials()
        region = args.region or session.get_config_variable("region")
    except botocore.exceptions.BotoCoreError as error:  # unknown profile, expired SSO token, ...
        raise SetupError(f"AWS credentials: {error}") from error
    if credentials is None:
        raise SetupError("no AWS credentials found (environment, --profile, SSO, instance role); "
                         "use --local for the local stack")
    if not region:
        found = _EXECUTE_API_HOST.search(base_url.split("/")[2].split(":")[0])
        region = found.group(1) if found else None
    if not region:
        raise SetupError("no region: give --region or set one in your AWS profile")
    return Client(base_url, credentials, region, args.timeout)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler, _ = COMMANDS[args.command]
    try:
        client = make_client(args)
        answer = handler(client, args)
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_SETUP
    except ApiError as error:
        status = f" (HTTP {error.status})" if error.status else ""
        print(f"error: {error.code}: {error.message}{status}", file=sys.stderr)
        return EXIT_API_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    warn_once(answer)
    print(render_table(args.command, answer) if args.table else json.dumps(answer, indent=2))
    return 0
