"""The session as the authorizer hands it to every function: API Gateway's authorizer
context, whose values must all be strings. Written by the authorizer, read by ``api.http``."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from securelogin.clock import iso
from securelogin.domain.models import DeviceType, Scope, Session


def context_of(session: Session) -> dict[str, str]:
    return {"username": session.username, "scope": session.scope.value, "session_key": session.key,
            "device_id": session.device_id or "", "platform": session.platform,
            "proved_at": iso(session.proved_at) if session.proved_at else "",
            "proved_with": session.proved_with.value if session.proved_with else "",
            "proved_by": session.proved_by or ""}


def session_of(context: dict[str, Any]) -> Session | None:
    """The session fields of an authorizer context (its times are those of the session),
    or None when the request carried no session."""
    if not context.get("username") or not context.get("session_key"):
        return None
    proved_at = context.get("proved_at") or ""
    return Session(key=context["session_key"], username=context["username"],
                   scope=Scope(context.get("scope", "full")), created_at=datetime.min, expires_at=datetime.max,
                   device_id=context.get("device_id") or None, platform=context.get("platform") or "portal",
                   proved_at=datetime.fromisoformat(proved_at.replace("Z", "+00:00")) if proved_at else None,
                   proved_with=DeviceType(context["proved_with"]) if context.get("proved_with") else None,
                   proved_by=context.get("proved_by") or None)
