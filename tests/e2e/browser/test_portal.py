"""The Client Portal (tools/web/portal/) in Chromium, as a client uses it: logging in by SMS,
confirming a withdrawal with a Security Code Card, opting out of Secure Login and back in,
a wrong password, a non-primary user's settings, a temporary code's Online Security Code
Card, and sharing a card between two usernames. Every journey keeps screenshots of its steps
in build/screenshots/ and fails on any JavaScript error (conftest.py)."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from securelogin.crypto.ocra import ocra

pytestmark = pytest.mark.e2e


@dataclass
class Person:
    username: str
    password: str
    phone: str
    account_id: str
    entity_id: str
    identity: dict
    cards: dict[str, dict[str, str]] = field(default_factory=dict)  # device id: {index: value}


def new_person(stack, prefix: str, *, primary: bool = True, account_id: str | None = None,
               entity_id: str | None = None, identity: dict | None = None, balance_usd: float = 900_000) -> Person:
    tag = secrets.token_hex(4)
    person = Person(
        username=f"{prefix}{tag}", password=f"pw-{secrets.token_urlsafe(10)}",
        phone=f"+1555{secrets.randbelow(10**7):07d}", account_id=account_id or f"U{tag}",
        entity_id=entity_id or f"E{tag}",
        identity=identity or {"date_of_birth": "1971-03-09", "citizenship": "US", "country_of_residence": "US",
                              "id_document": {"type": "passport", "number": f"P{tag}"}})
    created = stack("POST", "/v1/admin/users", {
        "username": person.username, "password": person.password, "account_id": person.account_id,
        "entity_id": person.entity_id, "primary": primary, "identity": person.identity, "phones": [person.phone],
        "balance_usd": balance_usd, "jurisdiction": "US"}, signed=True)
    assert created.status == 201, created
    return person


def issue_card(stack, person: Person) -> str:
    """A Security Code Card from the back office; its values are kept to answer index challenges."""
    issued = stack("POST", f"/v1/admin/users/{person.username}/devices", {"type": "scc"}, signed=True)
    assert issued.status == 201, issued
    person.cards[issued.body["device_id"]] = issued.body["card"]
    return issued.body["device_id"]


def card_answer(card: dict[str, str], indices_text: str) -> str:
    first, second = re.findall(r"\d{3}", indices_text)
    return card[first] + card[second]


def sms_code(stack, phone: str) -> str:
    """The last 6-digit code texted to ``phone``: the message's ``code`` (api.md, Local stack), or the
    only 6-digit run of its text."""
    codes = [m.get("code") or (re.findall(r"\b\d{6}\b", m["body"]) or [None])[0]
             for m in stack.outbox() if m["channel"] == "sms" and m["to"] == phone]
    codes = [c for c in codes if c and re.fullmatch(r"\d{6}", c)]
    assert codes, f"no code was texted to {phone}"
    return codes[-1]


def expect_api_errors(browser, *expected: tuple[str, int]) -> None:
    """Chromium logs every API answer of 4xx as a SEVERE "network" entry, which conftest counts
    as a JavaScript error. A journey that asks for such an answer reads the log here (which
    empties it): each SEVERE entry must be one of the `expected` (path, status); nothing else."""
    severe = [e for e in browser.driver.get_log("browser") if e["level"] == "SEVERE"]
    assert severe, f"expected {expected} in the browser's log"
    for entry in severe:
        assert entry["source"] == "network" and any(
            f"{path}" in entry["message"] and f"status of {status}" in entry["message"] for path, status in expected
        ), f"unexpected browser error: {entry['message']}"


def type_credentials(browser, person: Person, password: str | None = None) -> None:
    browser.open("/portal/")
    browser.type("#username", person.username)
    browser.type("#password", password or person.password)


def focused_id(browser) -> str:
    return browser.driver.execute_script("return document.activeElement && document.activeElement.id")


def log_in_with_card(browser, person: Person, device_id: str) -> None:
    """Password, then the Security Code Card in the device chooser, then its two values."""
    type_credentials(browser, person)
    browser.click("#login-submit")
    browser.click(f'#device-chooser button[data-device-id="{device_id}"]')
    indices = browser.wait_for_text("#indices", r"\d{3}\D+\d{3}")
    browser.type("#response", card_answer(person.cards[device_id], indices))
    browser.click("#verify-submit")
    signed_in(browser, person)


def log_in_by_sms(browser, stack, person: Person) -> None:
    type_credentials(browser, person)
    browser.click("#login-submit")
    browser.click('#device-chooser button[data-device-type="sms"]')
    browser.wait_for_text("#challenge-panel", r"\+1\*+")
    browser.type("#response", sms_code(stack, person.phone))
    browser.click("#verify-submit")
    signed_in(browser, person)


def signed_in(browser, person: Person) -> None:
    """The signed-in page, once it shows the person's account (GET /v1/me answered)."""
    browser.find("#signed-in")
    browser.wait_for_text("#whoami", f"^{re.escape(person.username)}$")


