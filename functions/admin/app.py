"""Back office (IAM-authorised): users, their devices, temporary codes, device requests,
sharing decisions (Compliance), and the audit trail."""
from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from securelogin.api import views
from securelogin.api.http import admin_actor, lambda_entry, make_resolver
from securelogin.api.openapi import Area, Auth, codes, operation
from securelogin.api.responses import AuditTrail, IssuedDevice, Share, Shares, TemporaryCode, UserCreated, UserRecord
from securelogin.api.responses import Device as DeviceShown
from securelogin.api.schemas import (
    CreateUserBody,
    DeviceId,
    FlowId,
    FulfilBody,
    IssueDeviceBody,
    ReasonBody,
    RequestId,
    ShareDecisionBody,
    Username,
)
from securelogin.clock import system_clock
from securelogin.domain.models import DeviceType, IdDocument, Identity
from securelogin.runtime import services
from securelogin.services.backoffice_devices import DeviceOrder
from securelogin.services.users import NewUser

users = Router()

NO_USER = {404: "user_not_found"}


def back_office(operation_id: str, summary: str, **more):
    return operation(operation_id, summary, area=Area.BACK_OFFICE, auth=Auth.ADMIN, **more)


@users.post("/v1/admin/users", **back_office("createUser", "Create a user", status=201,
                                             errors={409: "username_taken"}))
def create_user(body: CreateUserBody) -> UserCreated:
    ident = body.identity
    new = NewUser(
        username=body.username, password=body.password, account_id=body.account_id, entity_id=body.entity_id,
        primary=body.primary, phones=body.phones, balance_usd=body.balance_usd, jurisdiction=body.jurisdiction,
        identity=Identity(date_of_birth=ident.date_of_birth, citizenship=ident.citizenship.upper(),
                          country_of_residence=ident.country_of_residence.upper(),
                          id_document=IdDocument(ident.id_document.type, ident.id_document.number), ssn=ident.ssn),
    )
    user = services().users.create(new, actor=admin_actor(users))
    return UserCreated(username=user.username)


@users.get("/v1/admin/users/<username>", **back_office("getUser", "A user, their identity and devices",
                                                      errors=NO_USER))
def get_user(username: Annotated[Username, Path()]) -> UserRecord:
    return views.user_record(services().users.view(username), system_clock.now())


@users.post("/v1/admin/users/<username>/devices", **back_office(
    "issueDevice", "Issue a device to a user", status=201,
    errors=codes(NO_USER, {400: "unsupported_device_type, legacy_import_required, weak_pin"}),
    description="An OCRA card's seed, when the server made it, and a code card's values are in this answer "
                "only."))
def issue_device(username: Annotated[Username, Path()], body: IssueDeviceBody) -> IssuedDevice:
    order = DeviceOrder(type=DeviceType(body.type), serial=body.serial, seed_hex=body.seed_hex, pin=body.pin,
                        legacy_import=body.legacy_import)
    issued = services().backoffice_devices.issue(username, order, actor=admin_actor(users))
    return views.issued_device(issued, system_clock.now())


@users.post("/v1/admin/users/<username>/devices/<device_id>/lost", **back_office(
    "markDeviceLost", "Mark a user's device lost", errors=codes(NO_USER, {404: "device_not_found"})))
def mark_lost(username: Annotated[Username, Path()], device_id: Annotated[DeviceId, Path()],
              body: ReasonBody) -> DeviceShown:
    device = services().backoffice_devices.mark_lost(username, device_id, actor=admin_actor(users),
                                                     reason=body.reason)
    return views.device(device, system_clock.now())


@users.post("/v1/admin/users/<username>/temporary-code", **back_office(
    "issueTemporaryCode", "Issue a temporary code for a user who lost their device", status=201,
    errors=codes(NO_USER, {409: "consecutive_temporary_code"})))
def temporary_code(username: Annotated[Username, Path()], body: ReasonBody) -> TemporaryCode:
    return views.temporary_code(services().backoffice_devices.issue_temporary_code(
        username, actor=admin_actor(users), reason=body.reason))


@users.post("/v1/admin/device-requests/<request_id>/fulfil", **back_office(
    "fulfilDeviceRequest", "Ship the DSC+ a user requested", errors={404: "request_not_found",
                                                                     409: "request_fulfilled"}))
def fulfil(request_id: Annotated[RequestId, Path()], body: FulfilBody) -> DeviceShown:
    device = services().backoffice_devices.fulfil(request_id, body.serial, body.seed_hex, actor=admin_actor(users))
    return views.device(device, system_clock.now())


@users.get("/v1/admin/sharing", **back_office("listShares", "Shares waiting for Compliance"))
def pending_shares(status: Annotated[Literal["pending"], Query()] = "pending") -> Shares:
    return views.shares(services().sharing.pending())


@users.post("/v1/admin/sharing/<share_id>/decision", **back_office(
    "decideShare", "Approve or reject a share (Compliance)",
    errors={404: "share_not_found", 409: "not_pending, share_changed"}))
def decide_share(share_id: Annotated[FlowId, Path()], body: ShareDecisionBody) -> Share:
    decided = services().sharing.decide(share_id, body.decision == "approve", body.reason, actor=admin_actor(users))
    return views.share(decided)


@users.get("/v1/admin/users/<username>/audit", **back_office("getAuditTrail", "A user's audit trail, newest first"))
def get_audit(username: Annotated[Username, Path()],
              limit: Annotated[int, Query(ge=1, le=500)] = 100) -> AuditTrail:
    return views.audit_trail(services().audit.newest_first(username, limit))


app = make_resolver(users)
lambda_handler = lambda_entry(app)
