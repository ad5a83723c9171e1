"""Manual chapter 4 and sections 2.4, 2.5 and 3.2 in a real browser: a beheerder
gives temporary access through their own app, then the person links their own.
Every code comes from oathtool."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from mfa import devices, totp
from mfa.models import Device, MfaSettings
from tests.e2e.helpers import (
    Authenticator,
    create_person_with_system_user,
    log_in,
    log_out,
    oathtool_code,
    open_menu_item,
    shown_key,
)
from tests.helpers import PASSWORD

LINK = "Koppel de MFA-code voor deze gebruiker"
UNLINK = "Ontkoppel de huidige MFA-code voor deze gebruiker"


@pytest.fixture
def admin_app(admin_user, clock):
    """The beheerder's own authenticator, linked to the beheerder's account."""
    app = Authenticator(totp.new_secret(), clock)
    now = clock.now()
    devices.device_link(
        user=admin_user,
        secret=app.key,
        code=oathtool_code(app.key, totp.step_at(now)),
        by=admin_user,
        ip=None,
        now=now,
    )
    app.last_step = totp.step_at(now)
    return app


@pytest.fixture
def admin_page(browser, live_server, admin_app):
    context = browser.new_context(base_url=live_server.url, locale="nl-NL")
    page = context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, "beheerder", PASSWORD, code=admin_app.code())
    expect(page.get_by_test_id("current-user")).to_have_text("Sabrina Boetzkes")
    yield page
    context.close()


def open_user_tab(page, name):
    open_menu_item(page, "Relatiebeheer", "Personen")
    page.get_by_role("searchbox").fill(name.split()[0])
    page.get_by_role("button", name="Zoeken").click()
    page.get_by_role("link", name=name).click()
    page.get_by_role("link", name="Gebruikersgegevens").click()


def unlink(admin_page, name):
    open_user_tab(admin_page, name)
    admin_page.get_by_role("link", name=UNLINK).click()
    admin_page.get_by_role("button", name="Ontkoppelen").click()
    expect(admin_page.get_by_text("is ontkoppeld")).to_be_visible()
    expect(admin_page.get_by_role("link", name=LINK)).to_be_visible()
    expect(admin_page.get_by_role("link", name=UNLINK)).to_have_count(0)


def link_with_admin_app(admin_page, name, clock):
    """The beheerder scans the person's personal QR with their own app (manual 4.2)."""
    open_user_tab(admin_page, name)
    admin_page.get_by_role("link", name=LINK).click()
    temporary = Authenticator(shown_key(admin_page), clock)
    admin_page.get_by_label("Vul hier de toegangscode in").fill(temporary.code())
    admin_page.get_by_role("button", name="Opslaan").click()
    expect(admin_page.get_by_text("MFA is gekoppeld via uw app")).to_be_visible()
    expect(admin_page.locator("#flag-mfa")).to_be_checked()
    expect(admin_page.get_by_text("via beheerder Sabrina Boetzkes")).to_be_visible()
    return temporary


def link_own_app(page, clock):
    """Manual 2.1 on the padlock page, by the person who is logged in."""
    page.get_by_test_id("padlock").click()
    own = Authenticator(shown_key(page), clock)
    page.get_by_label("Vul hier de toegangscode in").fill(own.code())
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_text("Uw apparaat is succesvol gekoppeld.")).to_be_visible()
    return own


def expect_logged_in(page, name):
    expect(page.get_by_test_id("current-user")).to_have_text(name)


def expect_refused(page, text="Inloggen mislukt"):
    expect(page.get_by_test_id("login-error")).to_contain_text(text)


def test_lost_phone(page, admin_page, linked_user, clock):
    """2.4, 4.1-4.3, 2.5: temporary access via the beheerder, then the own app again."""
    unlink(admin_page, "Rob de Wit")  # 4.1
    temporary = link_with_admin_app(admin_page, "Rob de Wit", clock)  # 4.2

    log_in(page, "rdewit", PASSWORD, code=temporary.code())  # logs in with the admin's code
    expect_logged_in(page, "Rob de Wit")
    log_out(page)
    log_in(page, "rdewit", PASSWORD, code=temporary.code())  # 2.5: next time again via the admin
    expect_logged_in(page, "Rob de Wit")

    unlink(admin_page, "Rob de Wit")  # 4.3
    own = link_own_app(page, clock)  # still logged in: links the own app on the padlock page
    log_out(page)
    log_in(page, "rdewit", PASSWORD, code=own.code())
    expect_logged_in(page, "Rob de Wit")
    log_out(page)
    log_in(page, "rdewit", PASSWORD, code=temporary.code())  # the admin's code is dead
    expect_refused(page)
    assert [device.via_admin for device in Device.objects.filter(user=linked_user)] == [False]


def test_new_user_after_go_live(page, admin_page, clock):
    """3.2, 4.2, 4.3: a new person cannot log in until a beheerder links MFA."""
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": timezone.now()})
    create_person_with_system_user(
        admin_page, first="Nina", last="Nieuw", username="nnieuw", password="Een-lang-wachtwoord-7"
    )

    log_in(page, "nnieuw", "Een-lang-wachtwoord-7")
    expect_refused(page, "Vraag een beheerder om MFA voor u te koppelen")

    temporary = link_with_admin_app(admin_page, "Nina Nieuw", clock)
    log_in(page, "nnieuw", "Een-lang-wachtwoord-7", code=temporary.code())
    expect_logged_in(page, "Nina Nieuw")

    unlink(admin_page, "Nina Nieuw")
    own = link_own_app(page, clock)  # still logged in through the admin's code
    log_out(page)
    log_in(page, "nnieuw", "Een-lang-wachtwoord-7", code=own.code())
    expect_logged_in(page, "Nina Nieuw")
