"""The IB Key app (tools/web/app/, served at /app/) in a browser, as a person uses it: beside the
Client Portal (/portal/) in a second window, or beside the API where the portal has no part.

Phone: the app's own ids (documented at the top of tools/web/app/js/app.js). Portal: the
Client Portal's DOM contract (screens.py). Number matching, withdrawals confirmed in the app,
step-ups and requests that go stale are in test_confirmations.py."""
from __future__ import annotations

import re

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
    push_to,
    signed_in,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from securelogin.crypto.ocra import ocra

pytestmark = pytest.mark.e2e

CARD_SEED = "31" * 32
CARD_PIN = "4831"
CARD_SUITE = "OCRA-1:HOTP-SHA256-8:QN06-PSHA1"


# ------------------------------------------------------------------ journeys with the portal

def test_activating_ib_key_from_the_portals_qr_banner_in_the_app(stack, browser_factory):
    needs_portal(stack)
    user = new_user(stack)
    portal = browser_factory("portal")
    phone = Phone(browser_factory("app"))
    phone.b.screenshot("fresh-app")

    portal_sms_login(portal, stack, user)
    portal.find("#ibkey-banner")
    portal.find("#qr-image")
    # An SMS session is strong enough for a user whose only device is SMS: the code shows at once,
    # its session ID in groups of four.
    session_id = portal.wait_for_text("#session-id", GROUPED_SESSION_ID).strip()
    assert portal.text("#qr-expires")
    portal.screenshot("qr-banner")

    phone.tab("register")
    phone.b.type("#reg-session-id", session_id)  # typed as shown, spaces and all
    phone.b.type("#reg-pin", PIN)
    phone.b.type("#reg-pin-confirm", PIN)
    phone.b.screenshot("session-id-and-pin")
    phone.b.click("#reg-complete")
    device_id = phone.registered()
    phone.b.screenshot("registered")

    key = next(d for d in devices_of(stack, user["username"]) if d["type"] == "ib_key")
    assert key["device_id"] == device_id and key["status"] == "active"
    # The portal polls the QR session: it says the code was used and lists the new device, no reload.
    portal.wait_for_text("#qr-status", "IB Key activated", timeout=20)
    portal.wait_for_text("#ibkey-title", "IB Key is activated")
    WebDriverWait(portal.driver, 15).until(lambda d: device_status(portal, device_id) == "active")
    portal.screenshot("device-active")


def test_logging_in_again_by_approving_the_push_in_the_app(stack, browser_factory):
    needs_portal(stack)
    user = new_user(stack)
    portal = browser_factory("portal")
    phone = Phone(browser_factory("app"))
    device_id = phone.register_by_sms(stack, user)

    portal_sms_login(portal, stack, user, shots=False)
    portal.screenshot("signed-in")
    portal.click("#logout")
    portal.find("#login-submit")

    portal_password_step(portal, user)
    portal.find("#device-chooser")
    portal.screenshot("device-chooser")
    mark = len(stack.outbox())
    portal.click(f"#device-chooser button[data-device-id='{device_id}']")
    portal.find("#push-waiting")
    number = match_number(portal)
    statement = portal.wait_for_text("#statement", rf"^Log in to IBKR as {re.escape(user['username'])} from ")
    portal.screenshot("push-waiting")

    data = push_to(stack, device_id, mark)
    assert data["purpose"] == "login" and data["has_number"] is True and number not in str(data.values())
    item = phone.notification(data["push_id"])
    assert user["username"] in item.text
    assert item.find_element(By.CSS_SELECTOR, ".statement").text == statement  # what the portal says it asked
    phone.answer(data["push_id"], "approve", number=number, shot="notification")
    phone.gone(data["push_id"])
    phone.b.wait_for_text("#notifications-answered", r"Approved")
    phone.b.screenshot("approved")

    signed_in(portal, user)
    portal.screenshot("signed-in-by-push")


def test_the_portal_falls_back_to_a_code_that_the_app_answers(stack, browser_factory):
    needs_portal(stack)
    user = new_user(stack)
    portal = browser_factory("portal")
    phone = Phone(browser_factory("app"))
    device_id = phone.register_by_sms(stack, user)

    portal_password_step(portal, user)
    portal.click(f"#device-chooser button[data-device-id='{device_id}']")
    portal.find("#push-waiting")
    match_number(portal)
    portal.click("#switch-to-code")
    challenge_code = portal.wait_for_text("#challenge-code", r"\d{6}").strip()
    portal.screenshot("challenge-code")

    response = phone.respond(re.search(r"\d{6}", challenge_code)[0])
    phone.b.screenshot("response")
    portal.type("#response", response)
    portal.click("#verify-submit")
    signed_in(portal, user)
    portal.screenshot("signed-in-by-code")


