"""Every main page on a phone (390 x 844) in a real Chromium: the whole page fits, the
padlock and Uitloggen are in reach, the menu folds away, wide tables scroll in place."""

from playwright.sync_api import expect

from tests.e2e.helpers import PHONE, context_as


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
