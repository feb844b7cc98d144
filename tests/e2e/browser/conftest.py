"""Browser journeys: Debian's Chromium, headless, driven by Selenium through its ChromeDriver,
against a local stack of the module's own. Every journey keeps screenshots of its steps in
build/screenshots/ (CI keeps them as artifacts), and fails on any JavaScript error."""
from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(__file__).resolve().parents[3] / "build" / "screenshots"
# Chromium as a headless test browser on a machine with no network beyond loopback.
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,900"]


class Browser:
    """One Chromium window, with waits that read as the person's steps."""

    def __init__(self, driver: webdriver.Chrome, base_url: str, journey: str) -> None:
        self.driver = driver
        self.base_url = base_url
        self.journey = journey
        self.shots = 0

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def find(self, css: str, timeout: float = 10):
        return WebDriverWait(self.driver, timeout).until(until.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def click(self, css: str, timeout: float = 10) -> None:
        WebDriverWait(self.driver, timeout).until(until.element_to_be_clickable((By.CSS_SELECTOR, css))).click()

    def type(self, css: str, text: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(text)

    def text(self, css: str, timeout: float = 10) -> str:
        return self.find(css, timeout).text

    def wait_for_text(self, css: str, pattern: str, timeout: float = 15) -> str:
        WebDriverWait(self.driver, timeout).until(
            lambda d: re.search(pattern, d.find_element(By.CSS_SELECTOR, css).text))
        return self.driver.find_element(By.CSS_SELECTOR, css).text

    def screenshot(self, step: str) -> Path:
        self.shots += 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.journey}-{self.shots:02d}-{step}.png"
        self.driver.save_screenshot(str(path))
        return path

    def javascript_errors(self) -> list[str]:
        """What the page logged as an error, less the API's own 4xx answers (Chromium logs each
        refused fetch, and journeys refuse on purpose): a missing asset or a script error stays."""
        return [entry["message"] for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"
                and not (entry.get("source") == "network" and "/v1/" in entry["message"]
                         and re.search(r"status of 4\d\d", entry["message"]))]


def chromium_missing() -> bool:
    return not (CHROMIUM.exists() and CHROMEDRIVER.exists())


@pytest.fixture(scope="module")
def stack(local_stack) -> Iterator:
    """The module's own local stack (the session's ``api`` is shared with other tests)."""
    with local_stack() as api:
        yield api


@pytest.fixture
def browser_factory(stack, request) -> Iterator:
    """Opens browsers (a journey may need two: the portal and the phone's app), and checks at
    the end that none logged a JavaScript error."""
    if chromium_missing():
        pytest.fail("Chromium and ChromeDriver are missing: make test installs them (Debian's chromium, "
                    "chromium-driver)")
    opened: list[tuple[Browser, str]] = []

    def open_browser(name: str = "portal") -> Browser:
        profile = tempfile.mkdtemp(prefix="sls-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in [*FLAGS, f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        browser = Browser(driver, stack.base_url, f"{request.node.name}-{name}")
        opened.append((browser, profile))
        return browser

    yield open_browser
    errors = []
    for browser, profile in opened:
        errors += browser.javascript_errors()
        browser.driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    assert not errors, f"JavaScript errors: {errors}"
