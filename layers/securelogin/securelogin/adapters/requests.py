"""Data access for DSC+ requests, from the user's request to the back office's fulfilment."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from securelogin.adapters.records import device_item
from securelogin.adapters.stores import conditional_transaction
from securelogin.adapters.table import DeviceItem, DeviceRequestItem, UserItem, user_pk
from securelogin.domain.models import Device


@dataclass(frozen=True)
class DeviceRequest:
    request_id: str
    username: str
    reason: str
    fee_usd: float
    status: str  # requested, fulfilled
    sealed_pin: str
    created_at: datetime
    replaces_device_id: str | None = None


class DeviceRequestStore:
    def create(self, request: DeviceRequest) -> None:
        """Stores the request and, with a fee, holds it back from withdrawals, atomically;
        StaleWrite when the user already has an open request."""
        with conditional_transaction(request.request_id) as tx:
            tx.save(DeviceRequestItem(pk=f"REQUEST#{request.request_id}", sk="REQUEST", request_id=request.request_id,
                                      username=request.username, reason=request.reason, fee_usd=request.fee_usd,
                                      status=request.status, sealed_pin=request.sealed_pin,
                                      replaces_device_id=request.replaces_device_id, created_at=request.created_at),
                    condition=DeviceRequestItem.pk.does_not_exist())
            actions = [UserItem.open_request_id.set(request.request_id)]
            if request.fee_usd and request.replaces_device_id:
                actions.append(UserItem.reserves[request.replaces_device_id].set(request.fee_usd))
            tx.update(UserItem(pk=user_pk(request.username), sk="PROFILE"), actions=actions,
                      condition=UserItem.pk.exists() & UserItem.open_request_id.does_not_exist())

    def get(self, request_id: str) -> DeviceRequest | None:
        try:
            item = DeviceRequestItem.get(f"REQUEST#{request_id}", "REQUEST", consistent_read=True)
        except DeviceRequestItem.DoesNotExist:
            return None
        return DeviceRequest(request_id=item.request_id, username=item.username, reason=item.reason,
                             fee_usd=float(item.fee_usd), status=item.status, sealed_pin=item.sealed_pin,
                             created_at=item.created_at, replaces_device_id=item.replaces_device_id)

    def fulfil(self, request: DeviceRequest, device: Device) -> None:
        """The request is fulfilled by ``device`` (pending), once: StaleWrite otherwise."""
        with conditional_transaction(request.request_id) as tx:
            tx.update(DeviceRequestItem(pk=f"REQUEST#{request.request_id}", sk="REQUEST"),
                      actions=[DeviceRequestItem.status.set("fulfilled")],
                      condition=DeviceRequestItem.status == "requested")
            tx.save(device_item(device), condition=DeviceItem.pk.does_not_exist())
            tx.update(UserItem(pk=user_pk(request.username), sk="PROFILE"),
                      actions=[UserItem.open_request_id.remove()], condition=UserItem.pk.exists())
