"""The logged-in user's devices: remove, request a DSC+, activate, change a DSC+ PIN,
return, reactivate a found device, and the Online Security Code Card of a temporary-code
session."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from securelogin.api import views
from securelogin.api.http import caller, full_caller, lambda_entry, make_resolver, strong_caller
from securelogin.api.openapi import ANSWER_ERRORS, STEP_UP_ERRORS, Area, Auth, codes, operation
from securelogin.api.responses import Device, DeviceChallenge, DscPlusRequested, OnlineCard, PasskeyRegistration
from securelogin.api.schemas import DeviceId, DscPlusRequestBody, PasskeyBody, PinChangeBody, ResponseBody
from securelogin.clock import system_clock
from securelogin.domain.models import Scope
from securelogin.runtime import services

devices = Router()

NOT_YOURS = {404: "device_not_found"}
# A DSC+ activation or PIN change: a challenge of its own, answered like any other.
DEVICE_CHALLENGE_GONE = {410: "challenge_expired"}


def own_device(operation_id: str, summary: str, **more):
    return operation(operation_id, summary, area=Area.DEVICES, auth=Auth.FULL_SESSION, **more)


@devices.delete("/v1/devices/<device_id>", **own_device(
    "removeDevice", "Remove one of your devices", status=204,
    errors=codes(NOT_YOURS, STEP_UP_ERRORS, {409: "last_device, shared_device, device_changed"})))
def remove(device_id: Annotated[DeviceId, Path()]) -> None:
    services().user_devices.deactivate(strong_caller(devices).username, device_id)
    return Response(status_code=204)


@devices.post("/v1/devices/passkeys/registration", **own_device(
    "beginPasskeyRegistration", "Creation options for a new passkey",
    description="From a stepped-up full session; the options are valid 5 minutes and complete once.",
    errors=codes(STEP_UP_ERRORS, {409: "too_many_passkeys"})))
def begin_passkey_registration() -> PasskeyRegistration:
    started = services().passkeys.begin(strong_caller(devices).username)
    return PasskeyRegistration(registration_id=started.registration_id, options=started.options)


@devices.post("/v1/devices/passkeys", **own_device(
    "registerPasskey", "Register a passkey with the browser's answer to the creation options", status=201,
    errors=codes(STEP_UP_ERRORS, {400: "invalid_registration", 409: "too_many_passkeys, devices_changed",
                                  410: "registration_expired"})))
def register_passkey(body: PasskeyBody) -> Device:
    device = services().passkeys.complete(strong_caller(devices).username, body.registration_id, body.label,
                                          body.credential)
    return views.device(device, system_clock.now())


@devices.post("/v1/devices/dsc-plus", **own_device(
    "requestDscPlus", "Request a Digital Security Card+ by post", status=201,
    errors=codes(STEP_UP_ERRORS, {400: "weak_pin", 403: "not_eligible", 409: "request_pending"})))
def request_dsc_plus(body: DscPlusRequestBody) -> DscPlusRequested:
    requested = services().user_devices.request_dsc_plus(strong_caller(devices).username, body.pin, body.reason)
    return views.dsc_plus_requested(requested)


@devices.post("/v1/devices/<device_id>/activation-challenge", **own_device(
    "requestActivationChallenge", "A challenge to activate a card that arrived",
    errors=codes(NOT_YOURS, {409: "not_pending"})))
def activation_challenge(device_id: Annotated[DeviceId, Path()]) -> DeviceChallenge:
    code, expires_at = services().user_devices.activation_challenge(full_caller(devices).username, device_id)
    return views.device_challenge(code, expires_at)


@devices.post("/v1/devices/<device_id>/activate", **own_device(
    "activateDevice", "Activate a card with its response to the activation challenge",
    errors=codes(NOT_YOURS, ANSWER_ERRORS, DEVICE_CHALLENGE_GONE, {409: "not_pending, device_changed"})))
def activate(device_id: Annotated[DeviceId, Path()], body: ResponseBody) -> Device:
    device = services().user_devices.activate(full_caller(devices).username, device_id, body.response)
    return views.device(device, system_clock.now())


@devices.post("/v1/devices/<device_id>/pin-challenge", **own_device(
    "requestPinChallenge", "A challenge to answer with a DSC+'s current PIN before changing it",
    errors=codes(NOT_YOURS, {409: "not_a_dsc_plus"})))
def pin_challenge(device_id: Annotated[DeviceId, Path()]) -> DeviceChallenge:
    code, expires_at = services().user_devices.pin_challenge(full_caller(devices).username, device_id)
    return views.device_challenge(code, expires_at)


@devices.put("/v1/devices/<device_id>/pin", **own_device(
    "changePin", "Change a DSC+'s PIN", errors=codes(NOT_YOURS, ANSWER_ERRORS, DEVICE_CHALLENGE_GONE,
                                                    {400: "weak_pin", 409: "not_a_dsc_plus, device_changed"})))
def change_pin(device_id: Annotated[DeviceId, Path()], body: PinChangeBody) -> Device:
    device = services().user_devices.change_pin(full_caller(devices).username, device_id, body.response, body.new_pin)
    return views.device(device, system_clock.now())


@devices.post("/v1/devices/<device_id>/return", **own_device(
    "returnDevice", "Send back a device (its fee reserve is released)",
    errors=codes(NOT_YOURS, STEP_UP_ERRORS, {409: "not_returnable, last_device, shared_device, device_changed"})))
def return_device(device_id: Annotated[DeviceId, Path()]) -> Device:
    returned = services().user_devices.return_device(strong_caller(devices).username, device_id)
    return views.device(returned, system_clock.now())


@devices.post("/v1/devices/<device_id>/reactivate", **own_device(
    "reactivateDevice", "Reactivate a device that was found again",
    description="Needs a session opened with another device, an online card or a temporary code; temporary "
                "devices are revoked.",
    errors=codes(NOT_YOURS, {403: "another_device_required",
                             409: "not_reactivatable, shared_device_in_use, shared_device, device_changed"})))
def reactivate(device_id: Annotated[DeviceId, Path()]) -> Device:
    who = full_caller(devices)
    reactivated = services().user_devices.reactivate(who.username, device_id, who.device_id)
    return views.device(reactivated, system_clock.now())


@devices.post("/v1/temporary/online-card", **operation(
    "issueOnlineCard", "An Online Security Code Card for a temporary-code session", area=Area.DEVICES,
    auth=Auth.FULL_SESSION, status=201, errors={403: "temporary_code_session_required", 409: "devices_changed"}))
def online_card() -> OnlineCard:
    who = caller(devices)
    who.require(Scope.FULL, Scope.PORTAL_ONLY)
    return views.online_card(services().user_devices.online_card(who.username, who.device_id))


app = make_resolver(devices)
lambda_handler = lambda_entry(app)
