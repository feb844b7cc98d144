"""Writes that recognise their own retry, over the embedded AWS: a put sent again after its
answer was lost finds its own item, and a keyed enrolment whose answer was lost gives the
same request the same answer, and nobody else anything."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from pynamodb.exceptions import TransactWriteError
from test_ib_key import PASSWORD, PHONE, PhoneApp, last

from securelogin.adapters.audit import AuditStore
from securelogin.adapters.aws import is_outage
from securelogin.adapters.dynamo import save_if
from securelogin.adapters.table import AuditItem
from securelogin.domain.models import AuditEvent, DeviceType
from securelogin.errors import Gone
from securelogin.retries import current_request
from securelogin.services.backoffice_devices import DeviceOrder


@pytest.fixture
def world(world_over_http, new_user):
    world_over_http.services.users.create(new_user(), actor="tester")
    return world_over_http


def test_a_put_sent_again_finds_its_own_item_and_another_item_under_that_key_fails(world):
    event = AuditEvent(at=datetime(2026, 12, 6, tzinfo=UTC), type="device.added", details={"device_id": "dev_1"})
    item = AuditItem.keyed("bob", event.at, "0011", type=event.type, at=event.at, details=event.details)
    assert save_if(item, AuditItem.pk.does_not_exist())
    assert save_if(item, AuditItem.pk.does_not_exist())  # the same write again: made
    other = AuditItem.keyed("bob", event.at, "0011", type="device.removed", at=event.at, details=event.details)
    assert not save_if(other, AuditItem.pk.does_not_exist())
    assert [e.type for e in AuditStore().newest_first("bob", 10)] == ["device.added"]


def started(world):
    mark = len(world.embedded.outbox.snapshot())
    activation = world.services.activation.start_by_sms("alice", PASSWORD, PHONE)
    return activation.activation_id, re.findall(r"\d{8}", last(world, "sms", mark)["body"])[0]


def test_a_keyed_completion_sent_again_gets_the_device_it_made(world):
    activation_id, code = started(world)
    app = PhoneApp()
    enrolment = app.enrolment()
    request = current_request.set("request-1")
    try:
        first = world.services.activation.complete_by_sms(activation_id, code, enrolment)
        # Its answer was lost: the same request (key, caller, body) comes again.
        again = world.services.activation.complete_by_sms(activation_id, code, enrolment)
    finally:
        current_request.reset(request)
    assert again == first
    _, devices = world.services.users.profile("alice")
    assert [d.device_id for d in devices if d.type.value == "ib_key"] == [first.device_id]
    stored = next(d for d in devices if d.device_id == first.device_id)
    assert world.services.device_secrets.open(stored).seed_hex == again.ocra_secret_hex  # the one committed


@pytest.mark.parametrize("running", [None, "request-2"], ids=["no key", "another request"])
def test_a_completed_flow_gives_nothing_to_a_request_that_did_not_complete_it(world, running):
    activation_id, code = started(world)
    enrolment = PhoneApp().enrolment()
    request = current_request.set("request-1")
    try:
        world.services.activation.complete_by_sms(activation_id, code, enrolment)
    finally:
        current_request.reset(request)
    request = current_request.set(running)
    try:
        with pytest.raises(Gone) as gone:
            world.services.activation.complete_by_sms(activation_id, code, enrolment)
    finally:
        current_request.reset(request)
    assert gone.value.code == "activation_expired"


def test_a_transaction_whose_answers_were_all_lost_is_found_committed(world):
    """Its answer and the SDK's retry's are lost (the retry finds it done by its token, and that
    answer is lost too): one consistent read of what it put shows it happened, so the request
    goes on with what it made instead of answering 503 for a change that stands."""
    world.embedded.faults.arm({"service": "dynamodb", "operation": "TransactWriteItems", "error": "InternalServerError",
                               "count": 2, "after": True})
    issued = world.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), actor="cs")
    assert world.embedded.faults.listed() == []  # both answers were lost
    _, devices = world.services.users.profile("alice")
    assert [d.device_id for d in devices if d.type == DeviceType.SCC] == [issued.device.device_id]
    assert [e.type for e in world.services.audit.newest_first("alice")].count("device.added") == 2  # SMS + the card


def test_a_transaction_that_did_not_commit_is_still_an_outage(world):
    world.embedded.faults.arm({"service": "dynamodb", "operation": "TransactWriteItems", "error": "InternalServerError",
                               "count": 2})
    with pytest.raises(TransactWriteError) as failed:  # the API answers it 503 (is_outage)
        world.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), actor="cs")
    assert is_outage(failed.value)
    _, devices = world.services.users.profile("alice")
    assert not [d for d in devices if d.type == DeviceType.SCC]