# ------------------------------------------------------------------ the app beside the API

# What IndexedDB holds for each user, and whether WebCrypto lets anything export the keys.
STORED = """
const done = arguments[arguments.length - 1];
const opened = indexedDB.open("ibkey-app");
opened.onsuccess = () => {
  const tx = opened.result.transaction(["users", "instances"]);
  const users = tx.objectStore("users").getAll();
  const instances = tx.objectStore("instances").getAll();
  tx.oncomplete = async () => {
    const out = [];
    for (const u of users.result) {
      const exported = [];
      for (const key of [u.signing_key, u.ocra_key]) {
        try { await crypto.subtle.exportKey(key.type === "private" ? "pkcs8" : "raw", key); exported.push(true); }
        catch (e) { exported.push(false); }
      }
      out.push({device_id: u.device_id, fields: Object.keys(u).sort(), signing: [u.signing_key.type,
        u.signing_key.extractable, u.signing_key.algorithm.name, u.signing_key.algorithm.namedCurve],
        ocra: [u.ocra_key.type, u.ocra_key.extractable, u.ocra_key.algorithm.name], exported,
        text: JSON.stringify(u)});
    }
    done({users: out, instances: instances.result.map((i) => JSON.stringify(i))});
  };
};
opened.onerror = () => done({error: String(opened.error)});
"""


def test_the_app_loads_clean_and_its_challenge_response_logs_in(stack, browser_factory):
    """OCRA computed in the browser (WebCrypto HMAC) is the server's: the response logs in. The
    keys it keeps in IndexedDB cannot be exported, and the PIN is not kept."""
    user = new_user(stack)
    phone = Phone(browser_factory("app"))
    phone.b.screenshot("loaded")
    device_id = phone.register_by_sms(stack, user, shot="sms-code-and-pin")
    phone.b.screenshot("registered")

    stored = phone.b.driver.execute_async_script(STORED)
    [kept] = stored["users"]
    assert kept["device_id"] == device_id
    assert kept["signing"] == ["private", False, "ECDSA", "P-256"]
    assert kept["ocra"] == ["secret", False, "HMAC"]
    assert kept["exported"] == [False, False]
    assert "ocra_secret_hex" not in kept["fields"] and "pin" not in kept["fields"]
    assert all(PIN not in text for text in [kept["text"], *stored["instances"]])

    start = stack("POST", "/v1/login", {"username": user["username"], "password": user["password"],
                                        "client": {"platform": "portal"}}).body
    challenge = stack("POST", f"/v1/login/{start['login_id']}/challenge",
                      {"device_id": device_id, "method": "challenge_response"})
    assert challenge.status == 200, challenge
    response = phone.respond(challenge.body["challenge"]["challenge_code"])
    phone.b.screenshot("response")
    verified = stack("POST", f"/v1/login/{start['login_id']}/verify", {"response": response})
    assert verified.status == 200, verified
    assert verified.body["scope"] == "full"


def test_the_apps_ocra_passes_every_rfc6287_vector(stack, browser_factory):
    browser = browser_factory("app")
    browser.open("/app/selftest.html")
    result = browser.wait_for_text("#selftest-result", r"vectors (pass|fail)")
    browser.screenshot("selftest")
    assert re.fullmatch(r"All \d+ RFC 6287 vectors pass", result), browser.text("body")


