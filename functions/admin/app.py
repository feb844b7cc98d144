"""Back office (IAM-authorised): users, their devices, temporary codes, device requests,
sharing decisions (Compliance), and the audit trail."""
from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from securelogin.api import views
from securelogin.api.http import admin_actor, lambda_entry, make_resolver
from securelogin.api.schemas import (
    CreateUserBody,
    DeviceId,
    FlowId,
    FulfilBody,
    IssueDeviceBody,
    RequestId,
    ShareDecisionBody,
    Username,
)
from securelogin.clock import iso, system_clock
from securelogin.domain.models import DeviceType, IdDocument, Identity
from securelogin.runtime import services
from securelogin.services.devices import DeviceOrder
from securelogin.services.users import NewUser

users = Router()


@users.post("/v1/admin/users")
def create_user(body: CreateUserBody):
    ident = body.identity
    new = NewUser(
        username=body.username, password=body.password, account_id=body.account_id, entity_id=body.entity_id,
        primary=body.primary, phones=body.phones, balance_usd=body.balance_usd, jurisdiction=body.jurisdiction,
        identity=Identity(date_of_birth=ident.date_of_birth, citizenship=ident.citizenship.upper(),
                          country_of_residence=ident.country_of_residence.upper(),
                          id_document=IdDocument(ident.id_document.type, ident.id_document.number), ssn=ident.ssn),
    )
    user = services().users.create(new, actor=admin_actor(users))
    return {"username": user.username}, 201


@users.get("/v1/admin/users/<username>")
def get_user(username: Annotated[Username, Path()]) -> dict:
    seen = services().users.view(username)
    now = system_clock.now()
    return {**views.user(seen.user), "identity": views.identity(seen.identity),
            "devices": [views.device(d, now) for d in seen.devices]}


@users.post("/v1/admin/users/<username>/devices")
def issue_device(username: Annotated[Username, Path()], body: IssueDeviceBody):
    order = DeviceOrder(type=DeviceType(body.type), serial=body.serial, seed_hex=body.seed_hex, pin=body.pin,
                        legacy_import=body.legacy_import)
    issued = services().devices.issue(username, order, actor=admin_actor(users))
    shown = views.device(issued.device, system_clock.now())
    if issued.generated_seed_hex:
        shown["seed_hex"] = issued.generated_seed_hex
    if issued.card:
        shown["card"] = issued.card
    return shown, 201


@users.post("/v1/admin/users/<username>/devices/<device_id>/lost")
def mark_lost(username: Annotated[Username, Path()], device_id: Annotated[DeviceId, Path()]) -> dict:
    device = services().lifecycle.mark_lost(username, device_id, actor=admin_actor(users))
    return views.device(device, system_clock.now())


@users.post("/v1/admin/users/<username>/temporary-code")
def temporary_code(username: Annotated[Username, Path()]):
    issued = services().lifecycle.issue_temporary_code(username, actor=admin_actor(users))
    return {"device_id": issued.device.device_id, "code": issued.code,
            "full_access_until": iso(issued.device.full_access_until),
            "portal_access_until": iso(issued.device.valid_until)}, 201


@users.post("/v1/admin/device-requests/<request_id>/fulfil")
def fulfil(request_id: Annotated[RequestId, Path()], body: FulfilBody) -> dict:
    device = services().lifecycle.fulfil(request_id, body.serial, body.seed_hex, actor=admin_actor(users))
    return views.device(device, system_clock.now())


@users.get("/v1/admin/sharing")
def pending_shares(status: Annotated[Literal["pending"], Query()] = "pending") -> dict:
    return {"shares": [views.share(s) for s in services().sharing.pending()]}


@users.post("/v1/admin/sharing/<share_id>/decision")
def decide_share(share_id: Annotated[FlowId, Path()], body: ShareDecisionBody) -> dict:
    decided = services().sharing.decide(share_id, body.decision == "approve", body.reason, actor=admin_actor(users))
    return views.share(decided)


@users.get("/v1/admin/users/<username>/audit")
def get_audit(username: Annotated[Username, Path()],
              limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict:
    events = services().audit.newest_first(username, limit)
    return {"events": [views.audit_event(e) for e in events]}


app = make_resolver(users)
lambda_handler = lambda_entry(app)