def scroll_to(browser, css: str) -> None:
    element = browser.find(css)
    browser.driver.execute_script("arguments[0].scrollIntoView({block: 'start'}); window.scrollBy(0, -12);", element)


# ------------------------------------------------------------------ 1. SMS


def test_a_person_logs_in_by_sms(stack, browser_factory):
    person = new_person(stack, "sms")
    browser = browser_factory()
    type_credentials(browser, person)
    browser.screenshot("credentials")
    browser.click("#login-submit")

    chooser = browser.find("#device-chooser")
    choices = chooser.find_elements(By.CSS_SELECTOR, "button[data-device-id]")
    assert [c.get_attribute("data-device-type") for c in choices] == ["sms"]
    assert choices[0].get_attribute("aria-pressed") == "true"  # the default device, preselected
    assert browser.driver.switch_to.active_element == choices[0]
    browser.screenshot("device-chooser")
    choices[0].click()

    masked = browser.wait_for_text("#challenge-panel", r"\+1\*+\d{3}")
    assert person.phone[-3:] in masked and person.phone not in masked
    # What the code confirms, before it is typed: this login, from this browser.
    browser.wait_for_text("#statement", rf"^Log in to IBKR as {re.escape(person.username)} from .+ \(.+\)$")
    first = browser.wait_for_text("#resend-countdown", r"[12]:\d\d")
    WebDriverWait(browser.driver, 5).until(lambda d: d.find_element(By.ID, "resend-countdown").text != first)  # live
    assert not browser.find("#voice-link").is_enabled()  # a call is offered once the resend wait is over
    assert focused_id(browser) == "response"
    browser.screenshot("sms-sent")

    browser.type("#response", sms_code(stack, person.phone))
    browser.click("#verify-submit")
    signed_in(browser, person)
    rows = browser.driver.find_elements(By.CSS_SELECTOR, "#devices [data-device-id]")
    assert [r.find_element(By.CSS_SELECTOR, "[data-status]").get_attribute("data-status") for r in rows] == ["active"]

    # The IB Key banner: the QR code as an image, the session ID in groups of four, a live countdown.
    browser.wait_for_text("#session-id", r"^[0-9A-HJKMNP-TV-Z]{4}( [0-9A-HJKMNP-TV-Z]{4}){3}$")
    WebDriverWait(browser.driver, 10).until(lambda d: d.execute_script(
        "const i = document.getElementById('qr-image'); return i.complete && i.naturalWidth > 0;"))
    assert browser.find("#qr-image").get_attribute("src").startswith("blob:")
    first = browser.wait_for_text("#qr-expires", r"^\d+:\d\d$")
    WebDriverWait(browser.driver, 5).until(lambda d: d.find_element(By.ID, "qr-expires").text != first)
    browser.screenshot("signed-in")

    # The session token is in sessionStorage only.
    stored = browser.driver.execute_script("return [sessionStorage.getItem('sls.session'), localStorage.length];")
    assert '"token":"sls_' in stored[0] and stored[1] == 0


# ------------------------------------------------------------------ 2. withdrawal


