"""The dashboard in headless Chromium (Debian's `chromium` and `chromium-driver` packages,
installed by .ci/run; nothing is downloaded): the chart and the alert list render from seeded
data, a hostile post stays text, and the offline API docs load under the strict CSP."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from monitor.api import create_app
from tests.integration.api_seed import HOSTILE, Seeded, seed, serve_in_thread

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[webdriver.Chrome]:
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(binary):
            pytest.fail(f"{binary} is missing: apt-get install -y chromium chromium-driver")
    # Both binaries are given, so Selenium Manager has nothing to find; offline, it never
    # tries to download a browser or a driver either.
    monkeypatch.setenv("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1600",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(
        service=Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "driver.log")),
        options=options,
    )
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def test_dashboard_renders_chart_alerts_and_hostile_post_as_text(
    tmp_path: Path, browser: webdriver.Chrome
) -> None:
    seeded: Seeded = seed(tmp_path, f"sqlite:///{tmp_path / 'monitor.db'}", now=datetime.now(UTC))
    app = create_app(seeded.settings, seeded.config, api_token="t")
    with serve_in_thread(app) as base_url:
        browser.get(f"{base_url}/?topic=love-letter")
        WebDriverWait(browser, 30).until(
            expected_conditions.presence_of_element_located((By.ID, "timeline-chart"))
        )
        chart = browser.find_element(By.ID, "timeline-chart")
        assert chart.size["width"] > 300 and chart.size["height"] > 50
        assert len(chart.find_elements(By.CSS_SELECTOR, "rect.volume-bar")) >= 10
        episodes = chart.find_elements(By.CSS_SELECTOR, "rect.alert-episode")
        assert [e.get_attribute("data-alert-id") for e in episodes] == [str(seeded.alert_id)]
        audience = browser.find_element(By.ID, "audience").text
        assert "32 mentions by 9 authors" in audience
        assert "fans 32 (100%)" in audience and "en 27 (84%), ko 5 (16%)" in audience
        alert = browser.find_element(By.ID, f"alert-{seeded.alert_id}")
        assert "Observed 20 mentions" in alert.text and "expected 0.5" in alert.text
        # The hostile post is shown as its literal text: no script ran, no element was made.
        texts = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".post-text")]
        assert any(HOSTILE in text for text in texts)
        assert browser.find_elements(By.TAG_NAME, "script") == []
        assert browser.find_elements(By.CSS_SELECTOR, "img") == []
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text  # noqa: B018 - raises when no dialog is open
        links = browser.find_elements(By.CSS_SELECTOR, "a[target=_blank]")
        assert links and all(
            (link.get_attribute("href") or "").startswith(("http://", "https://"))
            and link.get_attribute("rel") == "noopener noreferrer nofollow"
            for link in links
        )
        screenshot = tmp_path / "dashboard.png"
        assert browser.save_screenshot(str(screenshot))
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        # /docs: Swagger UI from the installed package renders the schema's operations.
        browser.get(f"{base_url}/docs")
        WebDriverWait(browser, 30).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".opblock"))
        )
        operations = browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
        assert any("/api/alerts/{alert_id}/ack" in op.text for op in operations)
