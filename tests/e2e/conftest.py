import shutil

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API keeps an event loop running in the test thread while
    # it lives; the tests' own ORM calls next to it are synchronous and safe.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="nl-NL")
    page = context.new_page()
    page.set_default_timeout(15_000)
    external = []
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith(live_server.url) else external.append(request.url)
        ),
    )
    yield page
    context.close()
    assert not external, f"pages made requests outside the backoffice: {external}"


@pytest.fixture
def clock(monkeypatch):
    """The live server's clock, for tests that must cross a TOTP step (see ServerClock)."""
    from livits import clock as server_clock
    from tests.e2e.helpers import ServerClock

    moved = ServerClock()
    monkeypatch.setattr(server_clock, "now", moved.now)
    return moved


@pytest.fixture
def pages(backoffice, system_user):
    """The beheerder's pages, the login page (nobody logged in): (name, url, who)."""
    return [("login", "/login/", None), *[(name, url, "admin") for name, url in backoffice]]
