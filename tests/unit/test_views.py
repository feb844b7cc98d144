"""What each route shows of what its service returned: exactly these fields, absent when they
do not apply, null when they apply without a value, times as ISO-8601 UTC."""
from datetime import UTC, datetime, timedelta

import segno

from securelogin.api import views
from securelogin.domain.limits import Availability
from securelogin.domain.models import (
    AuditEvent,
    Device,
    DeviceStatus,
    DeviceType,
    FlowStatus,
    IdDocument,
    Identity,
    Method,
    Scope,
    Session,
    Share,
    ShareStatus,
    SlsMode,
    User,
)
from securelogin.services.activation import ActivationStarted, QrEnrolled, QrSession, QrSessionState
from securelogin.services.backoffice_devices import IssuedDevice, TemporaryCode
from securelogin.services.flows import ChallengeIssued
from securelogin.services.login import LoginStarted
from securelogin.services.recovery import RecoveryStarted
from securelogin.services.sessions import GrantedSession
from securelogin.services.sharing import ShareStarted
from securelogin.services.sls_mode import SecureLoginSetting
from securelogin.services.step_up import StepUpStarted
from securelogin.services.user_devices import DscPlusRequested, OnlineCard
from securelogin.services.users import UserView
from securelogin.services.withdrawals import WithdrawalStarted

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
NOW_SHOWN = "2026-11-21T10:00:00Z"
FLOW_ID = "f" * 22

PHONE = Device("dev_sms", "alice", DeviceType.SMS, "SMS", DeviceStatus.ACTIVE, NOW - timedelta(days=1),
               phone="+15551234567")
PHONE_SHOWN = {"device_id": "dev_sms", "type": "sms", "label": "SMS", "status": "active", "security_level": 1,
               "created_at": "2026-11-20T10:00:00Z", "last_used_at": None, "phone_masked": "+1*******567"}
CARD = Device("dev_card", "alice", DeviceType.DSC_PLUS, "DSC+", DeviceStatus.ACTIVE, NOW - timedelta(days=1),
              last_used_at=NOW, serial="D-1", ocra_suite="OCRA-1:HOTP-SHA1-8:QN06-PSHA1")
CARD_SHOWN = {"device_id": "dev_card", "type": "dsc_plus", "label": "DSC+", "status": "active", "security_level": 4,
              "created_at": "2026-11-20T10:00:00Z", "last_used_at": NOW_SHOWN, "serial": "D-1",
              "ocra_suite": "OCRA-1:HOTP-SHA1-8:QN06-PSHA1"}
IB_KEY = Device("dev_key", "alice", DeviceType.IB_KEY, "IB Key (ios)", DeviceStatus.ACTIVE, NOW - timedelta(days=1),
                ocra_suite="OCRA-1:HOTP-SHA256-8:QN06", app_instance_id="app_0123456789abcdef01234567",
                platform="ios")
IB_KEY_SHOWN = {"device_id": "dev_key", "type": "ib_key", "label": "IB Key (ios)", "status": "active",
                "security_level": IB_KEY.security_level, "created_at": "2026-11-20T10:00:00Z", "last_used_at": None,
                "ocra_suite": "OCRA-1:HOTP-SHA256-8:QN06", "app_instance_id": "app_0123456789abcdef01234567",
                "platform": "ios"}
TEMPORARY = Device("dev_tmp", "alice", DeviceType.TEMPORARY_CODE, "Temporary code", DeviceStatus.ACTIVE, NOW,
                   valid_until=NOW + timedelta(days=14), full_access_until=NOW + timedelta(days=3))

ALICE = User("alice", "hash", "U100", "E100", True, ["+15551234567"], 2500.0, "US", NOW - timedelta(days=30),
             restrictions=["no_options"])
ALICE_SHOWN = {"username": "alice", "account_id": "U100", "entity_id": "E100", "primary": True,
               "phones": ["+15551234567"], "balance_usd": 2500.0, "jurisdiction": "US", "sls_mode": "always",
               "restrictions": ["no_options"], "created_at": "2026-10-22T10:00:00Z"}

TRADING = GrantedSession("token-1", Session("key-1", "alice", Scope.TRADING, NOW, NOW + timedelta(hours=8)))
TRADING_SHOWN = {"session_token": "token-1", "scope": "trading", "expires_at": "2026-11-21T18:00:00Z"}


def shown(answer) -> dict:
    """The answer as sent: only the fields that were set."""
    return answer.model_dump(mode="json", exclude_unset=True)


def a_share(status: ShareStatus, reason: str | None = None) -> Share:
    return Share(share_id=FLOW_ID, key="lookup", requester="alice2", owner="alice", device_id="dev_card",
                 status=status, same_entity=False, created_at=NOW, expires_at=NOW + timedelta(minutes=5),
                 reason=reason)


