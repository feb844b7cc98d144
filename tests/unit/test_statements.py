"""What a person confirms (domain/statements.py): the browser read from a User-Agent, the
statement of each flow, and the words of the codes that carry it."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from securelogin.domain import statements
from securelogin.domain.models import Purpose

WINDOWS = "Windows NT 10.0; Win64; x64"
MAC = "Macintosh; Intel Mac OS X 10_15_7"
IPHONE = "iPhone; CPU iPhone OS 17_4 like Mac OS X"
ANDROID = "Linux; Android 14; Pixel 8"
WEBKIT = "AppleWebKit/537.36 (KHTML, like Gecko)"
CHROME = "Chrome/124.0.0.0 Safari/537.36"


@pytest.mark.parametrize(("user_agent", "shown"), [
    (f"Mozilla/5.0 ({WINDOWS}) {WEBKIT} {CHROME}", "Chrome on Windows"),
    (f"Mozilla/5.0 ({MAC}) {WEBKIT} {CHROME}", "Chrome on macOS"),
    (f"Mozilla/5.0 ({ANDROID}) {WEBKIT} Chrome/124.0.0.0 Mobile Safari/537.36", "Chrome on Android"),
    (f"Mozilla/5.0 ({IPHONE}) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 "
     "Safari/604.1", "Chrome on iOS"),
    (f"Mozilla/5.0 ({WINDOWS}; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox on Windows"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox on macOS"),
    ("Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0", "Firefox on Android"),
    (f"Mozilla/5.0 ({IPHONE}) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/125.0 Mobile/15E148 Safari/605.1.15",
     "Firefox on iOS"),
    (f"Mozilla/5.0 ({MAC}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
     "Safari on macOS"),
    (f"Mozilla/5.0 ({IPHONE}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
     "Safari on iOS"),
    ("Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
     "Mobile/15E148 Safari/604.1", "Safari on iOS"),
    (f"Mozilla/5.0 ({WINDOWS}) {WEBKIT} {CHROME} Edg/124.0.2478.51", "Edge on Windows"),
    (f"Mozilla/5.0 ({MAC}) {WEBKIT} {CHROME} Edg/124.0.2478.51", "Edge on macOS"),
    (f"Mozilla/5.0 ({ANDROID}) {WEBKIT} Chrome/124.0.0.0 Mobile Safari/537.36 EdgA/124.0.2478.64",
     "Edge on Android"),
    (f"Mozilla/5.0 ({IPHONE}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 EdgiOS/124.2478.50 "
     "Mobile/15E148 Safari/605.1.15", "Edge on iOS"),
])
def test_the_browser_and_system_of_common_user_agents(user_agent, shown):
    assert statements.browser_of(user_agent) == shown


@pytest.mark.parametrize("user_agent", [
    None, "", "   ", "curl/8.4.0", "python-requests/2.31.0", "Mozilla/5.0", "Chrome/124.0",  # no system
    f"Mozilla/5.0 ({WINDOWS})",  # no browser
    "\x00\xff<script>alert(1)</script>", "Windows" * 2000,
])
def test_no_user_agent_or_one_not_recognised_is_an_unknown_browser(user_agent):
    assert statements.browser_of(user_agent) == "an unknown browser"


def test_a_login_and_a_step_up_name_the_user_the_client_and_where_it_is():
    assert statements.login("alice", "portal", "203.0.113.7", "Chrome on Windows") == \
        "Log in to IBKR as alice from portal (203.0.113.7, Chrome on Windows)"
    assert statements.step_up("alice", "tws", "2001:db8::1", "an unknown browser") == \
        "Confirm a change to your security settings as alice from tws (2001:db8::1, an unknown browser)"


@pytest.mark.parametrize(("amount", "shown"), [
    (1234.5, "1,234.50"), (0.5, "0.50"), (7, "7.00"), (999.99, "999.99"), (1000, "1,000.00"),
    (1234567.89, "1,234,567.89"), (200000, "200,000.00"),
])
def test_a_withdrawal_names_the_amount_with_two_decimals_and_thousands_separators(amount, shown):
    assert statements.withdrawal(amount, "ACME Bank 0001") == f"Withdraw USD {shown} to ACME Bank 0001"


@pytest.mark.parametrize("destination", [None, ""])
def test_a_withdrawal_without_a_destination_goes_to_the_account_on_file(destination):
    assert statements.withdrawal(2500, destination) == "Withdraw USD 2,500.00 to your bank account on file"


def test_the_other_flows_name_their_operation_and_the_user():
    sentences = {p: statements.operation(p, "bob") for p in (Purpose.RECOVERY, Purpose.ACTIVATION, Purpose.SHARE,
                                                              Purpose.DEVICE_ACTIVATION, Purpose.PIN_CHANGE)}
    assert all("bob" in s for s in sentences.values())
    assert len(set(sentences.values())) == len(sentences)
    assert "Recover" in sentences[Purpose.RECOVERY] and "PIN" in sentences[Purpose.PIN_CHANGE]


def a_statement(purpose: Purpose) -> str:
    if purpose == Purpose.WITHDRAWAL:
        return statements.withdrawal(1234.5, "ACME Bank 0001")
    if purpose in (Purpose.LOGIN, Purpose.STEP_UP):
        return getattr(statements, purpose.value)("alice", "portal", "203.0.113.7", "Chrome on Windows")
    return statements.operation(purpose, "alice")


CODE_PURPOSES = [p for p in Purpose if p != Purpose.QR_SESSION]  # a QR session sends no code


@pytest.mark.parametrize("text", [statements.sms_text, statements.voice_text])
def test_each_purpose_has_its_own_words(text):
    bodies = {p: text(p, a_statement(p), "123456", 5) for p in CODE_PURPOSES}
    assert len(set(bodies.values())) == len(bodies)
    assert all("123456" in b and "5 minutes" in b for b in bodies.values())


def test_a_codes_text_says_what_it_is_for():
    def sms(purpose: Purpose) -> str:
        return statements.sms_text(purpose, a_statement(purpose), "123456", 5)

    assert sms(Purpose.LOGIN) == "Your IBKR code to log in is 123456. It expires in 5 minutes. Never share it."
    assert "to activate IB Key" in sms(Purpose.ACTIVATION)
    assert "to recover IB Key" in sms(Purpose.RECOVERY)
    assert "security settings" in sms(Purpose.STEP_UP)
    assert "share" in sms(Purpose.SHARE) and "PIN" in sms(Purpose.PIN_CHANGE)
    assert "log in" not in sms(Purpose.WITHDRAWAL)


@pytest.mark.parametrize("text", [statements.sms_text, statements.voice_text])
def test_a_withdrawals_code_names_its_amount_and_destination(text):
    body = text(Purpose.WITHDRAWAL, statements.withdrawal(250000, "Chase checking 6789"), "123456", 5)
    assert "USD 250,000.00" in body and "Chase checking 6789" in body
    assert "USD 250,000.00" not in text(Purpose.WITHDRAWAL, statements.withdrawal(25, None), "123456", 5)


@pytest.mark.parametrize("text", [statements.sms_text, statements.voice_text])
@pytest.mark.parametrize("purpose", CODE_PURPOSES)
def test_the_code_is_found_in_its_text(text, purpose):
    assert statements.code_in_text(text(purpose, a_statement(purpose), "048213", 5)) == "048213"
    assert statements.code_in_text(text(purpose, a_statement(purpose), "04821377", 10)) == "04821377"


@pytest.mark.parametrize("destination", ["Account 123456", "Bank 0001 is 654321", "999999", "IBAN DE89 3704 0044"])
def test_the_code_is_found_when_the_destination_holds_digits(destination):
    statement = statements.withdrawal(1234.5, destination)
    for text in (statements.sms_text, statements.voice_text):
        assert statements.code_in_text(text(Purpose.WITHDRAWAL, statement, "112233", 5)) == "112233"


@pytest.mark.parametrize("text", [None, "", "IBKR: IB Key notifications are paused for 15 minutes.",
                                  "IBKR: a new device was added to your account on 2026-03-10 at 14:00."])
def test_a_notice_carries_no_code(text):
    assert statements.code_in_text(text) is None


def test_a_voice_text_is_speech_markup_with_the_destination_escaped():
    statement = statements.withdrawal(10, 'A&B <Bank> "x" </say-as>')
    body = statements.voice_text(Purpose.WITHDRAWAL, statement, "123456", 5)
    assert "<Bank>" not in body and "A&amp;B &lt;Bank&gt;" in body
    speak = ET.fromstring(body)  # noqa: S314 - our own text: well-formed, the code read digit by digit
    assert speak.tag == "speak" and [(e.tag, e.get("interpret-as"), e.text) for e in speak] == [
        ("say-as", "digits", "123456")]
    assert 'A&B <Bank> "x" </say-as>' in "".join(speak.itertext())


def test_a_push_asks_about_its_statement():
    withdrawal = statements.withdrawal(1234.5, None)
    assert statements.push_message(Purpose.WITHDRAWAL, withdrawal).endswith(withdrawal)
    assert "withdrawal" in statements.push_message(Purpose.WITHDRAWAL, withdrawal)
    login = a_statement(Purpose.LOGIN)
    assert login in statements.push_message(Purpose.LOGIN, login)
