"""The body of POST /v1/admin/users for a person no other test knows: random names, one SMS
phone, a primary user of their own account and entity."""
from __future__ import annotations

import secrets
from typing import Any


def user_body(prefix: str = "e2e", **over: Any) -> dict[str, Any]:
    tag = secrets.token_hex(4)
    body = {"username": f"{prefix}{tag}", "password": f"pw-{secrets.token_urlsafe(12)}", "account_id": f"U{tag}",
            "entity_id": f"E{tag}", "primary": True,
            "identity": {"date_of_birth": "1970-01-01", "citizenship": "US", "country_of_residence": "US",
                         "id_document": {"type": "passport", "number": f"P{tag}"}},
            "phones": [f"+1555{secrets.randbelow(10**7):07d}"], "balance_usd": 1000, "jurisdiction": "US"}
    return body | over
