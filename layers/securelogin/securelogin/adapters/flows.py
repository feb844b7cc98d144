"""Data access for flows in progress, and the guards that every answer to a challenge
passes, whatever the flow.

An answer is counted *before* it is checked: one transaction takes one of the flow's
attempts and one slot of the user's cap on answers per window, on the condition that the
device is not locked. Only then is the answer checked. A right answer gives the slot back
in the same write that completes the flow; a wrong one keeps it and adds a failure to the
device, which locks it at the count. So sixteen parallel guesses are never checked more
often than the flow's attempts and the user's cap allow, and a guess that was never
counted is never checked. The device's count moves only on wrong answers, so right
answers in flight never lock it.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from securelogin.adapters.aws import is_outage
from securelogin.adapters.devices import held
from securelogin.adapters.dynamo import conditional_transaction, lock_when_due, save_if, update_if
from securelogin.adapters.records import challenge_attribute, device_from, flow_from, push_from, push_item
from securelogin.adapters.sessions import session_item
from securelogin.adapters.table import AnswerSlotsItem, DeviceItem, FlowItem, Item, PushItem, SessionItem
from securelogin.domain.factors.code_card import OPEN_PAIR
from securelogin.domain.models import (
    Challenge,
    Device,
    DeviceStatus,
    Flow,
    FlowStatus,
    Purpose,
    Push,
    Session,
    lock_ends,
)
from securelogin.ports import (
    AlreadyExists,
    AttemptsUsed,
    Completing,
    FlowClosed,
    Reservation,
    StaleWrite,
    choose_answer_slot,
)
from securelogin.retries import current_request


def _slots_from(item: AnswerSlotsItem) -> dict[str, int]:
    return {k: int(v) for k, v in item.slots.as_dict().items()}


def _flow_item(flow: Flow) -> FlowItem:
    return FlowItem.keyed(flow.purpose.value, flow.key)


def _device_state(device: Device) -> DeviceItem:
    return DeviceItem.keyed(device.holder, device.device_id)


class FlowStore:
    # ------------------------------------------------------------------ the flow itself

    def create(self, flow: Flow, also: Completing | None = None) -> Flow:
        """Stores a new flow (its id is random: an existing key is a collision, refused),
        with ``also`` (what its first challenge writes) in the same transaction."""
        item = FlowItem.keyed(flow.purpose.value, flow.key, purpose=flow.purpose.value,
                              username=flow.username, device_ids=flow.device_ids, expires_at=flow.expires_at,
                              status=flow.status.value, scope=flow.scope.value,
                              challenge=challenge_attribute(flow.challenge) if flow.challenge else None,
                              challenge_version=flow.version, amount_usd=flow.amount_usd, details=flow.details,
                              statement=flow.statement or None, expires_ttl=flow.expires_at + timedelta(days=1))
        if also is None:
            if not save_if(item, FlowItem.pk.does_not_exist()):
                raise AlreadyExists(flow.key)
            return flow
        with conditional_transaction(flow.key) as tx:
            tx.save(item, condition=FlowItem.pk.does_not_exist())
            also(tx)
        return flow

    def restart(self, flow: Flow, also: Completing | None = None) -> Flow:
        """Stores ``flow`` under a key that is not random (a device's activation or PIN
        change): it replaces any earlier one, with a new version so that answers to the
        old challenge no longer count, and its attempts start again; with ``also`` in the
        same transaction."""
        actions = [
            FlowItem.kind.set(FlowItem), FlowItem.purpose.set(flow.purpose.value),
            FlowItem.username.set(flow.username), FlowItem.device_ids.set(flow.device_ids),
            FlowItem.expires_at.set(flow.expires_at), FlowItem.status.set(FlowStatus.PENDING.value),
            FlowItem.scope.set(flow.scope.value), FlowItem.attempts.set(0),
            FlowItem.challenge.set(challenge_attribute(flow.challenge)) if flow.challenge
            else FlowItem.challenge.remove(),
            FlowItem.challenge_version.add(1), FlowItem.details.set(flow.details), FlowItem.answered.remove(),
            FlowItem.statement.set(flow.statement) if flow.statement else FlowItem.statement.remove(),
            FlowItem.expires_ttl.set(flow.expires_at + timedelta(days=1))]
        item = _flow_item(flow)
        if also is None:
            item.update(actions=actions)
            return flow_from(item)
        with conditional_transaction(flow.key) as tx:
            tx.update(item, actions=actions)
            also(tx)
        return flow

    def get(self, purpose: Purpose, key: str) -> Flow | None:
        item = FlowItem.find(purpose.value, key)
        return flow_from(item) if item is not None else None

    def first_of(self, purposes: tuple[Purpose, ...], key: str) -> Flow | None:
        """The flow stored under ``key`` for one of ``purposes`` (one read for all)."""
        for item in FlowItem.batch_get([FlowItem.key(p.value, key) for p in purposes], consistent_read=True):
            return flow_from(item)
        return None

    def set_challenge(self, flow: Flow, challenge: Challenge, also: Completing | None = None) -> None:
        """A new challenge on a pending flow, unless another was set since it was read, with
        ``also`` (what issuing it writes: the send guard, a push, a card's pair) in the same
        transaction: StaleWrite when any of them changed."""
        actions = [FlowItem.challenge.set(challenge_attribute(challenge)), FlowItem.challenge_version.add(1),
                   FlowItem.answered.remove()]
        condition = (FlowItem.status == FlowStatus.PENDING.value) & (FlowItem.challenge_version == flow.version)
        if also is None:
            if not update_if(_flow_item(flow), actions, condition):
                raise StaleWrite(flow.key)
            return
        with conditional_transaction(flow.key) as tx:
            tx.update(_flow_item(flow), actions=actions, condition=condition)
            also(tx)

    # ------------------------------------------------------------------ pushes

    def push(self, push_key: str) -> Push | None:
        item = PushItem.find(push_key)
        return push_from(item) if item is not None else None

    def pushing(self, push: Push) -> Completing:
        """A new push, for the transaction that issues its challenge."""
        return lambda tx: tx.save(push_item(push), condition=PushItem.pk.does_not_exist())

    def withdrawing(self, push_key: str, now: datetime) -> Completing:
        """A push whose flow moved on before it expired: the app drops it."""
        return lambda tx: tx.update(PushItem.keyed(push_key), actions=[PushItem.withdrawn_at.set(now)],
                                    condition=PushItem.pk.exists())

    def answering(self, push: Push, now: datetime) -> Completing:
        """The one answer a push takes (an approval, a denial, a wrong number)."""
        return lambda tx: tx.update(PushItem.keyed(push.key), actions=[PushItem.answered_at.set(now)],
                                    condition=PushItem.pk.exists() & PushItem.answered_at.does_not_exist()
                                    & PushItem.withdrawn_at.does_not_exist())

    def pushed_flow(self, push: Push) -> tuple[Flow | None, Device | None]:
        """The flow a push belongs to and the device it went to, read together."""
        flow, device = None, None
        for item in Item.batch_get([FlowItem.key(push.purpose.value, push.flow_key),
                                    DeviceItem.key(push.holder, push.device_id)], consistent_read=True):
            if isinstance(item, FlowItem):
                flow = flow_from(item)
            elif isinstance(item, DeviceItem):
                device = device_from(item)
        return flow, device

    def run(self, key: str, *writes: Completing) -> None:
        """``writes`` in one transaction: StaleWrite when a condition of one of them failed."""
        with conditional_transaction(key) as tx:
            for write in writes:
                write(tx)

    # ------------------------------------------------------------------ answers

    def device_for_answer(self, username: str, device_id: str) -> tuple[Device | None, dict[str, int]]:
        """The device (through its link, if shared) and the slots of the cap of the user
        who answers with it, read together."""
        device, slots = None, None
        for item in Item.batch_get([DeviceItem.key(username, device_id), AnswerSlotsItem.key(username)],
                                   consistent_read=True):
            if isinstance(item, DeviceItem):
                device = device_from(item)
            elif isinstance(item, AnswerSlotsItem):
                slots = _slots_from(item)
        return held(device), self._new_slots(username) if slots is None else slots

    def slots(self, username: str) -> dict[str, int]:
        item = AnswerSlotsItem.find(username)
        return _slots_from(item) if item is not None else self._new_slots(username)

    @staticmethod
    def _new_slots(username: str) -> dict[str, int]:
        """A user made before the cap existed gets its (empty) item now."""
        save_if(AnswerSlotsItem.keyed(username), AnswerSlotsItem.pk.does_not_exist())  # or a concurrent answer did
        return {}

    def reserve_answer(self, flow: Flow, device: Device | None, slot_user: str, slots: dict[str, int] | None,
                       now: datetime, max_attempts: int, cap: int, window: timedelta,
                       answer_key: str | None = None) -> Reservation:
        """Takes an attempt and a slot, while the device is unlocked and still as ``device``
        shows it, all or none (see the module). With ``slots`` unread, a slot at random:
        the write's condition refuses it if it is in use. An answer already counted against
        this challenge (``answer_key`` among ``flow.answered``: the same request sent again
        after a 503) takes nothing new: it is its own reservation, if it is still recorded."""
        counted = flow.counted(answer_key)
        if counted is not None:
            entry, slot, stamp = counted
            try:
                with conditional_transaction(flow.key) as tx:
                    tx.condition_check(FlowItem, *FlowItem.key(flow.purpose.value, flow.key),
                                       condition=(FlowItem.status == FlowStatus.PENDING.value)
                                       & (FlowItem.challenge_version == flow.version)
                                       & FlowItem.answered.contains(entry))
                    if device is not None:
                        tx.condition_check(DeviceItem, *DeviceItem.key(device.holder, device.device_id),
                                           condition=_answers_as(device, now))
                return Reservation(slot_user, slot, stamp, flow.attempts)
            except StaleWrite:
                current = self.get(flow.purpose, flow.key)
                if current is None or current.status != FlowStatus.PENDING or current.version != flow.version:
                    raise FlowClosed(flow.key) from None
                raise  # the device changed: the caller reads it again
        choice = choose_answer_slot(slots, cap, now, window)
        actions = [FlowItem.attempts.add(1)]
        if answer_key is not None:
            actions.append(FlowItem.answered.add({f"{answer_key}|{choice.slot}|{choice.stamp}"}))
        try:
            with conditional_transaction(flow.key) as tx:
                tx.update(_flow_item(flow), actions=actions,
                          condition=(FlowItem.status == FlowStatus.PENDING.value)
                          & (FlowItem.challenge_version == flow.version) & (FlowItem.attempts < max_attempts))
                if device is not None:
                    tx.condition_check(DeviceItem, *DeviceItem.key(device.holder, device.device_id),
                                       condition=_answers_as(device, now))
                    if device.shared_from is not None:  # the share must still stand
                        tx.condition_check(DeviceItem, *DeviceItem.key(device.username, device.device_id),
                                           condition=DeviceItem.status == DeviceStatus.ACTIVE.value)
                tx.update(AnswerSlotsItem.keyed(slot_user),
                          actions=[AnswerSlotsItem.slots[choice.slot].set(choice.stamp)],
                          condition=AnswerSlotsItem.slots[choice.slot].does_not_exist()
                          | (AnswerSlotsItem.slots[choice.slot] <= choice.cutoff))
        except StaleWrite as exc:
            self._explain(exc, flow, max_attempts)
            raise
        except TransactWriteError as exc:
            if slots is None and not is_outage(exc):
                # A user made before the cap existed has no slots item, and an unread slot cannot
                # be set in a missing map: the caller reads the slots (which makes it) and tries again.
                raise StaleWrite(flow.key) from exc
            raise
        return Reservation(slot_user, choice.slot, choice.stamp, flow.attempts + 1)

    def _explain(self, exc: StaleWrite, flow: Flow, max_attempts: int) -> None:
        """Why a take failed, when the flow is why, from the flow read again (not from the
        positions of the failed conditions, which moto does not report in order for
        condition checks). Otherwise (a slot taken meanwhile, the device locked or changed,
        a write conflict) it returns: the caller reads the device and the slots again."""
        if not exc.failed_items:
            return
        current = self.get(flow.purpose, flow.key)
        if current is None or current.status != FlowStatus.PENDING or current.version != flow.version:
            raise FlowClosed(flow.key) from None
        if current.attempts >= max_attempts:
            raise AttemptsUsed(flow.key) from None

    def count_failure(self, device: Device, now: datetime, lock_after: int, lock_for: timedelta) -> datetime | None:
        """A wrong answer from the device: one more consecutive failure, and at
        ``lock_after`` a lock for ``lock_for`` doubled per earlier lock (the lock starts a
        new count). Returns the end of the lock this answer made, or None."""
        item = _device_state(device)
        item.update(actions=[DeviceItem.consecutive_failures.add(1)], condition=DeviceItem.pk.exists())
        if int(item.consecutive_failures) < lock_after:
            return None
        until = lock_ends(now, lock_for, int(item.lock_count or 0))
        locked = lock_when_due(_device_state(device), DeviceItem.consecutive_failures, DeviceItem.locked_until,
                               DeviceItem.lock_count, until, lock_after)
        return until if locked else None

    @staticmethod
    def completing(flow: Flow, reservation: Reservation | None, now: datetime,
                   confirmed_by: Device | None = None, status: FlowStatus = FlowStatus.APPROVED) -> Completing:
        """``complete_flow`` as writes for a transaction that another store runs."""
        return lambda tx: complete_flow(tx, flow, status, confirmed_by=confirmed_by, reservation=reservation,
                                        now=now)

    def unreserve(self, flow: Flow, reservation: Reservation) -> None:
        """A right answer whose completion AWS failed before it committed gives back what it
        took, if the flow is still as it was: its attempt, and its slot of the cap."""
        with conditional_transaction(flow.key) as tx:
            tx.update(_flow_item(flow), actions=[FlowItem.attempts.add(-1)],
                      condition=(FlowItem.status == FlowStatus.PENDING.value)
                      & (FlowItem.challenge_version == flow.version) & (FlowItem.attempts > 0))
            tx.update(AnswerSlotsItem.keyed(reservation.slot_user),
                      actions=[AnswerSlotsItem.slots[reservation.slot].remove()],
                      condition=AnswerSlotsItem.slots[reservation.slot] == reservation.stamp)

    def forgive(self, device: Device | None, reservation: Reservation, now: datetime) -> None:
        """A right answer whose flow could not complete (a limit refused it): it gives
        back what it took, as a completing write would have."""
        with conditional_transaction(reservation.slot) as tx:
            _give_back(tx, device, reservation, now)


def _answers_as(device: Device, now: datetime) -> Condition:
    """The device's item is unlocked and, in all that checking an answer reads (its
    status, secrets and validity), still as ``device`` shows it."""
    condition = (DeviceItem.status == device.status.value) & (
        DeviceItem.locked_until.does_not_exist() | (DeviceItem.locked_until <= now))
    for attribute, value in ((DeviceItem.sealed_secret, device.sealed_secret),
                             (DeviceItem.valid_until, device.valid_until),
                             (DeviceItem.full_access_until, device.full_access_until)):
        condition &= attribute.does_not_exist() if value is None else attribute == value
    return condition


def _give_back(tx: TransactWrite, device: Device | None, reservation: Reservation, now: datetime,
               answered_pair: str | None = None) -> None:
    if device is not None:
        actions = [DeviceItem.last_used_at.set(now), DeviceItem.consecutive_failures.set(0)]
        condition = DeviceItem.pk.exists()
        if device.sign_count is not None:  # a passkey's counter, as its right answer saw it: never backwards
            actions.append(DeviceItem.sign_count.set(device.sign_count))
            condition &= DeviceItem.sign_count.does_not_exist() | (DeviceItem.sign_count <= device.sign_count)
        if answered_pair:
            # A code card's open pair, answered right, closes: the next challenge draws anew. Only
            # that pair: a right answer to an older challenge of a pair already closed must not
            # close the card's current one (that would let a known pair discard unknown ones).
            actions.append(DeviceItem.open_pair.remove())
            condition &= DeviceItem.open_pair.does_not_exist() | (DeviceItem.open_pair == answered_pair)
        tx.update(_device_state(device), actions=actions, condition=condition)
    tx.update(AnswerSlotsItem.keyed(reservation.slot_user),
              actions=[AnswerSlotsItem.slots[reservation.slot].remove()])


def complete_flow(tx: TransactWrite, flow: Flow, status: FlowStatus = FlowStatus.APPROVED,
                  confirmed_by: Device | None = None, reservation: Reservation | None = None,
                  now: datetime | None = None, extra: tuple[Action, ...] = ()) -> None:
    """In ``tx``: the pending flow, at the version it was read, ends as ``status``, once.
    With a ``reservation`` (a right answer), the device and the user's cap get back what
    the answer took; a push approval (no reservation) records the device's use."""
    actions = [FlowItem.status.set(status.value), FlowItem.challenge.remove(), *extra]
    request = current_request.get()
    if request is not None:
        actions.append(FlowItem.completed_by_request.set(request))
    if confirmed_by is not None:
        actions.append(FlowItem.confirmed_by.set(confirmed_by.device_id))
    tx.update(_flow_item(flow), actions=actions,
              condition=(FlowItem.status == FlowStatus.PENDING.value) & (FlowItem.challenge_version == flow.version))
    if reservation is not None:
        assert now is not None
        _give_back(tx, confirmed_by, reservation, now,
                   flow.challenge.check_data.get(OPEN_PAIR) if flow.challenge else None)
    elif confirmed_by is not None and status == FlowStatus.APPROVED:
        assert now is not None
        tx.update(_device_state(confirmed_by), actions=[DeviceItem.last_used_at.set(now)],
                  condition=DeviceItem.pk.exists())


class SessionGrants:
    """The writes that end a login by granting its session: a right answer, or the
    browser's poll after a push approval."""

    def approve(self, flow: Flow, reservation: Reservation, device: Device, session: Session, now: datetime,
                also: Completing) -> None:
        """The login is approved, its session exists and the device's answer is given
        back, with ``also`` (its audit event), in one transaction: of parallel right
        answers one wins, the others get StaleWrite."""
        with conditional_transaction(flow.key) as tx:
            complete_flow(tx, flow, confirmed_by=device, reservation=reservation, now=now,
                          extra=(FlowItem.session_handed_out.set(True),))
            tx.save(session_item(session), condition=SessionItem.pk.does_not_exist())
            also(tx)

    def hand_out(self, flow: Flow, session: Session, also: Completing) -> None:
        """Stores the session of a push-approved login, once: StaleWrite if it was handed out."""
        with conditional_transaction(flow.key) as tx:
            tx.update(_flow_item(flow), actions=[FlowItem.session_handed_out.set(True)],
                      condition=(FlowItem.status == FlowStatus.APPROVED.value)
                      & (FlowItem.session_handed_out == False))  # noqa: E712
            tx.save(session_item(session), condition=SessionItem.pk.does_not_exist())
            also(tx)
