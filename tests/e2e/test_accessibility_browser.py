"""Every main page in a real Chromium, checked by axe-core for WCAG 2.1 AA, in Dutch and
in English."""

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import axe_violations, confirm_session, context_as


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
    # the padlock of someone who has just confirmed: every action, and a new set of codes
    context, page = context_as(browser, live_server, admin_user, locale=locale)
    confirm_session(context)
    page.goto("/mfa/")
    if found := axe_violations(page):
        problems["padlock, confirmed"] = found
    page.locator("form[action='/mfa/recovery-codes/'] button").click()
    expect(page.get_by_test_id("recovery-codes")).to_be_visible()
    if found := axe_violations(page):
        problems["recovery codes"] = found
    context.close()
    assert not problems
