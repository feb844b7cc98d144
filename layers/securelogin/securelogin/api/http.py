"""The resolver every function uses, with validation and error mapping wired in."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from securelogin.api.errors import domain_error_response, error_response
from securelogin.domain.models import Scope
from securelogin.errors import DomainError, Forbidden, Unauthenticated
from securelogin.logs import logger


def _describe(errors: list[dict[str, Any]]) -> str:
    """What was wrong with a request, without echoing any of its values (they may be secrets)."""
    parts = []
    for error in errors[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def make_resolver(*routers: Router, unmatched: Literal["method_not_allowed", "not_found"] = "method_not_allowed",
                  ) -> APIGatewayRestResolver:
    """A resolver over ``routers``. API Gateway sends a function only the paths it owns,
    so a request no route takes is a wrong method (405); the catch-all function uses
    ``unmatched="not_found"`` (404)."""
    app = APIGatewayRestResolver(enable_validation=True)
    for router in routers:
        app.include_router(router)

    @app.exception_handler(DomainError)
    def _domain(error: DomainError) -> Response:
        return domain_error_response(error)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        return error_response(400, "invalid_request", _describe(list(error.errors())))

    @app.exception_handler(UnicodeDecodeError)
    def _undecodable(_: UnicodeDecodeError) -> Response:
        return error_response(400, "invalid_request", "body: not UTF-8 JSON")

    @app.not_found
    def _unmatched(_: Exception) -> Response:
        if unmatched == "not_found":
            return error_response(404, "not_found", "There is nothing at this path.")
        return error_response(405, "method_not_allowed", "This path does not take that method.")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled error", extra={"error_type": type(error).__name__})
        return error_response(500, "internal_error", "Something went wrong on our side.")

    return app


def lambda_entry(app: APIGatewayRestResolver) -> Callable[[dict, Any], dict]:
    @logger.inject_lambda_context(correlation_id_path="requestContext.requestId", log_event=False)
    def handler(event: dict, context: Any) -> dict:
        return app.resolve(event, context)

    return handler


@dataclass(frozen=True)
class Caller:
    """The person behind a session, as the authorizer vouched for them."""
    username: str
    scope: Scope
    session_key: str
    device_id: str | None = None  # the device that opened the session

    def require(self, *accepted: Scope) -> None:
        """Refuses a session whose scope is not one of ``accepted``."""
        if self.scope not in accepted:
            names = " or ".join(s.value for s in accepted)
            raise Forbidden("insufficient_scope", f"This needs a {names} session.")


def caller(router: Router) -> Caller:
    context = router.current_event.raw_event.get("requestContext", {}).get("authorizer") or {}
    if not context.get("username") or not context.get("session_key"):
        raise Unauthenticated("unauthorized", "Log in first.")
    return Caller(username=context["username"], scope=Scope(context.get("scope", "full")),
                  session_key=context["session_key"], device_id=context.get("device_id") or None)


def full_caller(router: Router) -> Caller:
    """The caller, whose session must be a full one (not portal-only, not trading)."""
    who = caller(router)
    who.require(Scope.FULL)
    return who


def admin_actor(router: Router) -> str:
    """Who in the back office made an IAM-signed request (its IAM identity)."""
    identity = router.current_event.raw_event.get("requestContext", {}).get("identity") or {}
    return identity.get("userArn") or identity.get("caller") or identity.get("accessKey") or "unknown"