def test_a_withdrawal_is_confirmed_with_a_security_code_card(stack, browser_factory):
    person = new_person(stack, "wd")
    card_id = issue_card(stack, person)
    browser = browser_factory()
    log_in_with_card(browser, person, card_id)

    scroll_to(browser, "#sec-withdraw")
    browser.type("#withdraw-amount", "2,500")
    browser.screenshot("amount")
    browser.click("#withdraw-start")
    # No destination typed: the service names the account on file, and the page shows what is confirmed.
    browser.wait_for_text("#withdraw-request-statement", r"^Withdraw USD 2,500\.00 to your bank account on file$")
    eligible = browser.find("#eligible-devices")
    offered = {b.get_attribute("data-device-type")
               for b in eligible.find_elements(By.CSS_SELECTOR, "button[data-device-id]")}
    assert offered == {"scc", "sms"}  # both cover USD 2,500 (200,000 a day)
    browser.screenshot("eligible-devices")
    browser.click(f'#eligible-devices button[data-device-id="{card_id}"]')

    indices = browser.wait_for_text("#withdraw-indices", r"\d{3}\D+\d{3}")
    # The index numbers beside the statement they confirm.
    assert browser.text("#withdraw-statement") == "Withdraw USD 2,500.00 to your bank account on file"
    assert focused_id(browser) == "withdraw-response"
    browser.type("#withdraw-response", "AAABBB")  # a wrong answer first: the error says how many tries are left
    browser.click("#withdraw-verify-submit")
    browser.wait_for_text("#error", r"not correct.*\n?.*4 attempts left")
    expect_api_errors(browser, ("/verify", 401))
    browser.screenshot("wrong-answer")

    browser.type("#withdraw-response", card_answer(person.cards[card_id], indices))
    browser.click("#withdraw-verify-submit")
    result = browser.wait_for_text("#withdraw-result", r"authorized")
    assert "$2,500.00" in result and "Withdraw USD 2,500.00 to your bank account on file" in result
    assert browser.text("#withdraw-remaining-today") == "$197,500.00"
    assert browser.text("#withdraw-remaining-five") == "$597,500.00"
    browser.wait_for_text('#limits tr[data-device-type="scc"]', r"\$197,500\.00")
    browser.screenshot("authorized")


# ------------------------------------------------------------------ 3. opt out, opt back in


def test_the_primary_user_opts_out_and_back_in(stack, browser_factory):
    person = new_person(stack, "opt")
    card_id = issue_card(stack, person)
    browser = browser_factory()
    log_in_with_card(browser, person, card_id)

    scroll_to(browser, "#sec-settings")
    browser.wait_for_text("#sls-mode", "Always use my Secure Login Device")
    assert not browser.driver.find_element(By.ID, "primary-notice").is_displayed()
    assert not browser.find("#opt-out").is_enabled()  # not before the risk is accepted
    browser.click("#accept-risk")
    browser.screenshot("accept-risk")
    browser.click("#opt-out")
    browser.wait_for_text("#sls-mode", "opted out")
    browser.wait_for_text("#settings-result", "password alone")
    browser.screenshot("opted-out")

    browser.click("#logout")
    browser.wait_for_text("#notice", "logged out")
    assert browser.driver.execute_script("return sessionStorage.getItem('sls.session')") is None

    # The password alone: a trading session at once, with its restrictions.
    type_credentials(browser, person)
    browser.click("#login-submit")
    signed_in(browser, person)
    browser.wait_for_text("#restrictions", "Pink Sheet and OTCBB")
    assert browser.text("#scope-badge") == "Trading only"
    assert not browser.find("#opt-in").is_enabled()  # account management needs the device
    browser.screenshot("trading-session")

    # Step up with the card, then opt back in.
    browser.click("#step-up")
    browser.click(f'#device-chooser button[data-device-id="{card_id}"]')
    indices = browser.wait_for_text("#indices", r"\d{3}\D+\d{3}")
    browser.type("#response", card_answer(person.cards[card_id], indices))
    browser.screenshot("step-up")
    browser.click("#verify-submit")
    WebDriverWait(browser.driver, 10).until(lambda d: not d.find_element(By.ID, "trading-notice").is_displayed())
    scroll_to(browser, "#sec-settings")
    browser.click("#opt-in")
    browser.wait_for_text("#sls-mode", "^Always use my Secure Login Device$")
    browser.wait_for_text("#settings-result", "always log in with your Secure Login Device")
    assert browser.find("#opt-out-box").is_displayed()
    browser.screenshot("opted-back-in")
    me = stack("GET", f"/v1/admin/users/{person.username}", signed=True)
    assert me.body["sls_mode"] == "always"


