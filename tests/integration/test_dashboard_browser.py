"""The dashboard end to end in headless Chromium: log in, watch a running job reach 100 %
without reloading, read the grid, download the CSV, meet another org's job as a 404, log out.

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package. Without
them the browser test skips locally and fails in CI (``support.ci.skip_or_fail``). The
screenshot is written under pytest's tmp dir; with ``JOBGRID_UPDATE_SCREENSHOT=1`` it is
also copied to ``docs/dashboard.png``.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from support.ci import skip_or_fail
from support.env import API_KEY_A, API_KEY_B, SettingsEnv
from support.payloads import invoice_text, job_body
from support.servers import ApiServer, WorkerProcess

pytestmark = pytest.mark.integration

TESTS_DIR = Path(__file__).resolve().parents[1]
DOCS_PNG = TESTS_DIR.parent / "docs" / "dashboard.png"
FAULTY = "support.extractors:FaultyExtractor"
BROWSERS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
DRIVERS = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
CHROME_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--window-size=1360,1080",
               "--hide-scrollbars", "--force-device-scale-factor=1")


def _first(paths: tuple[str, ...], env: str) -> str | None:
    chosen = os.environ.get(env)
    if chosen:
        return chosen if os.path.exists(chosen) else None
    return next((p for p in paths if os.path.exists(p)), None)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Debian Chromium through its own chromedriver (no download of either)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        skip_or_fail("selenium is not installed (pip install -e '.[test]')")
    binary = _first(BROWSERS, "JOBGRID_CHROMIUM")
    driver_path = _first(DRIVERS, "JOBGRID_CHROMEDRIVER")
    if binary is None or driver_path is None:
        skip_or_fail("no browser: apt-get install chromium chromium-driver")
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in (*CHROME_ARGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(arg)
    service = Service(executable_path=driver_path, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=opts, service=service)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _slow_stack(make_settings: Callable[..., SettingsEnv], start_api: Callable[..., ApiServer],
                worker_process: Callable[..., WorkerProcess], delay_ms: int) -> ApiServer:
    env = make_settings(isolated=True, extractor=FAULTY)
    api = start_api(env)
    worker_process(env, concurrency=1, extra_env={
        "PYTHONPATH": str(TESTS_DIR), "JOBGRID_TEST_DELAY_MS": str(delay_ms)})
    return api


def _showcase_texts(n: int) -> list[str]:
    """Mostly complete invoices; one without a total (an empty cell), one refused (a failed
    row), one whose two total labels disagree (a low-confidence cell)."""
    texts = [invoice_text(i) for i in range(n)]
    texts[3] = "ACME Corp\nInvoice No: INV-1003\nDate: 2024-09-04\nThank you for your order.\n"
    texts[7] = "PERMANENT-FAIL: a scanned page the extractor refuses\n"
    # "Total" and "Amount due" both name the total field and disagree: a reading in doubt
    texts[9] = "Invoice No: INV-1009\nDate: 2024-09-10\nTotal: 109.50\nAmount due: 99.00\n"
    return texts


def _wait(driver: Any, condition: Callable[[Any], Any], timeout: float, what: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message=what)


def _login(driver: Any, base: str, key: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + "/dashboard")
    assert "/dashboard/login" in driver.current_url
    driver.find_element(By.ID, "api_key").send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _wait(driver, lambda d: d.current_url.rstrip("/").endswith("/dashboard"), 10, "login")


def _events_served(api: ApiServer, job_id: str) -> bool:
    """Whether the API has ``/events`` (the page must use it then, and poll otherwise)."""
    with requests.get(f"{api.url}/v1/jobs/{job_id}/events", headers={"Api-Key": API_KEY_A},
                      stream=True, timeout=10) as resp:
        return resp.status_code == 200 and resp.headers.get("Content-Type", "").startswith(
            "text/event-stream")


def _full_page_screenshot(driver: Any, path: Path) -> None:
    """The whole page, not just the viewport (Chromium's DevTools capture, clipped)."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.stat().st_size > 10_000, "the screenshot looks empty"


@pytest.mark.browser
def test_job_page_goes_live_to_100_and_shows_the_grid(
    browser: Any,
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    api = _slow_stack(make_settings, start_api, worker_process, delay_ms=300)
    _login(browser, api.url, API_KEY_A)
    cookie = browser.get_cookie("jobgrid_dashboard_key")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/dashboard"

    n = 14
    body = job_body(n, name="Q4 Invoice Run", texts=_showcase_texts(n),
                    metadata={"batch_id": "batch_001"})
    job = api.client(API_KEY_A).submit(body)
    browser.get(api.url + f"/dashboard/jobs/{job['id']}")
    assert API_KEY_A not in browser.current_url
    browser.execute_script("window.__sameDocument = true;")
    started_at = int(browser.find_element(By.ID, "progress-text").text)
    mode = _wait(browser, lambda d: d.find_element(By.ID, "live-mode").text
                 if d.find_element(By.ID, "live-mode").text.startswith("live") else False, 15,
                 "the page never went live")
    assert mode == ("live" if _events_served(api, job["id"]) else "live (polling)")

    _wait(browser, lambda d: d.find_element(By.ID, "progress-text").text == "100", 60,
          "the page never showed 100 %")
    _wait(browser, lambda d: d.find_element(By.ID, "status-badge")
          .get_attribute("data-status") == "completed", 10,
          "the badge never said completed")
    assert browser.execute_script("return window.__sameDocument === true;"), "page reloaded"
    assert started_at < 100, "the job finished before the page could watch it"
    assert browser.find_element(By.ID, "live-mode").text == "finished"

    _wait(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, "#grid td.cell-pending")
          and len(d.find_elements(By.CSS_SELECTOR, "#grid tbody tr")) == n, 15,
          "the grid did not fill in")
    rows = browser.find_elements(By.CSS_SELECTOR, "#grid tbody tr")
    assert "INV-1000" in rows[0].text and "100.5" in rows[0].text
    assert rows[3].find_elements(By.CSS_SELECTOR, "td.cell-empty"), "empty cell not greyed"
    assert "row-failed" in rows[7].get_attribute("class")
    assert rows[9].find_elements(By.CSS_SELECTOR, "td.cell-low"), "low confidence not marked"
    assert browser.find_element(By.ID, "docs-failed").text == "1"
    assert not browser.find_element(By.ID, "warnings-card").get_attribute("hidden")

    csv_text = browser.execute_async_script(
        "const done = arguments[0];"
        f"fetch('/dashboard/jobs/{job['id']}/results.csv').then(r => r.text()).then(done);")
    assert csv_text.startswith("index,filename,status,invoice_number,total,issue_date\r\n")
    assert csv_text.count("\r\n") == n + 1

    shot = tmp_path / "dashboard.png"
    _full_page_screenshot(browser, shot)
    if os.environ.get("JOBGRID_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS_PNG)


@pytest.mark.browser
def test_foreign_job_is_a_404_page_and_logout_forgets_the_key(
    browser: Any, api_server: ApiServer,
) -> None:
    from selenium.webdriver.common.by import By

    foreign = api_server.client(API_KEY_B).submit(job_body(1, name="org b's job"))
    _login(browser, api_server.url, API_KEY_A)
    browser.get(api_server.url + f"/dashboard/jobs/{foreign['id']}")
    assert browser.find_element(By.CSS_SELECTOR, ".error-status").text == "404"
    assert "org b's job" not in browser.page_source

    browser.get(api_server.url + "/dashboard")
    browser.find_element(By.CSS_SELECTOR, ".account button[type=submit]").click()
    _wait(browser, lambda d: "/dashboard/login" in d.current_url, 10, "logout")
    assert browser.get_cookie("jobgrid_dashboard_key") is None
    browser.get(api_server.url + f"/dashboard/jobs/{foreign['id']}")
    assert "/dashboard/login" in browser.current_url


# ----------------------------------------------------------------- no browser needed
def _session(base: str, key: str = API_KEY_A) -> requests.Session:
    s = requests.Session()
    resp = s.post(base + "/dashboard/login", data={"api_key": key, "next": "/dashboard"},
                  headers={"Origin": base}, allow_redirects=False)
    assert resp.status_code == 303, resp.text
    return s


def test_pages_escape_everything_and_are_locked_down(api_server: ApiServer) -> None:
    evil = "<script>alert('x')</script>"
    job = api_server.client().submit(job_body(1, name=evil, metadata={"k": evil}))
    s = _session(api_server.url)
    page = s.get(api_server.url + f"/dashboard/jobs/{job['id']}")
    assert page.status_code == 200
    assert evil not in page.text and "&lt;script&gt;" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    listing = s.get(api_server.url + "/dashboard")
    assert evil not in listing.text


def test_login_rejects_bad_keys_cross_site_posts_and_open_redirects(
    api_server: ApiServer,
) -> None:
    base = api_server.url
    bad = requests.post(base + "/dashboard/login", data={"api_key": "nope"},
                        headers={"Origin": base}, allow_redirects=False)
    assert bad.status_code == 401 and "not valid" in bad.text
    assert "Set-Cookie" not in bad.headers
    cross = requests.post(base + "/dashboard/login", data={"api_key": API_KEY_A},
                          headers={"Origin": "https://evil.example"}, allow_redirects=False)
    assert cross.status_code == 403 and "Set-Cookie" not in cross.headers
    away = requests.post(base + "/dashboard/login",
                         data={"api_key": API_KEY_A, "next": "//evil.example/x"},
                         headers={"Origin": base}, allow_redirects=False)
    assert away.status_code == 303 and away.headers["Location"] == "/dashboard"
    cookie = away.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # plain http here; https requests get Secure
    anonymous = requests.get(base + "/dashboard/jobs/x", allow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["Location"].startswith("/dashboard/login?next=")


def test_csv_download_needs_the_cookie_and_matches_the_api(api_server: ApiServer) -> None:
    client = api_server.client()
    job = client.submit(job_body(2))
    s = _session(api_server.url)
    via_dashboard = s.get(api_server.url + f"/dashboard/jobs/{job['id']}/results.csv")
    via_api = client.get(f"/v1/jobs/{job['id']}/results", params={"format": "csv"})
    assert via_dashboard.status_code == 200
    assert via_dashboard.headers["Content-Type"].startswith("text/csv")
    dash_lines, api_lines = via_dashboard.text.split("\r\n"), via_api.text.split("\r\n")
    assert dash_lines[0] == api_lines[0] and len(dash_lines) == len(api_lines) == 4
    anonymous = requests.get(api_server.url + f"/dashboard/jobs/{job['id']}/results.csv",
                             allow_redirects=False)
    assert anonymous.status_code == 303
