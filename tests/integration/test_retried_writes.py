"""Writes that recognise their own retry, over the embedded AWS: a put sent again after its
answer was lost finds its own item, and a keyed enrolment whose answer was lost gives the
same request the same answer, and nobody else anything."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from test_ib_key import PASSWORD, PHONE, PhoneApp, last

from securelogin.adapters.audit import AuditStore
from securelogin.adapters.dynamo import save_if
from securelogin.adapters.table import AuditItem
from securelogin.domain.models import AuditEvent
from securelogin.errors import Gone
from securelogin.retries import current_request


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
