"""The demo user that ``make run`` creates, so there is someone to log in as."""
from __future__ import annotations

from securelogin.domain.models import IdDocument, Identity
from securelogin.runtime import services
from securelogin.services.users import NewUser

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password-1"  # noqa: S105 - a local-only demo account
DEMO_PHONE = "+15550100001"


def seed_demo_user() -> None:
    services().users.create(NewUser(
        username=DEMO_USERNAME, password=DEMO_PASSWORD, account_id="U0000001", entity_id="E0000001", primary=True,
        identity=Identity(date_of_birth="1980-01-31", citizenship="US", country_of_residence="US",
                          id_document=IdDocument("passport", "X1234567"), ssn="078051120"),
        phones=[DEMO_PHONE], balance_usd=750_000, jurisdiction="US"), actor="local-seed")


def how_to_log_in(base_url: str) -> str:
    return f"""
Demo user: {DEMO_USERNAME} / {DEMO_PASSWORD} (SMS to {DEMO_PHONE})
  curl -s -X POST {base_url}/v1/login -H 'content-type: application/json' \\
       -d '{{"username": "{DEMO_USERNAME}", "password": "{DEMO_PASSWORD}", "client": {{"platform": "portal"}}}}'
  then POST {base_url}/v1/login/<login_id>/challenge with {{"device_id": "<default_device_id>"}},
  read the code at {base_url}/_local/outbox,
  and POST {base_url}/v1/login/<login_id>/verify with {{"response": "<code>"}}.
API document: {base_url}/openapi.json (browse it at {base_url}/swagger)
"""
