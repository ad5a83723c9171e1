"""Sessies en browsers in a real browser: a person signed in twice ends the other
session; a beheerder ends them all; unlinking MFA ends them; a new browser is
announced by mail. Every code comes from oathtool."""

import pytest
from django.core import mail
from playwright.sync_api import expect

from mfa import totp
from tests.e2e import test_admin_flows_browser as admin_flows
from tests.e2e.helpers import Authenticator, log_in
from tests.helpers import PASSWORD, link

# The beheerder's app and her signed-in page, as in the admin flows.
admin_app = admin_flows.admin_app
admin_page = admin_flows.admin_page
open_user_tab, unlink = admin_flows.open_user_tab, admin_flows.unlink

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def rob_app(linked_user, clock):
    """Rob's authenticator (his account linked with it)."""
    key = totp.new_secret()
    linked_user.mfa_devices.all().delete()
    link(linked_user, clock.now(), secret=key)
    app = Authenticator(key, clock)
    app.last_step = totp.step_at(clock.now())
    return app


@pytest.fixture
def browsers(browser, live_server):
    """Two browsers of Rob's: a laptop with Firefox, an iPhone."""
    contexts = [
        browser.new_context(base_url=live_server.url, locale="nl-NL", user_agent=agent)
        for agent in (FIREFOX, IPHONE)
    ]
    pages = []
    for context in contexts:
        page = context.new_page()
        page.set_default_timeout(15_000)
        pages.append(page)
    yield pages
    for context in contexts:
        context.close()


def signed_in_twice(browsers, rob_app):
    laptop, phone = browsers
    for page in (laptop, phone):
        log_in(page, "rdewit", PASSWORD, code=rob_app.code())
        expect(page.get_by_test_id("current-user")).to_have_text("Rob de Wit")
    return laptop, phone


def test_two_sessions_end_the_other(browsers, rob_app):
    laptop, phone = signed_in_twice(browsers, rob_app)
    laptop.get_by_test_id("padlock").click()
    laptop.get_by_role("link", name="Sessies en browsers").click()
    rows = laptop.get_by_test_id("sessions").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(laptop.get_by_test_id("this-session")).to_contain_text("Firefox 128 · Windows 10")
    other = rows.filter(has_text="Mobile Safari 17 · iOS 17")
    other.get_by_role("link", name="Beëindigen").click()
    laptop.get_by_label("Wachtwoord").fill(PASSWORD)
    laptop.get_by_label("Toegangscode").fill(rob_app.code())
    laptop.get_by_test_id("session-end-submit").click()
    expect(laptop.get_by_text("De sessie is beëindigd.")).to_be_visible()
    expect(rows).to_have_count(1)
    phone.goto("/")
    expect(phone.get_by_role("button", name="Inloggen", exact=True)).to_be_visible()
    laptop.goto("/")
    expect(laptop.get_by_test_id("current-user")).to_have_text("Rob de Wit")


def test_the_beheerder_ends_them(browsers, rob_app, admin_page):
    laptop, phone = signed_in_twice(browsers, rob_app)
    open_user_tab(admin_page, "Rob de Wit")
    expect(admin_page.get_by_test_id("open-sessions").locator("tbody tr")).to_have_count(2)
    admin_page.get_by_role("button", name="Alle sessies beëindigen").click()
    expect(admin_page.get_by_text("Alle sessies van Rob de Wit zijn beëindigd.")).to_be_visible()
    for page in (laptop, phone):
        page.goto("/")
        expect(page.get_by_role("button", name="Inloggen", exact=True)).to_be_visible()
    assert any("al uw sessies beëindigd" in message.body for message in mail.outbox)


def test_unlink_ends_them(browsers, rob_app, admin_page):
    laptop, phone = signed_in_twice(browsers, rob_app)
    unlink(admin_page, "Rob de Wit")
    for page in (laptop, phone):
        page.goto("/")
        expect(page.get_by_role("button", name="Inloggen", exact=True)).to_be_visible()


def test_a_new_browser_gets_a_mail_a_marked_one_not(browsers, rob_app):
    laptop, _phone = browsers
    mail.outbox.clear()
    log_in(laptop, "rdewit", PASSWORD, code=rob_app.code())
    expect(laptop.get_by_test_id("current-user")).to_have_text("Rob de Wit")
    [message] = mail.outbox
    assert message.to == ["rob@example.org"]
    assert "Firefox 128 · Windows 10" in message.body and "/mfa/sessions/" in message.body
    laptop.get_by_role("button", name="Uitloggen").click()
    log_in(laptop, "rdewit", PASSWORD, code=rob_app.code())  # the same browser: marked now
    expect(laptop.get_by_test_id("current-user")).to_have_text("Rob de Wit")
    assert len(mail.outbox) == 1
