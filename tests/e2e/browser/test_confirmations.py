"""What a confirmation shows and proves (rules.md), in the two pages side by side: the portal
shows the statement and a push's 3-digit number, the app shows the statement before the PIN and
types the number; a withdrawal's push names its amount and destination; an action that changes
how the account is protected steps the session up in place (a DSC+ code for a QR activation, an
IB Key push for removing a device); and a push whose flow moved on, or that expired, leaves the
app. Helpers and the pages' ids: screens.py.

The last journey moves the module's stack clock forward (POST /_local/clock): it stays last."""
from __future__ import annotations

import re
import secrets

import pytest
from screens import (
    GROUPED_SESSION_ID,
    PIN,
    Phone,
    code_to,
    device_status,
    devices_of,
    match_number,
    needs_portal,
    new_user,
    portal_password_step,
    portal_sms_login,
    push_status,
    push_to,
    scroll_to,
    signed_in,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import WebDriverWait

from securelogin.crypto.ocra import ocra

pytestmark = pytest.mark.e2e


def item_text(item, css):
    return item.find_element(By.CSS_SELECTOR, css).text


def expect_only_api_refusals(browser, *expected):
    """Chromium logs every refused API call as a SEVERE network entry (conftest leaves the 4xx of
    /v1/ out of the errors it fails on): here, each must be one of ``expected`` (path part, status)."""
    for entry in browser.driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        assert entry["source"] == "network" and any(
            path in entry["message"] and f"status of {status}" in entry["message"] for path, status in expected
        ), f"unexpected browser error: {entry['message']}"


# ------------------------------------------------------------------ number matching


def test_number_matching_a_wrong_number_ends_the_push_and_the_right_one_signs_in(stack, browser_factory):
    needs_portal(stack)
    user = new_user(stack)
    portal = browser_factory("portal")
    phone = Phone(browser_factory("app"))
    device_id = phone.register_by_sms(stack, user)

    portal_password_step(portal, user)
    mark = len(stack.outbox())
    portal.click(f"#device-chooser button[data-device-id='{device_id}']")
    number = match_number(portal)
    assert f"Enter {number} in IB Key" in portal.text("#challenge-panel")
    statement = portal.wait_for_text("#statement", rf"^Log in to IBKR as {re.escape(user['username'])} ")
    portal.screenshot("number-shown")

    # The app shows the same statement, asks for the number, and never carries it.
    first = push_to(stack, device_id, mark)
    assert first["has_number"] is True and "match_number" not in first
    item = phone.notification(first["push_id"])
    assert item_text(item, ".statement") == statement
    assert item.find_element(By.CSS_SELECTOR, ".number").is_displayed()
    wrong = f"{(int(number) + 1) % 1000:03d}"
    phone.answer(first["push_id"], "approve", number=wrong, shot="wrong-number-typed")
    phone.b.wait_for_text("#notifications-error", "not the one on the screen")
    phone.gone(first["push_id"])  # that push is over
    phone.b.screenshot("wrong-number")
    assert push_status(stack, first["push_id"]) != "pending"
    expect_only_api_refusals(phone.b, ("/v1/authenticator/push-responses", 401))

    # The login goes on: a new notification, with its own number.
    old_panel = portal.find("#match-number")
    mark = len(stack.outbox())
    portal.click("#push-again")
    WebDriverWait(portal.driver, 10).until(until.staleness_of(old_panel))
    number = match_number(portal)
    second = push_to(stack, device_id, mark)
    assert second["push_id"] != first["push_id"]
    phone.answer(second["push_id"], "approve", number=number, shot="right-number-typed")
    phone.gone(second["push_id"])
    phone.b.wait_for_text("#notifications-answered", "Approved")
    signed_in(portal, user)
    portal.screenshot("signed-in")


# ------------------------------------------------------------------ a withdrawal in the app


def test_a_withdrawal_push_shows_its_amount_and_destination_in_the_app(stack, browser_factory):
    needs_portal(stack)
    user = new_user(stack, balance_usd=900_000)
    portal = browser_factory("portal")
    phone = Phone(browser_factory("app"))
    device_id = phone.register_by_sms(stack, user)
    portal_sms_login(portal, stack, user, shots=False)

    scroll_to(portal, "#sec-withdraw")
    portal.type("#withdraw-amount", "1234.50")
    portal.type("#withdraw-destination", "Savings ****1234")
    portal.screenshot("amount-and-destination")
    portal.click("#withdraw-start")
    expected = "Withdraw USD 1,234.50 to Savings ****1234"
    portal.wait_for_text("#withdraw-request-statement", f"^{re.escape(expected)}$")
    mark = len(stack.outbox())
    portal.click(f"#eligible-devices button[data-device-id='{device_id}']")
    number = match_number(portal, "withdraw-")
    assert portal.text("#withdraw-statement") == expected
    portal.screenshot("withdrawal-push")

    data = push_to(stack, device_id, mark)
    assert data["purpose"] == "withdrawal" and data["statement"] == expected
    item = phone.notification(data["push_id"])
    assert item.get_attribute("data-purpose") == "withdrawal"
    assert item_text(item, ".statement") == expected
    assert item_text(item, ".approve") == "Approve withdrawal"
    phone.answer(data["push_id"], "approve", number=number, shot="withdrawal-in-app")
    phone.gone(data["push_id"])
    approved = f"Withdrawal approved for {user['username']}: {expected}"
    phone.b.wait_for_text("#notifications-answered", re.escape(approved))
    phone.b.screenshot("withdrawal-approved")

    result = portal.wait_for_text("#withdraw-result", "authorized", timeout=20)
    assert "$1,234.50" in result and expected in result
    portal.screenshot("withdrawal-authorized")


# ------------------------------------------------------------------ step-up in place


def test_a_qr_activation_from_an_sms_session_steps_up_with_the_dsc_plus(stack, browser_factory):
    """A DSC+ is the strongest device: a session opened by SMS must step up with it before it may
    show an activation QR code. The portal asks in the banner, steps up there, shows the code,
    and says when the app has used it."""
    needs_portal(stack)
    user = new_user(stack)
    seed, card_pin = secrets.token_hex(32), "4831"
    card = stack("POST", f"/v1/admin/users/{user['username']}/devices",
                 {"type": "dsc_plus", "seed_hex": seed, "pin": card_pin}, signed=True)
    assert card.status == 201, card
    card_id, suite = card.body["device_id"], card.body["ocra_suite"]
    portal = browser_factory("portal")
    phone = Phone(browser_factory("app"))
    portal_sms_login(portal, stack, user, shots=False)

    # The code is not shown by itself: a button asks for it, and says why a confirmation comes first.
    portal.find("#qr-show")
    portal.find("#qr-note")
    assert not portal.driver.find_element(By.ID, "qr-figure").is_displayed()
    expect_only_api_refusals(portal, ("/v1/activation/qr", 403))
    portal.screenshot("qr-needs-step-up")

    portal.click("#qr-show")
    portal.find("#stepup-panel")
    offered = [b.get_attribute("data-device-id")
               for b in portal.driver.find_elements(By.CSS_SELECTOR, "#stepup-devices button[data-device-id]")]
    assert offered == [card_id]  # only the DSC+ is strong enough
    portal.click(f"#stepup-devices button[data-device-id='{card_id}']")
    challenge = portal.wait_for_text("#stepup-challenge-code", r"^\d{6}$")
    portal.wait_for_text("#stepup-statement",
                         rf"^Confirm a change to your security settings as {re.escape(user['username'])} ")
    portal.type("#stepup-response", ocra(suite, bytes.fromhex(seed), challenge, pin=card_pin))
    portal.screenshot("step-up-with-dsc-plus")
    expect_only_api_refusals(portal, ("/v1/activation/qr", 403))
    portal.click("#stepup-verify-submit")

    # Stepped up: the same request again, and the code shows, in groups of four.
    session_id = portal.wait_for_text("#session-id", GROUPED_SESSION_ID, timeout=20)
    assert not portal.driver.find_elements(By.ID, "stepup-panel")
    portal.find("#qr-image")
    portal.screenshot("qr-after-step-up")

    device_id = phone.register_by_session_id(session_id)
    portal.wait_for_text("#qr-status", "IB Key activated", timeout=20)
    WebDriverWait(portal.driver, 15).until(lambda d: device_status(portal, device_id) == "active")
    assert device_status(portal, card_id) == "active"
    portal.screenshot("ib-key-activated")
    keys = [d for d in devices_of(stack, user["username"]) if d["type"] == "ib_key"]
    assert [(k["device_id"], k["status"]) for k in keys] == [(device_id, "active")]


def test_removing_a_device_from_an_sms_session_steps_up_with_an_ib_key_push(stack, browser_factory):
    """IB Key outranks SMS and the code card: removing the card from a session opened by SMS first
    asks for a push, approved in the app with the number the step-up panel shows; then the removal
    goes on, in the same session."""
    needs_portal(stack)
    user = new_user(stack)
    card = stack("POST", f"/v1/admin/users/{user['username']}/devices", {"type": "scc"}, signed=True)
    assert card.status == 201, card
    portal = browser_factory("portal")
    phone = Phone(browser_factory("app"))
    device_id = phone.register_by_sms(stack, user)
    portal_sms_login(portal, stack, user, shots=False)

    card_row = f'#devices [data-device-id="{card.body["device_id"]}"]'
    portal.click(f'{card_row} button[data-action="remove"]')
    portal.click("#confirm-yes")
    portal.find("#stepup-panel")
    offered = [b.get_attribute("data-device-type")
               for b in portal.driver.find_elements(By.CSS_SELECTOR, "#stepup-devices button[data-device-id]")]
    assert offered == ["ib_key"]
    mark = len(stack.outbox())
    portal.click(f"#stepup-devices button[data-device-id='{device_id}']")
    number = match_number(portal, "stepup-")
    statement = portal.wait_for_text(
        "#stepup-statement", rf"^Confirm a change to your security settings as {re.escape(user['username'])} ")
    scroll_to(portal, "#stepup-panel")
    portal.screenshot("step-up-push")

    data = push_to(stack, device_id, mark)
    assert data["purpose"] == "step_up"
    item = phone.notification(data["push_id"])
    assert item_text(item, ".statement") == statement
    phone.answer(data["push_id"], "approve", number=number, shot="step-up-in-app")
    phone.gone(data["push_id"])

    portal.wait_for_text("#device-action", "was removed", timeout=20)
    assert not portal.driver.find_elements(By.ID, "stepup-panel")
    portal.wait_for_text(f"{card_row} [data-status]", "Inactive")
    signed_in(portal, user)  # the same session, stepped up
    scroll_to(portal, "#sec-devices")
    portal.screenshot("removed-after-step-up")
    expect_only_api_refusals(portal, ("/v1/devices/", 403))


def test_ib_key_on_a_new_number_is_started_in_the_portal_stepped_up_and_finished_in_the_app(stack, browser_factory):
    """A number not on file gets an activation SMS only from a full, stepped-up session: the portal
    steps up in place (the DSC+), texts the code to the new number and shows an activation link,
    which the app on that phone takes with the code."""
    needs_portal(stack)
    user = new_user(stack)
    seed, card_pin = secrets.token_hex(32), "4831"
    card = stack("POST", f"/v1/admin/users/{user['username']}/devices",
                 {"type": "dsc_plus", "seed_hex": seed, "pin": card_pin}, signed=True)
    assert card.status == 201, card
    new_phone = f"+1555{secrets.randbelow(10**7):07d}"
    portal = browser_factory("portal")
    phone = Phone(browser_factory("app"))
    portal_sms_login(portal, stack, user, shots=False)

    portal.click("#new-number summary")
    portal.type("#new-number-phone", new_phone)
    portal.type("#new-number-password", user["password"])
    portal.click("#new-number-submit")
    portal.find("#stepup-panel")
    portal.click(f"#stepup-devices button[data-device-id='{card.body['device_id']}']")
    challenge = portal.wait_for_text("#stepup-challenge-code", r"^\d{6}$")
    mark = len(stack.outbox())
    portal.type("#stepup-response", ocra(card.body["ocra_suite"], bytes.fromhex(seed), challenge, pin=card_pin))
    portal.click("#stepup-verify-submit")
    link = portal.wait_for_text("#new-number-link", r"^ibkr-ibkey://activate\?activation_id=", timeout=20)
    assert new_phone[-3:] in portal.text("#new-number-sent-to") and new_phone not in portal.text("#new-number-result")
    scroll_to(portal, "#ibkey-banner")
    portal.screenshot("activation-link")

    phone.tab("register")
    phone.b.click("#reg-method-sms")
    phone.b.type("#reg-activation-link", link)
    phone.b.click("#reg-use-link")
    phone.b.wait_for_text("#reg-sent-to", re.escape(user["username"]))
    phone.b.type("#reg-code", code_to(stack, new_phone, mark, 8))
    phone.b.type("#reg-pin", PIN)
    phone.b.type("#reg-pin-confirm", PIN)
    phone.b.screenshot("activation-code")
    phone.b.click("#reg-complete")
    device_id = phone.registered()
    keys = [d for d in devices_of(stack, user["username"]) if d["type"] == "ib_key"]
    assert [(k["device_id"], k["status"]) for k in keys] == [(device_id, "active")]
    expect_only_api_refusals(portal, ("/v1/activation/", 403))


# ------------------------------------------------------------------ stale pushes


def test_a_push_whose_login_went_on_with_a_code_is_dropped_from_the_app(stack, browser_factory):
    needs_portal(stack)
    user = new_user(stack)
    portal = browser_factory("portal")
    phone = Phone(browser_factory("app"))
    device_id = phone.register_by_sms(stack, user)

    portal_password_step(portal, user)
    mark = len(stack.outbox())
    portal.click(f"#device-chooser button[data-device-id='{device_id}']")
    match_number(portal)
    data = push_to(stack, device_id, mark)
    phone.notification(data["push_id"])
    phone.b.screenshot("push-offered")

    portal.click("#switch-to-code")
    challenge = portal.wait_for_text("#challenge-code", r"^\d{6}$")
    portal.type("#response", phone.respond(challenge))
    portal.click("#verify-submit")
    signed_in(portal, user)

    # The push was withdrawn when the login moved to a code: the app asks, and no longer offers it.
    assert push_status(stack, data["push_id"]) != "pending"
    phone.tab("notifications")
    phone.gone(data["push_id"], timeout=20)
    phone.b.wait_for_text("#notifications-status", "No requests waiting")
    phone.b.screenshot("push-dropped")


def test_a_push_that_expired_while_open_is_dropped_with_a_word(stack, browser_factory):
    """Last in this module: it moves the stack's clock past the push's 120 seconds."""
    user = new_user(stack)
    phone = Phone(browser_factory("app"))
    device_id = phone.register_by_sms(stack, user)
    start = stack("POST", "/v1/login", {"username": user["username"], "password": user["password"],
                                        "client": {"platform": "portal"}}).body
    mark = len(stack.outbox())
    assert stack("POST", f"/v1/login/{start['login_id']}/challenge", {"device_id": device_id}).status == 200
    data = push_to(stack, device_id, mark)
    item = phone.notification(data["push_id"])
    item.find_element(By.CSS_SELECTOR, ".pin").send_keys(PIN)  # the person was about to answer
    phone.b.screenshot("push-open")

    moved = stack("POST", "/_local/clock", {"advance_seconds": 121})
    assert moved.status in (200, 204), moved
    phone.b.wait_for_text("#notifications-error", "This request expired", timeout=20)
    phone.gone(data["push_id"])
    assert push_status(stack, data["push_id"]) == "expired"
    phone.b.screenshot("push-expired")
