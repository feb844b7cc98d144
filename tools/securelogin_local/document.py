"""``make openapi``: writes the API's OpenAPI document to docs/openapi.json, the same document
``GET /openapi.json`` serves (layers' ``securelogin.api.openapi``, over functions/)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from securelogin.api.openapi import functions_document
from securelogin_local.template import PROJECT_ROOT

DOCUMENT_PATH = PROJECT_ROOT / "docs" / "openapi.json"


def rendered() -> str:
    """The document as docs/openapi.json holds it."""
    return json.dumps(functions_document(PROJECT_ROOT / "functions"), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, default=DOCUMENT_PATH, help="where to write it")
    args = parser.parse_args(argv)
    args.write.write_text(rendered())
    print(f"wrote {args.write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
