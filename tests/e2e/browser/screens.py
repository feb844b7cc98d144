"""What the browser journeys do on the two pages, in a person's steps: the IB Key app (/app/, by
the ids documented at the top of tools/web/app/js/app.js) and the Client Portal (/portal/, by its
DOM contract: #username, #password, #login-submit, #device-chooser with
button[data-device-id][data-device-type], #challenge-panel with #statement, #match-number,
#push-waiting, #push-again, #switch-to-code, #challenge-code, #response, #verify-submit;
#signed-in with #whoami, #devices rows [data-device-id] with [data-status]; #ibkey-banner with
#qr-image, #session-id, #qr-expires, #qr-show, #qr-status; the step-up panel #stepup-panel with
#stepup-devices, #stepup-statement, #stepup-response, #stepup-verify-submit; #error, #logout)."""
from __future__ import annotations

import re
import time

import pytest
from people import user_body
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

PIN = "7Q!x2"
PHONE_SIZE = (430, 900)
# A QR session ID as the portal shows it: 16 characters of Crockford's base32, in groups of four.
GROUPED_SESSION_ID = r"^[0-9A-HJKMNP-TV-Z]{4}( [0-9A-HJKMNP-TV-Z]{4}){3}$"


# ------------------------------------------------------------------ people and messages

def new_user(stack, **over):
    body = user_body("app", **over)
    created = stack("POST", "/v1/admin/users", body, signed=True)
    assert created.status == 201, created
    return body


def code_to(stack, phone, since, digits):
    """The code of the last SMS to ``phone`` since outbox index ``since`` (waiting for it)."""
    for _ in range(100):
        messages = [m for m in stack.outbox()[since:] if m["channel"] == "sms" and m["to"] == phone]
        codes = [m.get("code") or (re.findall(rf"(?<!\d)\d{{{digits}}}(?!\d)", m["body"]) or [None])[0]
                 for m in messages]
        codes = [c for c in codes if c and len(c) == digits]
        if codes:
            return codes[-1]
        time.sleep(0.1)
    raise AssertionError(f"no SMS with a {digits}-digit code to {phone}")


def push_to(stack, device_id, since, timeout=15.0):
    """The data of the newest push to ``device_id`` since ``since``: the first message of its push_id
    (a later message about an earlier push, such as its withdrawal, is not a push to answer)."""
    deadline = time.monotonic() + timeout
    while True:
        seen, pushes = set(), []
        for index, message in enumerate(stack.outbox()):
            data = message.get("data") or {}
            if message["channel"] != "push" or not data.get("push_id"):
                continue
            if data["push_id"] not in seen and index >= since and message["to"] == device_id:
                pushes.append(data)
            seen.add(data["push_id"])
        if pushes or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert pushes, f"no push to {device_id}"
    return pushes[-1]


def push_status(stack, push_id):
    return stack("GET", f"/v1/authenticator/pushes/{push_id}").body.get("status")


def devices_of(stack, username):
    return stack("GET", f"/v1/admin/users/{username}", signed=True).body["devices"]


# ------------------------------------------------------------------ the phone

