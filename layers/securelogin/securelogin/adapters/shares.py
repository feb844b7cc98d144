"""Data access for device shares between usernames of the same person: from the owner's
challenge, through Compliance when the entities differ, to the link and its end."""
from __future__ import annotations

from securelogin.adapters.dynamo import conditional_transaction
from securelogin.adapters.records import device_item
from securelogin.adapters.table import DeviceItem, ShareItem
from securelogin.domain.models import Device, DeviceStatus, Share, ShareStatus
from securelogin.ports import Completing


def _share_from(item: ShareItem) -> Share:
    return Share(share_id=item.share_id, key=item.share_key, requester=item.requester, owner=item.owner,
                 device_id=item.device_id, status=ShareStatus(item.status), same_entity=bool(item.same_entity),
                 created_at=item.created_at, expires_at=item.expires_at, deactivated=list(item.deactivated or []),
                 reason=item.reason)


class ShareStore:
    def create(self, share: Share, also: Completing) -> None:
        """Stores the share with ``also`` (its audit events) in one transaction."""
        with conditional_transaction(share.key) as tx:
            tx.save(ShareItem.keyed(share.key, share_id=share.share_id, requester=share.requester, owner=share.owner,
                                    device_id=share.device_id, status=share.status.value,
                                    same_entity=share.same_entity, created_at=share.created_at,
                                    expires_at=share.expires_at), condition=ShareItem.pk.does_not_exist())
            also(tx)

    def get(self, key: str) -> Share | None:
        item = ShareItem.find(key)
        return _share_from(item) if item is not None else None

    def pending(self, limit: int = 100) -> list[Share]:
        return [_share_from(i) for i in ShareItem.gsi1.query(ShareItem.PENDING, limit=limit)]

    def await_compliance(self, share: Share, completing: Completing) -> None:
        """The device was proven: the share waits for Compliance (one transaction with
        the completion of its challenge)."""
        with conditional_transaction(share.key) as tx:
            tx.update(ShareItem.keyed(share.key), actions=[ShareItem.status.set(ShareStatus.PENDING_COMPLIANCE.value),
                                                           ShareItem.gsi1pk.set(ShareItem.PENDING),
                                                           ShareItem.gsi1sk.set(share.created_at.isoformat())],
                      condition=ShareItem.status == ShareStatus.CHALLENGED.value)
            completing(tx)

    def approve(self, share: Share, expected_status: ShareStatus, link: Device, deactivate: list[Device],
                reason: str | None, completing: Completing | None = None) -> None:
        """The share is approved: the requester gets a link to the owner's device and their
        own physical devices become inactive, in one transaction (with the completion of
        its challenge, when the approval follows the answer at once)."""
        actions = [ShareItem.status.set(ShareStatus.APPROVED.value), ShareItem.gsi1pk.remove(),
                   ShareItem.gsi1sk.remove(), ShareItem.deactivated.set([d.device_id for d in deactivate])]
        if reason:
            actions.append(ShareItem.reason.set(reason))
        with conditional_transaction(share.key) as tx:
            tx.update(ShareItem.keyed(share.key), actions=actions, condition=ShareItem.status == expected_status.value)
            tx.save(device_item(link))
            for own in deactivate:
                tx.update(DeviceItem.keyed(own.username, own.device_id),
                          actions=[DeviceItem.status.set(DeviceStatus.INACTIVE.value)],
                          condition=DeviceItem.status == DeviceStatus.ACTIVE.value)
            if completing is not None:
                completing(tx)

    def reject(self, share: Share, reason: str, also: Completing) -> None:
        with conditional_transaction(share.key) as tx:
            tx.update(ShareItem.keyed(share.key),
                      actions=[ShareItem.status.set(ShareStatus.REJECTED.value), ShareItem.reason.set(reason),
                               ShareItem.gsi1pk.remove(), ShareItem.gsi1sk.remove()],
                      condition=ShareItem.status == ShareStatus.PENDING_COMPLIANCE.value)
            also(tx)

    def cancel(self, share: Share, reactivate: list[str], also: Completing) -> None:
        """Ends a share: the link is revoked and the requester's own devices in ``reactivate``
        (those it made inactive that still are) come back; StaleWrite if one is no longer inactive."""
        with conditional_transaction(share.key) as tx:
            tx.update(ShareItem.keyed(share.key), actions=[ShareItem.status.set(ShareStatus.CANCELLED.value),
                                                           ShareItem.gsi1pk.remove(), ShareItem.gsi1sk.remove()],
                      condition=ShareItem.status == share.status.value)  # what is undone depends on it
            if share.status == ShareStatus.APPROVED:
                tx.update(DeviceItem.keyed(share.requester, share.device_id),
                          actions=[DeviceItem.status.set(DeviceStatus.REVOKED.value)],
                          condition=DeviceItem.shared_from == share.owner)
                for device_id in reactivate:
                    tx.update(DeviceItem.keyed(share.requester, device_id),
                              actions=[DeviceItem.status.set(DeviceStatus.ACTIVE.value)],
                              condition=DeviceItem.status == DeviceStatus.INACTIVE.value)
            also(tx)
