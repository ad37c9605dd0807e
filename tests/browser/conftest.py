"""Browser fixtures: Playwright driving Debian's /usr/bin/chromium against a live server.

Each test gets its own app on the per-test database (`database_url`, `clock` from
tests/conftest.py) with CSRF on, served by werkzeug on a free port in a daemon thread, and a
fresh browser context. Screenshots go to test-artifacts/browser/<test>-<step>.png; a failing
test also leaves <test>-failed.png. Requests to any other host are blocked and fail the test:
the UI must load nothing from the internet.

There is no skip: without /usr/bin/chromium (`make test` installs it) every test here errors.
Never run `playwright install`; the tests use the system browser only.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright
from werkzeug.serving import make_server

from engine import Engine, FixedClock
from engine.demo import DEMO_PASSWORD
from webui import create_app

from ..factories import prepare_engine

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 15_000


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)  # read by the `page` fixture for a failure screenshot
    return report


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: the browser tests need Debian's chromium (`make test` installs it)")
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def app_for_test(database_url: str, clock: FixedClock, tmp_path: Path) -> Flask:
    """The app as the live server runs it, on the test's database, clock and folders, CSRF on."""
    return create_app({
        "SECRET_KEY": "test", "WTF_CSRF_ENABLED": True, "DATABASE_URL": database_url,
        "EVIDENCE_DIR": str(tmp_path / "evidence"), "IMPORT_DIR": str(tmp_path / "imports"), "CLOCK": clock,
    })


@pytest.fixture
def live_app(database_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[Flask]:
    app = app_for_test(database_url, clock, tmp_path)
    prepare_engine(app.extensions["chengxin_engine"], password=DEMO_PASSWORD)
    yield app
    app.extensions["chengxin_engine"].dispose()


@pytest.fixture
def live_engine(live_app: Flask) -> Engine:
    """The live server's engine, for putting clues into known states (tests.factories.ClueDriver)."""
    return live_app.extensions["chengxin_engine"]


@pytest.fixture
def live_server(live_app: Flask) -> Iterator[str]:
    """The base URL of the app served on 127.0.0.1 at a free port."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def artifact_name(node_name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", node_name).strip("-")


@pytest.fixture
def viewport() -> dict[str, int]:
    """Override (or parametrize indirectly) to run a test at another size."""
    return DESKTOP


@pytest.fixture
def context(browser: Browser, live_server: str, viewport: dict[str, int]) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=live_server, viewport=viewport, locale="zh-CN",
                                  timezone_id="Asia/Shanghai", accept_downloads=True,
                                  is_mobile=viewport["width"] < 768, has_touch=viewport["width"] < 768)
    context.set_default_timeout(TIMEOUT_MS)
    outside: list[str] = []

    def block_outside(route: Route) -> None:
        if route.request.url.startswith(live_server) or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", block_outside)
    yield context
    context.close()
    assert outside == [], f"the page tried to load from outside the server: {outside}"


@pytest.fixture
def page(context: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The console's "Failed to load resource: ... status of 422" lines are HTTP statuses the tests check.
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"{artifact_name(request.node.name)}-failed.png", full_page=True)
    page.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


@pytest.fixture
def shoot(page: Page, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """shoot("step") saves a full-page screenshot as test-artifacts/browser/<test>-<step>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def screenshot(step: str) -> Path:
        path = ARTIFACTS / f"{artifact_name(request.node.name)}-{step}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return screenshot


class SignIn:
    def __init__(self, page: Page) -> None:
        self.page = page

    def __call__(self, username: str, password: str = DEMO_PASSWORD) -> None:
        self.page.goto("/auth/login")
        self.page.locator("#username").fill(username)
        self.page.locator("#password").fill(password)
        self.page.locator("form button[type=submit]").click()
        self.page.wait_for_url(re.compile(r"/inbox/"))


def sign_out(page: Page) -> None:
    """退出登录 from the user menu of the navigation."""
    page.get_by_test_id("whoami").click()
    page.get_by_role("button", name="退出").click()


def open_menu_item(page: Page, menu: str, item: str | re.Pattern[str]) -> None:
    """A page from one of the navigation's menus (webui/nav.py: clues, supervision, processes)."""
    page.locator(f'nav [data-menu="{menu}"] .dropdown-toggle').click()
    page.locator(f'nav [data-menu="{menu}"] .dropdown-menu').get_by_role("link", name=item).click()


@pytest.fixture
def sign_in(page: Page) -> SignIn:
    """sign_in("unit") logs in through the login page and waits for the inbox."""
    return SignIn(page)