# ------------------------------------------------------------------ devices and users

def test_an_issued_device_shows_a_generated_seed_or_card_values_only_when_there_are_some():
    assert shown(views.issued_device(IssuedDevice(CARD, generated_seed_hex="ab" * 20), NOW)) == {
        **CARD_SHOWN, "seed_hex": "ab" * 20}
    assert shown(views.issued_device(IssuedDevice(CARD, card={"001": "4821"}), NOW)) == {
        **CARD_SHOWN, "card": {"001": "4821"}}
    assert shown(views.issued_device(IssuedDevice(CARD, generated_seed_hex="", card={}), NOW)) == CARD_SHOWN


def test_the_back_office_sees_the_user_the_last_digits_of_their_identity_and_their_devices():
    identity = Identity("1980-02-29", "US", "US", IdDocument("passport", "X12345678"), ssn="123456789")
    record = views.user_record(UserView(ALICE, identity, [PHONE, CARD]), NOW)
    assert shown(record) == {
        **ALICE_SHOWN,
        "identity": {"date_of_birth": "1980-02-29", "citizenship": "US", "country_of_residence": "US",
                     "id_document": {"type": "passport", "number_last4": "5678"}, "ssn_last4": "6789"},
        "devices": [PHONE_SHOWN, CARD_SHOWN]}


def test_the_profile_shows_the_user_their_devices_and_the_limits_of_each_kind_of_device():
    limits = {"sms": {"per_day": 1000.0, "per_five_business_days": None, "remaining_today": 400.0,
                      "remaining_five_business_days": None}}
    assert shown(views.profile(ALICE, [PHONE, IB_KEY], limits, NOW)) == {
        **ALICE_SHOWN, "devices": [PHONE_SHOWN, IB_KEY_SHOWN], "withdrawal_limits": limits}


def test_a_temporary_code_shows_until_when_it_gives_full_and_portal_access():
    assert shown(views.temporary_code(TemporaryCode(TEMPORARY, "83920174"))) == {
        "device_id": "dev_tmp", "code": "83920174", "full_access_until": "2026-11-24T10:00:00Z",
        "portal_access_until": "2026-12-05T10:00:00Z"}


def test_shares_are_listed_in_order_with_a_reason_only_when_one_was_given():
    waiting, rejected = a_share(ShareStatus.PENDING_COMPLIANCE), a_share(ShareStatus.REJECTED, reason="other owner")
    listed = shown(views.shares([waiting, rejected]))
    common = {"share_id": FLOW_ID, "requester_username": "alice2", "owner_username": "alice",
              "device_id": "dev_card", "same_entity": False, "created_at": NOW_SHOWN}
    assert listed == {"shares": [{**common, "status": "pending_compliance"},
                                 {**common, "status": "rejected", "reason": "other owner"}]}
    assert shown(views.shares([])) == {"shares": []}


def test_the_audit_trail_shows_each_events_details_beside_its_time_and_type():
    events = [AuditEvent(NOW, "login.succeeded", {"device_id": "dev_sms", "method": "sms"}),
              AuditEvent(NOW - timedelta(hours=1), "logout", {})]
    assert shown(views.audit_trail(events)) == {"events": [
        {"device_id": "dev_sms", "method": "sms", "at": NOW_SHOWN, "type": "login.succeeded"},
        {"at": "2026-11-21T09:00:00Z", "type": "logout"}]}


# ------------------------------------------------------------------ login and sessions

def test_a_granted_session_shows_its_token_scope_and_end():
    assert views.session_fields(TRADING) == TRADING_SHOWN
    assert shown(views.session_granted(TRADING)) == TRADING_SHOWN


def test_a_started_login_lists_the_devices_and_no_session_fields():
    started = LoginStarted(FLOW_ID, NOW + timedelta(minutes=5), [PHONE, CARD], "dev_card")
    assert shown(views.login_started(started, NOW)) == {
        "login_id": FLOW_ID, "expires_at": "2026-11-21T10:05:00Z", "devices": [PHONE_SHOWN, CARD_SHOWN],
        "default_device_id": "dev_card"}


def test_the_password_step_shows_no_app_instance_whose_pin_could_be_guessed():
    started = LoginStarted(FLOW_ID, NOW + timedelta(minutes=5), [PHONE, IB_KEY], "dev_key")
    offered = shown(views.login_started(started, NOW))["devices"]
    assert offered == [PHONE_SHOWN, {k: v for k, v in IB_KEY_SHOWN.items() if k != "app_instance_id"}]


