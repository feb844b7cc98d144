"""IB Key activation by QR code / session ID, over the fakes: the id is Crockford's base32,
read back as a person types it; one never issued is unknown (404), one used or expired is
gone (410); the portal that showed it sees the app finish."""
from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fakes import FakeServices, fake_services

from securelogin.crypto.codes import lookup_key
from securelogin.domain.models import DeviceStatus, DeviceType, FlowStatus, Purpose
from securelogin.errors import Gone, NotFound
from securelogin.services import activation
from securelogin.services.enrolment import AppEnrolment

PASSWORD = "correct horse 1"
PHONE = "+15550001111"
ISSUED = "7KQ4M9XD2RT0H61N"  # with a 0 and a 1, to be typed as O, I or L


def app(pin: str = "7Q!x2") -> AppEnrolment:
    der = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return AppEnrolment(pin=pin, public_key=base64.b64encode(der).decode(), platform="ios")


@pytest.fixture
def world(new_user) -> FakeServices:
    return fake_services().with_users(new_user("alice", phones=[PHONE]), new_user("bob", phones=["+15550002222"]))


@pytest.fixture
def issued(monkeypatch) -> str:
    """The next QR session id issued is ``ISSUED``."""
    monkeypatch.setattr(activation, "new_session_id", lambda length: ISSUED[:length])
    return ISSUED


def ib_keys(world, username: str = "alice") -> list:
    return [d for d in world.users.profile(username)[1] if d.type == DeviceType.IB_KEY]


def unknown(call) -> None:
    with pytest.raises(NotFound) as refused:
        call()
    assert refused.value.code == "unknown_session_id"


def gone(call) -> None:
    with pytest.raises(Gone) as refused:
        call()
    assert refused.value.code == "qr_expired_or_used"


def test_a_session_id_is_sixteen_characters_of_crockfords_base32_stored_under_its_key(world):
    ids = [world.activation.start_by_qr("alice").session_id for _ in range(5)]
    assert len(set(ids)) == 5 and all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{16}", i) for i in ids)
    for session_id in ids:
        flow = world.table.flows[(Purpose.QR_SESSION, lookup_key(session_id))]
        assert flow.username == "alice" and flow.status == FlowStatus.PENDING
        assert flow.expires_at == world.clock.now() + world.policy.qr_ttl


@pytest.mark.parametrize("typed", [ISSUED, "7kq4-m9xd-2rt0-h61n", " 7KQ4 - m9xd 2RTO-H6lN ", "7kq4m9xd2rtoh6in"])
def test_a_session_id_typed_in_any_case_with_hyphens_spaces_and_look_alikes_enrols(world, issued, typed):
    session = world.activation.start_by_qr("alice")
    assert session.session_id == ISSUED
    done = world.activation.complete_by_qr(typed, app())
    assert done.username == "alice"
    assert [(k.device_id, k.status) for k in ib_keys(world)] == [(done.device_id, DeviceStatus.ACTIVE)]
    flow = world.table.flows[(Purpose.QR_SESSION, lookup_key(ISSUED))]
    assert flow.status == FlowStatus.APPROVED and flow.confirmed_by == done.device_id


def test_an_id_never_issued_as_a_qr_session_is_unknown_whatever_its_form(world, issued):
    world.activation.start_by_qr("alice")
    recovery_id = world.recovery.start("alice", PASSWORD, False, None).recovery_id
    activation_id = world.activation.start_by_sms("alice", PASSWORD, PHONE).activation_id
    for never in ("7KQ4M9XD2RT0H61P",  # a typo: one character off
                  "7KQ4M9XD2RT0H61", ISSUED + "7", "7KQ4M9XD2RT0H61U", "#" * 64, "x",  # no id at all
                  recovery_id, activation_id, lookup_key(ISSUED)):  # other flows' ids, the stored key
        unknown(lambda never=never: world.activation.complete_by_qr(never, app()))
    assert ib_keys(world) == []
    assert world.table.flows[(Purpose.QR_SESSION, lookup_key(ISSUED))].status == FlowStatus.PENDING


def test_a_used_or_expired_session_id_is_gone(world):
    used, later = world.activation.start_by_qr("alice"), world.activation.start_by_qr("alice")
    first = world.activation.complete_by_qr(used.session_id, app())
    gone(lambda: world.activation.complete_by_qr(used.session_id, app()))
    gone(lambda: world.activation.complete_by_qr(used.session_id.lower(), app()))
    world.clock.advance(601)
    gone(lambda: world.activation.complete_by_qr(later.session_id, app()))
    assert [k.device_id for k in ib_keys(world)] == [first.device_id]


def test_the_portal_sees_its_own_qr_session_finish(world, issued):
    world.activation.start_by_qr("alice")
    assert world.activation.qr_status("alice", ISSUED).status == "pending"
    assert world.activation.qr_status("alice", "7kq4-m9xd-2rto-h6ln").status == "pending"
    unknown(lambda: world.activation.qr_status("bob", ISSUED))  # another user's
    unknown(lambda: world.activation.qr_status("alice", "7KQ4M9XD2RT0H61P"))  # never issued
    unknown(lambda: world.activation.qr_status("alice", "not an id"))
    done = world.activation.complete_by_qr(ISSUED, app())
    state = world.activation.qr_status("alice", ISSUED)
    assert (state.status, state.device_id) == ("used", done.device_id)
    world.clock.advance(601)
    assert world.activation.qr_status("alice", ISSUED).status == "used"


def test_an_unused_qr_session_reads_as_expired_after_ten_minutes(world):
    session = world.activation.start_by_qr("alice")
    world.clock.advance(599)
    assert world.activation.qr_status("alice", session.session_id).status == "pending"
    world.clock.advance(2)
    state = world.activation.qr_status("alice", session.session_id)
    assert (state.status, state.device_id) == ("expired", None)