def test_add_user_then_approve_and_deny_pushes_for_each(stack, browser_factory):
    first, second = new_user(stack), new_user(stack)
    phone = Phone(browser_factory("app"))
    first_device = phone.register_by_sms(stack, first)
    instance = next(d for d in devices_of(stack, first["username"]) if d["type"] == "ib_key")["app_instance_id"]

    # The second username, by a session ID from its own portal session: Add user, same PIN.
    mark = len(stack.outbox())
    start = stack("POST", "/v1/login", {"username": second["username"], "password": second["password"],
                                        "client": {"platform": "portal"}}).body
    stack("POST", f"/v1/login/{start['login_id']}/challenge", {"device_id": start["default_device_id"]})
    token = stack("POST", f"/v1/login/{start['login_id']}/verify",
                  {"response": code_to(stack, second["phones"][0], mark, 6)}).body["session_token"]
    qr = stack("POST", "/v1/activation/qr", token=token).body
    phone.tab("register")
    phone.b.wait_for_text("#reg-title", "Add user")
    assert not phone.b.driver.find_element(By.ID, "reg-pin-confirm").is_displayed()
    phone.b.screenshot("add-user")
    second_device = phone.register_by_session_id(qr["qr_payload"], add_user=True)
    key = next(d for d in devices_of(stack, second["username"]) if d["type"] == "ib_key")
    assert key["device_id"] == second_device and key["app_instance_id"] == instance

    # A push to each: one approved (with the number the login's client was shown), one denied
    # (no number); each is answered once and leaves the list, the newest first.
    logins = {}
    for user, device_id in ((first, first_device), (second, second_device)):
        start = stack("POST", "/v1/login", {"username": user["username"], "password": user["password"],
                                            "client": {"platform": "portal"}}).body
        mark = len(stack.outbox())
        challenge = stack("POST", f"/v1/login/{start['login_id']}/challenge", {"device_id": device_id})
        assert challenge.status == 200, challenge
        logins[user["username"]] = (start["login_id"], push_to(stack, device_id, mark),
                                    challenge.body["challenge"]["match_number"])
    first_login, first_push, first_number = logins[first["username"]]
    second_login, second_push, _ = logins[second["username"]]
    phone.notification(first_push["push_id"])
    phone.notification(second_push["push_id"])
    phone.b.wait_for_text("#notification-count", "2")
    order = [li.get_attribute("data-push-id")
             for li in phone.b.driver.find_elements(By.CSS_SELECTOR, "#notifications li[data-push-id]")]
    assert order == [second_push["push_id"], first_push["push_id"]]  # newest first
    phone.b.screenshot("two-notifications")

    phone.answer(first_push["push_id"], "approve", pin="wrong1", number=first_number)
    phone.b.wait_for_text(f"#notifications li[data-push-id='{first_push['push_id']}'] .error",
                          "not this app's PIN")
    phone.b.screenshot("wrong-pin")
    phone.answer(first_push["push_id"], "approve", number=first_number)
    phone.gone(first_push["push_id"])
    phone.answer(second_push["push_id"], "deny")
    phone.gone(second_push["push_id"])
    phone.b.screenshot("answered")

    approved = stack("GET", f"/v1/login/{first_login}").body
    assert approved["status"] == "approved" and approved["session_token"]
    assert stack("GET", f"/v1/login/{second_login}").body["status"] == "denied"

    # A reload keeps the users, their keys and what was answered.
    phone.b.driver.refresh()
    phone.b.find("#app[data-ready='true']")
    phone.tab("users")
    assert len(phone.b.driver.find_elements(By.CSS_SELECTOR, "#users li[data-device-id]")) == 2
    assert instance in phone.b.text("#app-instance")
    phone.b.screenshot("users")
    phone.tab("notifications")
    phone.b.wait_for_text("#notifications-status", "No requests waiting")


def test_recover_setup_after_clearing_the_app_data(stack, browser_factory):
    user = new_user(stack)
    phone = Phone(browser_factory("app"))
    old_device = phone.register_by_sms(stack, user)

    phone.tab("users")
    phone.b.click("#reset-app")
    phone.b.click("#reset-app")  # asks twice
    phone.b.wait_for_text("#reg-title", "Register two-factor")
    phone.tab("users")
    phone.b.find("#users-empty")

    phone.tab("recover")
    phone.b.type("#rec-username", user["username"])
    phone.b.type("#rec-password", user["password"])
    mark = len(stack.outbox())
    phone.b.click("#rec-start")
    phone.b.wait_for_text("#rec-sent-to", "sent an activation code")
    phone.b.type("#rec-code", code_to(stack, user["phones"][0], mark, 8))
    phone.b.type("#rec-pin", PIN)
    phone.b.screenshot("recovery-code")
    phone.b.click("#rec-complete")
    text = phone.b.wait_for_text("#rec-result", "set up again", timeout=20)
    new_device = re.search(r"device (\S+)\)", text)[1]
    phone.b.screenshot("recovered")

    statuses = {d["device_id"]: d["status"] for d in devices_of(stack, user["username"])}
    assert statuses[new_device] == "active" and statuses[old_device] == "revoked"
    start = stack("POST", "/v1/login", {"username": user["username"], "password": user["password"],
                                        "client": {"platform": "portal"}}).body
    challenge = stack("POST", f"/v1/login/{start['login_id']}/challenge",
                      {"device_id": new_device, "method": "challenge_response"}).body["challenge"]
    response = phone.respond(challenge["challenge_code"])
    assert stack("POST", f"/v1/login/{start['login_id']}/verify", {"response": response}).status == 200