def test_an_opted_out_login_also_shows_its_trading_session_whose_end_is_the_answers():
    started = LoginStarted(FLOW_ID, NOW + timedelta(minutes=5), [], None, trading_session=TRADING,
                           restrictions=["no_withdrawals"])
    assert shown(views.login_started(started, NOW)) == {
        "login_id": FLOW_ID, "devices": [], "default_device_id": None, **TRADING_SHOWN,
        "restrictions": ["no_withdrawals"]}


def test_a_login_status_carries_the_session_only_with_the_read_that_hands_it_out():
    assert shown(views.login_status(FlowStatus.PENDING, None)) == {"status": "pending"}
    assert shown(views.login_status(FlowStatus.APPROVED, None)) == {"status": "approved"}
    assert shown(views.login_status(FlowStatus.APPROVED, TRADING)) == {"status": "approved", **TRADING_SHOWN}


# ------------------------------------------------------------------ IB Key activation and recovery

def test_an_activation_code_sent_shows_where_and_until_when():
    started = ActivationStarted(FLOW_ID, "+1*******567", NOW + timedelta(minutes=10))
    assert shown(views.activation_sent(started)) == {"activation_id": FLOW_ID, "sent_to": "+1*******567",
                                                     "expires_at": "2026-11-21T10:10:00Z"}


def test_a_qr_session_shows_the_uri_the_app_scans_drawn_as_a_qr_code():
    answer = shown(views.qr_session(QrSession("7KQ4M9XD2RTBH6WN", NOW + timedelta(minutes=2))))
    assert answer.keys() == {"session_id", "qr_payload", "qr_svg", "expires_at"}
    assert answer["session_id"] == "7KQ4-M9XD-2RTB-H6WN"  # in groups of four, for a person to read
    assert answer["qr_payload"] == "ibkr-ibkey://activate?session_id=7KQ4M9XD2RTBH6WN"
    assert answer["expires_at"] == "2026-11-21T10:02:00Z"
    # medium error correction, 4 px modules
    assert answer["qr_svg"] == segno.make(answer["qr_payload"], error="m").svg_inline(scale=4)


def test_a_qr_sessions_state_shows_the_device_only_once_used():
    assert shown(views.qr_session_status(QrSessionState("pending"))) == {"status": "pending"}
    assert shown(views.qr_session_status(QrSessionState("expired"))) == {"status": "expired"}
    assert shown(views.qr_session_status(QrSessionState("used", "dev_key"))) == {"status": "used",
                                                                                 "device_id": "dev_key"}


def test_an_app_enrolled_by_qr_also_learns_whose_session_it_was():
    done = QrEnrolled("dev_key", "app_1", "OCRA-1:HOTP-SHA256-8:QN06", "ab" * 32, username="alice")
    enrolled = {"device_id": "dev_key", "app_instance_id": "app_1", "ocra_suite": "OCRA-1:HOTP-SHA256-8:QN06",
                "ocra_secret_hex": "ab" * 32}
    assert shown(views.enrolled(done)) == enrolled
    assert shown(views.qr_enrolled(done)) == {**enrolled, "username": "alice"}


def test_a_recovery_by_sms_shows_where_the_code_went_and_no_device():
    started = RecoveryStarted(FLOW_ID, "sms", NOW + timedelta(minutes=10), sent_to="+1*******567")
    assert shown(views.recovery_started(started)) == {"recovery_id": FLOW_ID, "method": "sms",
                                                      "expires_at": "2026-11-21T10:10:00Z",
                                                      "sent_to": "+1*******567"}


def test_a_recovery_by_device_shows_the_device_and_its_challenge():
    started = RecoveryStarted(FLOW_ID, "device", NOW + timedelta(minutes=10), device_id="dev_card",
                              challenge={"challenge_code": "482915", "statement": "Recover IB Key for alice",
                                         "expires_at": NOW + timedelta(minutes=2)})
    assert shown(views.recovery_started(started)) == {
        "recovery_id": FLOW_ID, "method": "device", "expires_at": "2026-11-21T10:10:00Z", "device_id": "dev_card",
        "challenge": {"challenge_code": "482915", "statement": "Recover IB Key for alice",
                      "expires_at": "2026-11-21T10:02:00Z"}}


# ------------------------------------------------------------------ the user's devices

def test_a_dsc_plus_request_shows_its_fee_and_reserve():
    assert shown(views.dsc_plus_requested(DscPlusRequested("req_" + "0" * 20, 20.0, 50.0))) == {
        "request_id": "req_" + "0" * 20, "status": "requested", "fee_usd": 20.0, "reserve_usd": 50.0}


def test_a_devices_own_challenge_shows_its_code_and_end():
    assert shown(views.device_challenge("482915", NOW + timedelta(minutes=5))) == {
        "challenge_code": "482915", "expires_at": "2026-11-21T10:05:00Z"}