# ------------------------------------------------------------------ 4. loading, wrong password


def test_the_portal_loads_cleanly_and_a_wrong_password_is_said_in_words(stack, browser_factory):
    person = new_person(stack, "pw")
    browser = browser_factory()
    browser.open("/portal/")
    browser.find("#username")
    assert browser.driver.title.startswith("Client Portal")
    assert browser.driver.execute_script("return document.activeElement.id") == "username"
    assert [e for e in browser.driver.get_log("browser") if e["level"] == "SEVERE"] == []
    browser.screenshot("loaded")

    type_credentials(browser, person, password="not-the-password")
    browser.click("#login-submit")
    message = browser.wait_for_text("#error", "incorrect")
    assert message == "The username or password is incorrect."
    assert browser.find("#error").get_attribute("role") == "alert"
    assert browser.find("#password").get_attribute("value") == ""
    expect_api_errors(browser, ("/v1/login", 401))
    browser.screenshot("wrong-password")


# ------------------------------------------------------------------ more screens


def test_a_user_who_is_not_primary_sees_who_can_change_the_setting(stack, browser_factory):
    primary = new_person(stack, "prim")
    other = new_person(stack, "sec", primary=False, account_id=primary.account_id, entity_id=primary.entity_id)
    browser = browser_factory()
    log_in_by_sms(browser, stack, other)
    scroll_to(browser, "#sec-settings")
    notice = browser.wait_for_text("#primary-notice", "Only the primary user")
    assert primary.username in notice
    assert not browser.find("#accept-risk").is_enabled()
    assert not browser.driver.find_element(By.ID, "opt-out").is_enabled()
    browser.screenshot("primary-notice")


def test_a_temporary_code_session_gets_an_online_security_code_card(stack, browser_factory):
    person = new_person(stack, "tmp")
    issued = stack("POST", f"/v1/admin/users/{person.username}/temporary-code", {"reason": "passport seen"},
                   signed=True)
    assert issued.status == 201, issued
    browser = browser_factory()
    type_credentials(browser, person)
    browser.click("#login-submit")
    browser.click('#device-chooser button[data-device-type="temporary_code"]')
    browser.find("#response")
    browser.screenshot("temporary-code")
    browser.type("#response", issued.body["code"])
    browser.click("#verify-submit")
    signed_in(browser, person)
    scroll_to(browser, "#sec-online-card")
    browser.click("#online-card-request")
    browser.find("#online-card")
    values = [v.text for v in browser.driver.find_elements(By.CSS_SELECTOR, "#online-card .card-value")]
    assert len(values) >= 20 and all(re.fullmatch(r"\d{3}", v) for v in values)
    scroll_to(browser, "#sec-online-card")
    browser.screenshot("online-card")
    rows = browser.driver.find_elements(By.CSS_SELECTOR, '#devices [data-device-type="online_scc"] [data-status]')
    assert [r.get_attribute("data-status") for r in rows] == ["active"]