def test_recover_setup_on_a_new_phone_by_answering_the_dsc_plus(stack, browser_factory):
    """With a physical device active, recovery challenges it instead of sending an SMS: the card
    panel of the new phone's app plays the card."""
    user = new_user(stack)
    stack("POST", f"/v1/admin/users/{user['username']}/devices",
          {"type": "dsc_plus", "seed_hex": CARD_SEED, "pin": CARD_PIN}, signed=True)
    old_phone = Phone(browser_factory("old-phone"))
    old_device = old_phone.register_by_sms(stack, user)

    phone = Phone(browser_factory("app"))
    phone.tab("recover")
    phone.b.type("#rec-username", user["username"])
    phone.b.type("#rec-password", user["password"])
    phone.b.click("#rec-same-phone")  # a new phone
    phone.b.click("#rec-start")
    challenge = phone.b.wait_for_text("#rec-challenge", r"^\d{6}$")
    phone.b.screenshot("device-challenge")
    phone.tab("card")
    phone.b.type("#card-seed", CARD_SEED)
    phone.b.type("#card-pin", CARD_PIN)
    phone.b.type("#card-challenge", challenge)
    phone.b.click("#card-submit")
    response = phone.b.wait_for_text("#card-response", r"^\d{8}$")
    phone.tab("recover")
    phone.b.type("#rec-response", response)
    phone.b.type("#rec-pin", "k9#Lm2")  # a new phone, a new PIN
    phone.b.click("#rec-complete")
    text = phone.b.wait_for_text("#rec-result", "set up again", timeout=20)
    new_device = re.search(r"device (\S+)\)", text)[1]
    phone.b.screenshot("transferred")

    keys = {d["device_id"]: d for d in devices_of(stack, user["username"]) if d["type"] == "ib_key"}
    assert keys[new_device]["status"] == "active" and keys[old_device]["status"] == "revoked"
    assert keys[new_device]["app_instance_id"] != keys[old_device]["app_instance_id"]
    start = stack("POST", "/v1/login", {"username": user["username"], "password": user["password"],
                                        "client": {"platform": "portal"}}).body
    challenge = stack("POST", f"/v1/login/{start['login_id']}/challenge",
                      {"device_id": new_device, "method": "challenge_response"}).body["challenge"]
    response = phone.respond(challenge["challenge_code"], pin="k9#Lm2")
    assert stack("POST", f"/v1/login/{start['login_id']}/verify", {"response": response}).status == 200


def test_the_dsc_plus_panel_answers_like_the_card(stack, browser_factory):
    user = new_user(stack)
    card = stack("POST", f"/v1/admin/users/{user['username']}/devices",
                 {"type": "dsc_plus", "seed_hex": CARD_SEED, "pin": CARD_PIN}, signed=True).body
    phone = Phone(browser_factory("app"))
    start = stack("POST", "/v1/login", {"username": user["username"], "password": user["password"],
                                        "client": {"platform": "portal"}}).body
    challenge = stack("POST", f"/v1/login/{start['login_id']}/challenge",
                      {"device_id": card["device_id"]}).body["challenge"]["challenge_code"]
    phone.tab("card")
    phone.b.type("#card-seed", CARD_SEED)
    phone.b.type("#card-pin", CARD_PIN)
    phone.b.type("#card-challenge", challenge)
    phone.b.click("#card-submit")
    response = phone.b.wait_for_text("#card-response", r"^\d{8}$")
    phone.b.screenshot("card-response")
    assert response == ocra(CARD_SUITE, bytes.fromhex(CARD_SEED), challenge, pin=CARD_PIN)
    assert stack("POST", f"/v1/login/{start['login_id']}/verify", {"response": response}).status == 200

    phone.b.type("#card-seed", "not hex")
    phone.b.click("#card-submit")
    phone.b.wait_for_text("#card-error", "hexadecimal")


def test_mistakes_and_refusals_are_told_in_words(stack, browser_factory):
    """The app's own checks, then a refusal by the service (a session ID never issued: 404)."""
    phone = Phone(browser_factory("app"))
    phone.tab("register")
    phone.b.type("#reg-session-id", "abc")
    phone.b.type("#reg-pin", PIN)
    phone.b.type("#reg-pin-confirm", PIN)
    phone.b.click("#reg-complete")
    phone.b.wait_for_text("#reg-error", "not a session ID")
    phone.b.type("#reg-session-id", "AbCdEfGhIjKlMn")
    phone.b.type("#reg-pin-confirm", "other")
    phone.b.click("#reg-complete")
    phone.b.wait_for_text("#reg-error", "not the same")

    phone.b.type("#reg-pin-confirm", PIN)
    phone.b.click("#reg-complete")
    phone.b.wait_for_text("#reg-error", "No session ID like this one was issued")
    phone.b.screenshot("session-id-refused")
    assert phone.b.driver.find_element(By.ID, "reg-result").text == ""
    # Chromium logs the refused fetch; the fixture leaves the API's 4xx answers out of the errors
    # it fails on, and this one is among what was logged.
    logged = [entry["message"] for entry in phone.b.driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert logged and all("status of 404" in entry for entry in logged), logged
