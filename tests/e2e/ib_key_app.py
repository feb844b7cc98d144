"""The IB Key app as the e2e tests play it: a P-256 key, the device activation gave it, and
its answer to a push, signed over what it showed (rules.md, "Cryptography")."""
from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


@dataclass
class IbKeyApp:
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    device_id: str | None = None

    def public_key(self) -> str:
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()

    def enrolment(self, pin: str = "7Q!x2", platform: str = "android") -> dict[str, Any]:
        return {"pin": pin, "public_key": self.public_key(), "platform": platform,
                "push_token": f"token-{secrets.token_hex(6)}"}

    def sign(self, push_id: str, nonce: str, decision: str, number: str, statement: str) -> str:
        """ECDSA-SHA256 over ``{push_id}|{nonce}|{decision}|{number}|{statement}``."""
        signed = f"{push_id}|{nonce}|{decision}|{number}|{statement}".encode()
        return base64.b64encode(self.key.sign(signed, ec.ECDSA(hashes.SHA256()))).decode()

    def answer(self, data: dict[str, Any], decision: str = "approve", number: str | None = None,
               statement: str | None = None) -> dict[str, Any]:
        """The body of POST /v1/authenticator/push-responses for the push whose ``data`` the app got:
        ``number`` is what the person typed (None: nothing, as for a deny); ``statement`` replaces
        the one the app signs, to forge."""
        signed = self.sign(data["push_id"], data["nonce"], decision, number or "",
                           data["statement"] if statement is None else statement)
        body = {"device_id": data["device_id"], "push_id": data["push_id"], "nonce": data["nonce"],
                "decision": decision, "signature": signed}
        return body | ({"number": number} if number is not None else {})


def pushes(outbox: list[dict[str, Any]], since: int = 0) -> list[dict[str, Any]]:
    """The data of the push notifications in ``outbox`` after ``since``, oldest first."""
    return [m["data"] for m in outbox[since:] if m["channel"] == "push"]


def activate_app(api: Any, user: dict[str, Any]) -> IbKeyApp:
    """An app activated for ``user`` by SMS to their first phone (the code read from the outbox)."""
    app = IbKeyApp()
    mark = len(api.outbox())
    started = api("POST", "/v1/activation/sms", {"username": user["username"], "password": user["password"],
                                                 "phone": user["phones"][0]})
    assert started.status == 202, started
    body = [m["body"] for m in api.outbox()[mark:] if m["channel"] == "sms" and m["to"] == user["phones"][0]][-1]
    code = re.findall(r"(?<!\d)\d{8}(?!\d)", body)[0]
    done = api("POST", f"/v1/activation/{started.body['activation_id']}/complete",
               {"activation_code": code, **app.enrolment()})
    assert done.status == 201, done
    app.device_id = done.body["device_id"]
    return app