class Phone:
    """The IB Key app page, driven by its ids."""

    def __init__(self, browser):
        self.b = browser
        self.b.driver.set_window_size(*PHONE_SIZE)
        self.b.open("/app/")
        self.b.find("#app[data-ready='true']", timeout=15)

    def tab(self, name):
        self.b.click(f"#tab-{name}")
        self.b.find(f"#panel-{name}")

    def register_by_session_id(self, session_id, pin=PIN, add_user=False):
        self.tab("register")
        self.b.click("#reg-method-session")
        self.b.type("#reg-session-id", session_id)
        self.b.type("#reg-pin", pin)
        if not add_user:
            self.b.type("#reg-pin-confirm", pin)
        self.b.click("#reg-complete")
        return self.registered()

    def register_by_sms(self, stack, user, pin=PIN, add_user=False, shot=None):
        self.tab("register")
        self.b.click("#reg-method-sms")
        self.b.type("#reg-username", user["username"])
        self.b.type("#reg-password", user["password"])
        self.b.type("#reg-phone", user["phones"][0])
        mark = len(stack.outbox())
        self.b.click("#reg-send")
        self.b.wait_for_text("#reg-sent-to", r"sent an activation code")
        self.b.type("#reg-code", code_to(stack, user["phones"][0], mark, 8))
        self.b.type("#reg-pin", pin)
        if not add_user:
            self.b.type("#reg-pin-confirm", pin)
        if shot:
            self.b.screenshot(shot)
        self.b.click("#reg-complete")
        return self.registered()

    def registered(self):
        text = self.b.wait_for_text("#reg-result", r"IB Key is active", timeout=20)
        return re.search(r"device (\S+)\)", text)[1]

    def notification(self, push_id, timeout=15):
        self.tab("notifications")
        return self.b.find(f"#notifications li[data-push-id='{push_id}']", timeout=timeout)

    def answer(self, push_id, decision="approve", pin=PIN, number=None, shot=None):
        """Answers a request: an approval types ``number`` (the 3 digits the other screen shows,
        when the push has one) and the PIN."""
        item = self.notification(push_id)
        if decision == "approve":
            if number is not None:
                field = item.find_element(By.CSS_SELECTOR, ".number")
                field.clear()
                field.send_keys(number)
            field = item.find_element(By.CSS_SELECTOR, ".pin")
            field.clear()
            field.send_keys(pin)
        if shot:
            self.b.screenshot(shot)
        item.find_element(By.CSS_SELECTOR, f".{decision}").click()

    def gone(self, push_id, timeout=15):
        css = f"#notifications li[data-push-id='{push_id}']"
        WebDriverWait(self.b.driver, timeout).until(lambda d: not d.find_elements(By.CSS_SELECTOR, css))

    def respond(self, challenge_code, pin=PIN, device_id=None):
        self.tab("authenticate")
        if device_id:
            self.b.find(f"#auth-user option[value='{device_id}']").click()
        self.b.type("#auth-challenge", challenge_code)
        self.b.type("#auth-pin", pin)
        self.b.click("#auth-submit")
        return self.b.wait_for_text("#auth-response", r"^\d{8}$")


# ------------------------------------------------------------------ the portal

def portal_missing(stack):
    """What keeps the Client Portal from working yet, or None: its page and what the page loads."""
    page = stack("GET", "/portal/")
    if page.status != 200 or 'id="login-submit"' not in str(page.body):
        return "/portal/ has no #login-submit"
    for asset in re.findall(r'(?:src|href)="(?!data:|https?:|/)([^"#?]+)"', str(page.body)):
        if stack("GET", f"/portal/{asset}").status != 200:
            return f"/portal/{asset} is not there"
    return None


def needs_portal(stack):
    missing = portal_missing(stack)
    if missing:
        pytest.skip(f"the Client Portal (tools/web/portal/) is not ready: {missing}")


def portal_password_step(portal, user):
    portal.open("/portal/")
    portal.type("#username", user["username"])
    portal.type("#password", user["password"])
    portal.click("#login-submit")


def choose_device(portal, device_type):
    portal.click(f"#device-chooser button[data-device-type='{device_type}']")


def portal_sms_login(portal, stack, user, shots=True):
    portal_password_step(portal, user)
    mark = len(stack.outbox())
    choose_device(portal, "sms")
    portal.find("#challenge-panel")
    portal.type("#response", code_to(stack, user["phones"][0], mark, 6))
    if shots:
        portal.screenshot("sms-code")
    portal.click("#verify-submit")
    signed_in(portal, user)


def signed_in(portal, user):
    portal.wait_for_text("#whoami", f"^{re.escape(user['username'])}$", timeout=20)


def match_number(portal, prefix=""):
    """The 3-digit number the portal shows beside a push (number matching)."""
    return portal.wait_for_text(f"#{prefix}match-number", r"^\d{3}$").strip()


def device_status(portal, device_id):
    row = f"#devices [data-device-id='{device_id}']"
    found = portal.driver.find_elements(By.CSS_SELECTOR, f"{row}[data-status], {row} [data-status]")
    return found[0].get_attribute("data-status") if found else None


def scroll_to(browser, css):
    element = browser.find(css)
    browser.driver.execute_script("arguments[0].scrollIntoView({block: 'start'}); window.scrollBy(0, -12);", element)
