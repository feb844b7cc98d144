"""What a person confirms: the statement of each flow (rules.md, "What a confirmation shows
and proves"), fixed when the flow starts, and the words of the codes and pushes that carry it.
"""
from __future__ import annotations

import re
from xml.sax.saxutils import escape

from securelogin.domain.models import Purpose

ON_FILE = "your bank account on file"
UNKNOWN_BROWSER = "an unknown browser"

# (pattern, name), the first that matches wins: Edge and Opera say "Chrome" too, Chrome says "Safari".
_BROWSERS = (
    (re.compile(r"\bEdg(?:e|A|iOS)?/"), "Edge"),
    (re.compile(r"\b(?:OPR|Opera)/"), "Opera"),
    (re.compile(r"\bSamsungBrowser/"), "Samsung Internet"),
    (re.compile(r"\b(?:Firefox|FxiOS)/"), "Firefox"),
    (re.compile(r"\b(?:HeadlessChrome|Chrome|CriOS|Chromium)/"), "Chrome"),
    (re.compile(r"\bVersion/[\d.]+.*\bSafari/"), "Safari"),
)
_SYSTEMS = (
    (re.compile(r"\b(?:iPhone|iPad|iPod)\b"), "iOS"),
    (re.compile(r"\bAndroid\b"), "Android"),
    (re.compile(r"\bWindows\b"), "Windows"),
    (re.compile(r"\bCrOS\b"), "ChromeOS"),
    (re.compile(r"\b(?:Macintosh|Mac OS X)\b"), "macOS"),
    (re.compile(r"\bLinux\b"), "Linux"),
)


def _first_named(table: tuple[tuple[re.Pattern[str], str], ...], text: str) -> str | None:
    return next((name for pattern, name in table if pattern.search(text)), None)


def browser_of(user_agent: str | None) -> str:
    """``{Browser} on {OS}`` read from a User-Agent, or "an unknown browser"."""
    text = (user_agent or "")[:512]
    browser, system = _first_named(_BROWSERS, text), _first_named(_SYSTEMS, text)
    if browser is None or system is None:
        return UNKNOWN_BROWSER
    return f"{browser} on {system}"


def money(amount_usd: float) -> str:
    """USD with two decimals and thousands separators: 1,234,567.50."""
    return f"{amount_usd:,.2f}"


def login(username: str, platform: str, ip: str, browser: str) -> str:
    return f"Log in to IBKR as {username} from {platform} ({ip}, {browser})"


def step_up(username: str, platform: str, ip: str, browser: str) -> str:
    return f"Confirm a change to your security settings as {username} from {platform} ({ip}, {browser})"


# Characters a person may misread for others in a destination (a skeleton, as Unicode's
# confusables do for whole scripts; destinations are ASCII, see ``destination_problem``).
_LOOK_ALIKES = str.maketrans({"1": "l", "i": "l", "|": "l", "!": "l", "0": "o", "5": "s", "$": "s"})


def _skeleton(text: str) -> str:
    return "".join(text.lower().translate(_LOOK_ALIKES).split()).replace("rn", "m").replace("vv", "w")


def destination_problem(destination: str) -> str | None:
    """Why a withdrawal's destination cannot be shown to the person who confirms it, or None:
    it must be plain printable ASCII (no look-alike letters of other scripts, no invisible
    or combining characters), name something (a letter or a digit), and not pass for the
    account on file."""
    if not all(" " <= c <= "~" for c in destination):
        return "letters, digits and punctuation of plain ASCII only"
    if destination != destination.strip() or not any(c.isalnum() for c in destination):
        return "a name, without leading or trailing spaces"
    if destination != ON_FILE and _skeleton(destination) == _skeleton(ON_FILE):
        return "it reads like the account on file: leave it out to use that account"
    return None


def withdrawal(amount_usd: float, destination: str | None) -> str:
    return f"Withdraw USD {money(amount_usd)} to {destination or ON_FILE}"


# The other flows: a sentence naming the operation and the username.
_OPERATIONS = {
    Purpose.ACTIVATION: "Activate IB Key for {username}",
    Purpose.QR_SESSION: "Activate IB Key for {username}",
    Purpose.RECOVERY: "Recover IB Key for {username}",
    Purpose.SHARE: "Share your security device with {username}",
    Purpose.DEVICE_ACTIVATION: "Activate your new security device for {username}",
    Purpose.PIN_CHANGE: "Change your Digital Security Card+ PIN for {username}",
    Purpose.PASSKEY_REGISTRATION: "Register a passkey for {username}",
}


def operation(purpose: Purpose, username: str) -> str:
    return _OPERATIONS[purpose].format(username=username)


# What a code is for, in the words of its SMS ("Your IBKR code {to ...} is 123456").
_CODE_PURPOSE = {
    Purpose.LOGIN: "to log in",
    Purpose.STEP_UP: "to confirm a change to your security settings",
    Purpose.ACTIVATION: "to activate IB Key",
    Purpose.RECOVERY: "to recover IB Key",
    Purpose.SHARE: "to share your security device",
    Purpose.DEVICE_ACTIVATION: "to activate your new security device",
    Purpose.PIN_CHANGE: "to change your security device's PIN",
    Purpose.PASSKEY_REGISTRATION: "to register a passkey",
}


def code_for(purpose: Purpose, statement: str) -> str:
    """The words that say what a texted or spoken code confirms: a withdrawal names its
    amount and destination (its statement), every other purpose what it is for."""
    if purpose == Purpose.WITHDRAWAL:
        return "to " + statement[0].lower() + statement[1:]
    return _CODE_PURPOSE.get(purpose, "to confirm your request")


def sms_text(purpose: Purpose, statement: str, code: str, minutes: int) -> str:
    return (f"Your IBKR code {code_for(purpose, statement)} is {code}. "
            f"It expires in {minutes} minutes. Never share it.")


def voice_text(purpose: Purpose, statement: str, code: str, minutes: int) -> str:
    # Speech markup, so that the code is read digit by digit.
    words = escape(code_for(purpose, statement))
    return (f'<speak>Your I B K R code {words} is <say-as interpret-as="digits">{code}</say-as>. '
            f"It expires in {minutes} minutes.</speak>")


# Where the code stands in the texts above (the last match: a destination may hold digits).
_CODE_IN_TEXT = re.compile(r' is (?:<say-as interpret-as="digits">)?(\d{4,12})(?:</say-as>)?\. It expires in ')


def code_in_text(text: str) -> str | None:
    """The code an SMS or voice text of ``sms_text``/``voice_text`` carries, or None (a notice)."""
    found = _CODE_IN_TEXT.findall(text or "")
    return found[-1] if found else None


def push_message(purpose: Purpose, statement: str) -> str:
    """The human sentence of a push: the statement, asked."""
    if purpose == Purpose.WITHDRAWAL:
        return f"Approve this withdrawal? {statement}"
    return f"Approve? {statement}"
