"""Sealing a device's secret for the table and opening it again, each under a context
naming its device, so a secret copied to another device's item does not open; and the
same for a requested DSC+'s PIN verifier, until the card it is for is shipped."""
from __future__ import annotations

import json

from securelogin.domain.factors.secrets import DeviceSecret
from securelogin.domain.models import Device
from securelogin.ports import SecretBox


def device_secret_context(device_id: str) -> str:
    return f"device-secret|{device_id}"


def request_pin_context(request_id: str) -> str:
    return f"request-pin|{request_id}"


class DeviceSecrets:
    def __init__(self, box: SecretBox) -> None:
        self._box = box

    def seal(self, device_id: str, secret: DeviceSecret) -> str:
        return self._box.seal(json.dumps(secret.to_json()).encode(), device_secret_context(device_id))

    def open(self, device: Device) -> DeviceSecret:
        """The secret of ``device``; a factor's ``SecretOpener``."""
        if not device.sealed_secret:
            raise ValueError(f"device {device.device_id} has no secret")
        return DeviceSecret.from_json(json.loads(self._box.open(device.sealed_secret,
                                                                device_secret_context(device.device_id))))

    def seal_request_pin(self, request_id: str, pin_sha1_hex: str) -> str:
        return self._box.seal(pin_sha1_hex.encode(), request_pin_context(request_id))

    def open_request_pin(self, request_id: str, sealed_pin: str) -> str:
        return self._box.open(sealed_pin, request_pin_context(request_id)).decode()