def test_an_online_card_shows_its_values_until_the_temporary_device_ends():
    made = OnlineCard(TEMPORARY, {"001": "4821", "002": "9930"})
    assert shown(views.online_card(made)) == {"device_id": "dev_tmp", "card": {"001": "4821", "002": "9930"},
                                              "valid_until": "2026-12-05T10:00:00Z"}


# ------------------------------------------------------------------ settings

def test_the_secure_login_setting_shows_a_missing_primary_username_as_null():
    setting = SecureLoginSetting(SlsMode.ALWAYS, False, None, [])
    assert shown(views.secure_login_setting(setting)) == {"mode": "always", "can_change": False,
                                                          "primary_username": None, "restrictions": []}


def test_a_changed_setting_shows_the_mode_and_its_restrictions_only():
    setting = SecureLoginSetting(SlsMode.OPTED_OUT, True, "alice", ["no_withdrawals"])
    assert shown(views.secure_login_changed(setting)) == {"mode": "opted_out", "restrictions": ["no_withdrawals"]}


# ------------------------------------------------------------------ withdrawals

def test_a_started_withdrawal_lists_the_devices_that_can_confirm_it():
    started = WithdrawalStarted(FLOW_ID, "Withdraw USD 2,500.00 to your bank account on file", ["dev_card"],
                                NOW + timedelta(minutes=5))
    assert shown(views.withdrawal_started(started)) == {
        "withdrawal_id": FLOW_ID, "statement": "Withdraw USD 2,500.00 to your bank account on file",
        "eligible_devices": ["dev_card"], "expires_at": "2026-11-21T10:05:00Z"}


def test_an_authorized_withdrawal_shows_what_is_left_with_null_for_no_limit():
    assert shown(views.withdrawal_authorized(Availability(today=250.0, five_business_days=None))) == {
        "status": "authorized", "remaining": {"today": 250.0, "five_business_days": None}}


# ------------------------------------------------------------------ sharing

def test_a_started_share_shows_the_owners_device_and_its_challenge():
    statement = "Share your security device with bob"
    started = ShareStarted(a_share(ShareStatus.CHALLENGED), CARD,
                           {"challenge_code": "482915", "statement": statement, "expires_at": NOW})
    assert shown(views.share_started(started, NOW)) == {
        "share_id": FLOW_ID, "device": CARD_SHOWN,
        "challenge": {"challenge_code": "482915", "statement": statement, "expires_at": NOW_SHOWN}}


def test_a_shares_state_is_its_id_and_status():
    assert shown(views.share_state(a_share(ShareStatus.CANCELLED, reason="not needed"))) == {"share_id": FLOW_ID,
                                                                                  "status": "cancelled"}


# ------------------------------------------------------------------ confirmations and step-up (issue 21)

LOGIN_STATEMENT = "Log in to IBKR as alice from portal (203.0.113.7, Chrome on Windows)"


def test_a_push_challenge_shows_the_number_to_type_beside_the_statement():
    key = Device("dev_key", "alice", DeviceType.IB_KEY, "IB Key", DeviceStatus.ACTIVE, NOW)
    issued = ChallengeIssued(key, Method.PUSH, {"push_sent": True, "match_number": "042",
                                                 "statement": LOGIN_STATEMENT, "expires_at": NOW})
    assert shown(views.challenge_issued(issued)) == {
        "device_id": "dev_key", "type": "ib_key", "method": "push",
        "challenge": {"push_sent": True, "match_number": "042", "statement": LOGIN_STATEMENT,
                      "expires_at": NOW_SHOWN}}


def test_a_card_challenge_shows_its_indices_beside_the_statement():
    scc = Device("dev_scc", "alice", DeviceType.SCC, "SCC", DeviceStatus.ACTIVE, NOW)
    issued = ChallengeIssued(scc, Method.CHALLENGE_RESPONSE, {"indices": ["042", "317"],
                                                               "statement": LOGIN_STATEMENT, "expires_at": NOW})
    assert shown(views.challenge_issued(issued))["challenge"] == {
        "indices": ["042", "317"], "statement": LOGIN_STATEMENT, "expires_at": NOW_SHOWN}


def test_a_started_step_up_lists_the_devices_strong_enough():
    started = StepUpStarted(FLOW_ID, [CARD], NOW + timedelta(minutes=5))
    assert shown(views.step_up_started(started, NOW)) == {"step_up_id": FLOW_ID, "devices": [CARD_SHOWN],
                                                          "expires_at": "2026-11-21T10:05:00Z"}


def test_a_step_ups_state_shows_until_when_the_session_is_strong_once_approved():
    assert shown(views.step_up_state(FlowStatus.PENDING, None)) == {"status": "pending"}
    assert shown(views.step_up_state(FlowStatus.APPROVED, NOW + timedelta(minutes=10))) == {
        "status": "approved", "stepped_up_until": "2026-11-21T10:10:00Z"}
