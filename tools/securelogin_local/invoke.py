"""``make invoke FN=<LogicalId> EVENT=events/<file>.json``: what ``sam local invoke`` does,
without Docker. The function runs with template.yaml's environment against a fresh
embedded AWS (resources from the template, the demo user seeded) and prints its answer."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from securelogin_local.seed import seed_demo_user
from securelogin_local.stack import LocalStack


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("function", help="the function's logical id in template.yaml, e.g. LoginFunction")
    parser.add_argument("event", type=Path, help="an event file, e.g. events/post-login.json")
    args = parser.parse_args(argv)

    local = LocalStack.start()
    try:
        hosts = local.gateway.hosts
        if args.function not in hosts:
            parser.error(f"no function {args.function!r}; template.yaml has {', '.join(sorted(hosts))}")
        seed_demo_user()
        answer = hosts[args.function].invoke_in_time(json.loads(args.event.read_text()))
        print(json.dumps(answer, indent=2, default=str))
    finally:
        local.stop()


if __name__ == "__main__":
    main()
