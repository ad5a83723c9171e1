"""Every main page in a real Chromium: WCAG 2.1 AA by axe-core in Dutch and English, and
a phone (390 x 844) that shows the whole page with the padlock and Uitloggen in reach."""

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from tests.helpers import login_with_code

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return result.violations.map(v => `${v.id}: ${v.nodes.map(n => n.target.join(" ")).join(", ")}`);
}"""
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def session_for(user):
    """A session cookie of `user`, logged in with an access code, for a browser context."""
    client = login_with_code(Client(), user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def context_as(browser, live_server, user, **options):
    context = browser.new_context(base_url=live_server.url, **options)
    if user is not None:
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": session_for(user),
                    "url": live_server.url,
                }
            ]
        )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def axe_violations(page):
    page.evaluate(AXE.read_text())
    return page.evaluate(RUN_AXE, WCAG_AA)


@pytest.fixture
def pages(backoffice, system_user):
    """The beheerder's pages, the login page, and the padlock of someone without MFA."""
    return [("login", "/login/", None), *[(name, url, "admin") for name, url in backoffice]]


@pytest.mark.parametrize("locale", ["nl-NL", "en-GB"])
def test_every_main_page_passes_axe_wcag_2_1_aa(browser, live_server, admin_user, pages, locale):
    from accounts.models import User

    users = {"admin": admin_user, None: None}
    problems = {}
    for user_key in ("admin", None):
        context, page = context_as(browser, live_server, users[user_key], locale=locale)
        for name, url, who in pages:
            if who == user_key:
                page.goto(url)
                if found := axe_violations(page):
                    problems[name] = found
        context.close()
    # the padlock of someone who has not linked yet: the QR and the five steps
    astrid = User.objects.get(username="adejong")
    context, page = context_as(browser, live_server, astrid, locale=locale)
    page.goto("/mfa/")
    expect(page.get_by_test_id("qr")).to_be_visible()
    if found := axe_violations(page):
        problems["padlock, linking"] = found
    context.close()
    assert not problems


def test_every_main_page_fits_a_phone(browser, live_server, admin_user, pages):
    context, page = context_as(browser, live_server, admin_user, locale="nl-NL", **PHONE)
    problems = {}
    for name, url, who in pages:
        if who != "admin":
            continue
        page.goto(url)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 0:
            problems[name] = f"{overflow} px wider than the screen"
        for control in (
            page.get_by_test_id("padlock"),
            page.get_by_role("button", name="Uitloggen"),
        ):
            expect(control).to_be_in_viewport()
            control.click(trial=True)  # visible, stable, enabled and not covered
    assert not problems
    # the menu folds away behind Bootstrap's own toggler, and opens
    page.goto("/")
    menu = page.get_by_role("navigation", name="Hoofdmenu")
    expect(menu.get_by_role("button", name="Relatiebeheer")).to_be_hidden()
    menu.get_by_role("button", name="Menu").click()
    menu.get_by_role("button", name="Relatiebeheer").click()
    menu.get_by_role("link", name="Personen").click()
    expect(page.get_by_role("heading", name="Personen")).to_be_visible()
    context.close()


def test_the_login_page_fits_a_phone(browser, live_server, db):
    context, page = context_as(browser, live_server, None, locale="nl-NL", **PHONE)
    page.goto("/login/")
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    page.get_by_role("button", name="Inloggen").click(trial=True)
    context.close()


def test_wide_tables_scroll_in_their_own_box(browser, live_server, admin_user, pages):
    context, page = context_as(browser, live_server, admin_user, locale="nl-NL", **PHONE)
    page.goto("/reports/rechtenstructuur/personen-met-mfa/")
    box = page.locator(".table-scroll").first
    assert box.evaluate("element => element.scrollWidth > element.clientWidth")
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    context.close()
