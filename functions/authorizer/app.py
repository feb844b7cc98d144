"""API Gateway TOKEN authorizer: turns a session bearer token into the caller's identity."""
from __future__ import annotations

from typing import Any

from securelogin.api.session_context import context_of
from securelogin.logs import logger
from securelogin.runtime import session_service


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    header = event.get("authorizationToken") or ""
    scheme, _, token = header.partition(" ")
    session = session_service().authorize(token.strip()) if scheme.lower() == "bearer" else None
    if session is None:
        logger.info("session refused")
        # API Gateway answers 401 (the UNAUTHORIZED gateway response) to exactly this.
        raise Exception("Unauthorized")
    return {
        "principalId": session.username,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}],
        },
        # Every value must be a string, number or boolean.
        "context": context_of(session),
    }