def test_a_card_is_shared_between_two_usernames_of_one_person_and_the_sharing_cancelled(stack, browser_factory):
    owner = new_person(stack, "own")
    card_id = issue_card(stack, owner)
    requester = new_person(stack, "req", entity_id=owner.entity_id, identity=owner.identity)
    browser = browser_factory()
    log_in_by_sms(browser, stack, requester)

    scroll_to(browser, "#sec-share")
    browser.type("#share-owner", owner.username)
    browser.type("#share-password", owner.password)
    browser.click("#share-start")
    indices = browser.wait_for_text("#share-indices", r"\d{3}\D+\d{3}")
    browser.type("#share-response", card_answer(owner.cards[card_id], indices))
    browser.screenshot("share-challenge")
    browser.click("#share-verify-submit")
    browser.wait_for_text("#share-status-text", "Sharing approved")
    browser.wait_for_text(f'#devices [data-device-id="{card_id}"]', "Active")
    scroll_to(browser, "#sec-share")
    browser.screenshot("shared")

    browser.click("#share-cancel")
    browser.click("#confirm-yes")
    browser.wait_for_text("#sec-share", "The sharing was cancelled")
    assert browser.find("#share-form").is_displayed()
    browser.screenshot("cancelled")


def test_a_dsc_plus_logs_in_changes_its_pin_and_a_replacement_is_requested(stack, browser_factory):
    person = new_person(stack, "dsc")
    seed, pin, new_pin = secrets.token_hex(32), "4831", "5720"
    card = stack("POST", f"/v1/admin/users/{person.username}/devices",
                 {"type": "dsc_plus", "seed_hex": seed, "pin": pin}, signed=True)
    assert card.status == 201, card
    card_id, suite = card.body["device_id"], card.body["ocra_suite"]
    browser = browser_factory()
    type_credentials(browser, person)
    browser.click("#login-submit")
    browser.click(f'#device-chooser button[data-device-id="{card_id}"]')
    challenge = browser.wait_for_text("#challenge-code", r"^\d{6}$")
    browser.type("#response", ocra(suite, bytes.fromhex(seed), challenge, pin=pin))
    browser.screenshot("dsc-plus-challenge")
    browser.click("#verify-submit")
    signed_in(browser, person)

    # KB1018: a challenge answered with the current PIN, then the new PIN.
    browser.click(f'#devices [data-device-id="{card_id}"] button[data-action="pin"]')
    challenge = browser.wait_for_text("#pin-challenge-code", r"^\d{6}$")
    assert focused_id(browser) == "pin-response"
    browser.type("#pin-response", ocra(suite, bytes.fromhex(seed), challenge, pin=pin))
    browser.type("#pin-new", new_pin)
    browser.type("#pin-new-again", new_pin)
    scroll_to(browser, "#device-action")
    browser.screenshot("change-pin")
    browser.click("#pin-submit")
    browser.wait_for_text("#device-action", "PIN of .* was changed")

    # A replacement card (KB1943): the fee is held as a reserve.
    browser.click("#dsc-request summary")
    browser.find('#dsc-reason option[value="broken"]').click()
    browser.type("#dsc-pin", "6093")
    browser.type("#dsc-pin-again", "6093")
    browser.click("#dsc-submit")
    browser.wait_for_text("#dsc-result", r"Fee: \$20\.00")
    scroll_to(browser, "#sec-devices")
    browser.screenshot("dsc-requested")

    # Removing a device asks first.
    sms_row = '#devices [data-device-type="sms"]'
    browser.click(f'{sms_row} button[data-action="remove"]')
    browser.wait_for_text("#confirm-text", "Remove SMS to")
    browser.screenshot("confirm-remove")
    browser.click("#confirm-yes")
    browser.wait_for_text("#device-action", "was removed")
    browser.wait_for_text(f"{sms_row} [data-status]", "Inactive")  # kept, no longer usable
    assert not browser.driver.find_elements(By.CSS_SELECTOR, f'{sms_row} button[data-action="remove"]')

    # The new PIN is the card's from now on: the next login answers with it.
    browser.click("#logout")
    browser.wait_for_text("#notice", "logged out")
    type_credentials(browser, person)
    browser.click("#login-submit")
    browser.click(f'#device-chooser button[data-device-id="{card_id}"]')
    challenge = browser.wait_for_text("#challenge-code", r"^\d{6}$")
    browser.type("#response", ocra(suite, bytes.fromhex(seed), challenge, pin=new_pin))
    browser.click("#verify-submit")
    signed_in(browser, person)
