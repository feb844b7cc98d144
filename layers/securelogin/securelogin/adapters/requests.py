"""Data access for DSC+ requests, from the user's request to the back office's fulfilment."""
from __future__ import annotations

from securelogin.adapters.dynamo import conditional_transaction
from securelogin.adapters.records import device_item
from securelogin.adapters.table import DeviceItem, DeviceRequestItem, UserItem
from securelogin.domain.models import Device, DeviceRequest, DeviceRequestStatus
from securelogin.ports import Completing


class DeviceRequestStore:
    def create(self, request: DeviceRequest, also: Completing) -> None:
        """Stores the request and, with a fee, holds it back from withdrawals, atomically
        with ``also`` (its audit event); StaleWrite when the user already has an open request."""
        with conditional_transaction(request.request_id) as tx:
            tx.save(DeviceRequestItem.keyed(request.request_id, request_id=request.request_id,
                                            username=request.username, reason=request.reason,
                                            fee_usd=request.fee_usd, status=request.status.value,
                                            sealed_pin=request.sealed_pin,
                                            replaces_device_id=request.replaces_device_id,
                                            created_at=request.created_at),
                    condition=DeviceRequestItem.pk.does_not_exist())
            actions = [UserItem.open_request_id.set(request.request_id)]
            if request.fee_usd and request.replaces_device_id:
                actions.append(UserItem.reserves[request.replaces_device_id].set(request.fee_usd))
            tx.update(UserItem.keyed(request.username), actions=actions,
                      condition=UserItem.pk.exists() & UserItem.open_request_id.does_not_exist())
            also(tx)

    def get(self, request_id: str) -> DeviceRequest | None:
        item = DeviceRequestItem.find(request_id)
        if item is None:
            return None
        return DeviceRequest(request_id=item.request_id, username=item.username, reason=item.reason,
                             fee_usd=float(item.fee_usd), status=DeviceRequestStatus(item.status),
                             sealed_pin=item.sealed_pin, created_at=item.created_at,
                             replaces_device_id=item.replaces_device_id)

    def fulfil(self, request: DeviceRequest, device: Device, also: Completing) -> None:
        """The request is fulfilled by ``device`` (pending), once: StaleWrite otherwise."""
        with conditional_transaction(request.request_id) as tx:
            tx.update(DeviceRequestItem.keyed(request.request_id),
                      actions=[DeviceRequestItem.status.set(DeviceRequestStatus.FULFILLED.value)],
                      condition=DeviceRequestItem.status == DeviceRequestStatus.REQUESTED.value)
            tx.save(device_item(device), condition=DeviceItem.pk.does_not_exist())
            tx.update(UserItem.keyed(request.username),
                      actions=[UserItem.open_request_id.remove()], condition=UserItem.pk.exists())
            also(tx)
