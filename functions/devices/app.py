"""The logged-in user's devices: remove, request a DSC+, activate, change a DSC+ PIN,
return, reactivate a found device, and the Online Security Code Card of a temporary-code
session."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from securelogin.api import views
from securelogin.api.http import caller, full_caller, lambda_entry, make_resolver
from securelogin.api.schemas import DeviceId, DscPlusRequestBody, PinChangeBody, ResponseBody
from securelogin.clock import iso, system_clock
from securelogin.domain.models import Scope
from securelogin.runtime import services

devices = Router()


@devices.delete("/v1/devices/<device_id>")
def remove(device_id: Annotated[DeviceId, Path()]):
    services().lifecycle.deactivate(full_caller(devices).username, device_id)
    return Response(status_code=204)


@devices.post("/v1/devices/dsc-plus")
def request_dsc_plus(body: DscPlusRequestBody):
    requested = services().lifecycle.request_dsc_plus(full_caller(devices).username, body.pin, body.reason)
    return {"request_id": requested.request_id, "status": "requested", "fee_usd": requested.fee_usd,
            "reserve_usd": requested.reserve_usd}, 201


@devices.post("/v1/devices/<device_id>/activation-challenge")
def activation_challenge(device_id: Annotated[DeviceId, Path()]) -> dict:
    question, expires_at = services().lifecycle.activation_challenge(full_caller(devices).username, device_id)
    return {"challenge_code": question, "expires_at": iso(expires_at)}


@devices.post("/v1/devices/<device_id>/activate")
def activate(device_id: Annotated[DeviceId, Path()], body: ResponseBody) -> dict:
    device = services().lifecycle.activate(full_caller(devices).username, device_id, body.response)
    return views.device(device, system_clock.now())


@devices.post("/v1/devices/<device_id>/pin-challenge")
def pin_challenge(device_id: Annotated[DeviceId, Path()]) -> dict:
    question, expires_at = services().lifecycle.pin_challenge(full_caller(devices).username, device_id)
    return {"challenge_code": question, "expires_at": iso(expires_at)}


@devices.put("/v1/devices/<device_id>/pin")
def change_pin(device_id: Annotated[DeviceId, Path()], body: PinChangeBody) -> dict:
    device = services().lifecycle.change_pin(full_caller(devices).username, device_id, body.response, body.new_pin)
    return views.device(device, system_clock.now())


@devices.post("/v1/devices/<device_id>/return")
def return_device(device_id: Annotated[DeviceId, Path()]) -> dict:
    returned = services().lifecycle.return_device(full_caller(devices).username, device_id)
    return views.device(returned, system_clock.now())


@devices.post("/v1/devices/<device_id>/reactivate")
def reactivate(device_id: Annotated[DeviceId, Path()]) -> dict:
    who = full_caller(devices)
    reactivated = services().lifecycle.reactivate(who.username, device_id, who.device_id)
    return views.device(reactivated, system_clock.now())


@devices.post("/v1/temporary/online-card")
def online_card():
    who = caller(devices)
    who.require(Scope.FULL, Scope.PORTAL_ONLY)
    made = services().lifecycle.online_card(who.username, who.device_id)
    return {"device_id": made.device.device_id, "card": made.card, "valid_until": iso(made.device.valid_until)}, 201


app = make_resolver(devices)
lambda_handler = lambda_entry(app)
