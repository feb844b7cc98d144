"""IB Key recovery and transfer over the embedded AWS."""
from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from securelogin.crypto.ocra import ocra
from securelogin.domain.models import DeviceStatus, DeviceType, Method
from securelogin.errors import Forbidden, Gone, InvalidInput, Unauthenticated
from securelogin.services.backoffice_devices import DeviceOrder
from securelogin.services.enrolment import AppEnrolment
from securelogin.services.login import ClientInfo

PASSWORD = "correct horse 1"
PHONE = "+15550001111"
SEED = "3132333435363738393031323334353637383930313233343536373839303132"


def app(pin="7Q!x2", app_instance_id=None):
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return AppEnrolment(pin=pin, public_key=base64.b64encode(der).decode(), platform="ios",
                        app_instance_id=app_instance_id)


@pytest.fixture
def world(world_over_http, new_user):
    world_over_http.services.users.create(new_user(), actor="tester")
    return world_over_http


def outbox(world):
    return world.embedded.outbox.snapshot()


def token_since(world, mark):
    return re.findall(r"\d{8}", [m for m in outbox(world)[mark:] if m["channel"] == "sms"][-1]["body"])[0]


def activate(world, pin="7Q!x2"):
    mark = len(outbox(world))
    started = world.services.activation.start_by_sms("alice", PASSWORD, PHONE)
    done = world.services.activation.complete_by_sms(started.activation_id, token_since(world, mark), app(pin))
    world.clock.advance(121)  # past the resend interval
    return done


def ib_keys(world):
    return {d.device_id: d.status for d in world.services.users.profile("alice")[1] if d.type == DeviceType.IB_KEY}


def test_same_phone_needs_the_original_pin_and_keeps_the_app_instance(world):
    first = activate(world, pin="7Q!x2")
    mark = len(outbox(world))
    started = world.services.recovery.start("alice", PASSWORD, True, first.app_instance_id)
    assert started.method == "sms" and started.sent_to.endswith(PHONE[-3:])
    code = token_since(world, mark)
    with pytest.raises(Unauthenticated) as wrong_pin:
        world.services.recovery.complete(started.recovery_id, app("1a2b3c"), code, None)
    assert wrong_pin.value.code == "invalid_pin"
    done = world.services.recovery.complete(started.recovery_id, app("7Q!x2"), code, None)
    assert done.app_instance_id == first.app_instance_id
    assert ib_keys(world) == {first.device_id: DeviceStatus.REVOKED, done.device_id: DeviceStatus.ACTIVE}
    with pytest.raises(Gone):  # the recovery is spent
        world.services.recovery.complete(started.recovery_id, app("7Q!x2"), code, None)


def test_another_phone_gets_a_new_instance_and_the_old_secret_stops_working(world):
    first = activate(world)
    mark = len(outbox(world))
    started = world.services.recovery.start("alice", PASSWORD, False, None)
    code = token_since(world, mark)
    with pytest.raises(InvalidInput):  # a new phone sets a new PIN, under the PIN rules
        world.services.recovery.complete(started.recovery_id, app("1234"), code, None)
    done = world.services.recovery.complete(started.recovery_id, app("5t%R9"), code, None)
    assert done.app_instance_id != first.app_instance_id
    assert ib_keys(world)[first.device_id] == DeviceStatus.REVOKED
    login = world.services.login.start("alice", PASSWORD, ClientInfo("portal"))
    question = world.services.login.challenge(login.login_id, done.device_id, Method.CHALLENGE_RESPONSE).public[
        "challenge_code"]
    with pytest.raises(Unauthenticated):
        world.services.login.verify(login.login_id, ocra(first.ocra_suite, bytes.fromhex(first.ocra_secret_hex),
                                                         question))
    session = world.services.login.verify(login.login_id, ocra(done.ocra_suite, bytes.fromhex(done.ocra_secret_hex),
                                                               question)).session
    assert (session.username, session.device_id, session.scope.value) == ("alice", done.device_id, "full")


def test_a_physical_device_answers_instead_of_an_sms(world):
    world.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.DSC_PLUS, seed_hex=SEED,
                                                                 pin="4831"), "cs")
    old = activate(world)
    mark = len(outbox(world))
    started = world.services.recovery.start("alice", PASSWORD, False, None)
    assert started.method == "device" and not [m for m in outbox(world)[mark:] if m["channel"] == "sms"]
    question = started.challenge["challenge_code"]
    with pytest.raises(Unauthenticated) as wrong:
        world.services.recovery.complete(started.recovery_id, app("5t%R9"), None, "00000000")
    assert wrong.value.code == "invalid_response" and wrong.value.extra["attempts_left"] == 4
    right = ocra("OCRA-1:HOTP-SHA256-8:QN06-PSHA1", bytes.fromhex(SEED), question, pin="4831")
    done = world.services.recovery.complete(started.recovery_id, app("5t%R9"), None, right)
    assert done.app_instance_id != old.app_instance_id
    assert ib_keys(world) == {old.device_id: DeviceStatus.REVOKED, done.device_id: DeviceStatus.ACTIVE}


def test_nothing_to_prove_possession_with_means_client_services(world_over_http, new_user):
    world_over_http.services.users.create(new_user("bob", phones=[]), actor="tester")
    with pytest.raises(Forbidden) as refused:
        world_over_http.services.recovery.start("bob", PASSWORD, False, None)
    assert refused.value.code == "contact_client_services"


def test_a_wrong_password_starts_nothing_and_a_recovery_expires(world):
    with pytest.raises(Unauthenticated):
        world.services.recovery.start("alice", "wrong", False, None)
    mark = len(outbox(world))
    started = world.services.recovery.start("alice", PASSWORD, False, None)
    code = token_since(world, mark)
    world.clock.advance(601)
    with pytest.raises(Gone):
        world.services.recovery.complete(started.recovery_id, app("5t%R9"), code, None)
