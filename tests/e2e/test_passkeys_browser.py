"""Passkeys in a real Chromium with its virtual authenticator (CTAP2, internal, resident
keys, user verification): a beheerder switches them on, a person adds one and signs in
with it alone, removes it; a beheerder's unlink ends both the app and the passkey."""

import pytest
from playwright.sync_api import expect

from mfa.models import Passkey
from tests.e2e.helpers import Authenticator, context_as, log_in, log_out
from tests.helpers import PASSWORD


@pytest.fixture
def passkey_site(settings, live_server):
    settings.MFA_WEBAUTHN_RP_ID = "localhost"
    settings.MFA_WEBAUTHN_ORIGINS = [live_server.url]
    assert live_server.url.startswith("http://localhost:")  # an IP is no RP ID


def virtual_authenticator(page):
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return cdp


def switch_passkeys_on(browser, live_server, admin_user):
    context, page = context_as(browser, live_server, admin_user, locale="nl-NL")
    page.goto("/mfa/settings/")
    page.get_by_label("Passkeys toestaan").check()
    page.locator("#passkeys-heading").locator("..").get_by_role("button", name="Opslaan").click()
    expect(page.get_by_text("De MFA-instellingen zijn opgeslagen.")).to_be_visible()
    context.close()


def confirm_it_is_me(page, app):
    """The padlock page's one confirmation, before any factor changes."""
    page.get_by_test_id("padlock").click()
    step_up = page.get_by_role("region", name="Bevestig dat u het bent")
    step_up.get_by_label("Wachtwoord").fill(PASSWORD)
    step_up.get_by_label("Toegangscode").fill(app.code())
    step_up.get_by_role("button", name="Doorgaan").click()


def add_passkey(page, app, name):
    confirm_it_is_me(page, app)
    page.get_by_label("Naam van de passkey").fill(name)
    page.get_by_role("button", name="Passkey of beveiligingssleutel toevoegen").click()
    expect(page.get_by_text(f"De passkey {name} is toegevoegd.")).to_be_visible()


def test_a_person_adds_a_passkey_and_signs_in_with_it_alone(
    browser, live_server, passkey_site, admin_user, linked_user, secret, clock, page
):
    switch_passkeys_on(browser, live_server, admin_user)
    virtual_authenticator(page)
    app = Authenticator(secret, clock)
    log_in(page, "rdewit", PASSWORD, code=app.code())
    add_passkey(page, app, "Laptop")
    assert Passkey.objects.get().name == "Laptop"

    log_out(page)
    page.goto("/login/")
    page.get_by_role("button", name="Inloggen met passkey").click()
    expect(page.get_by_test_id("current-user")).to_have_text("Rob de Wit")

    # removing it asks for password and a current code again: once, for the page
    confirm_it_is_me(page, app)
    page.get_by_role("button", name="Laptop verwijderen").click()
    expect(page.get_by_text("De passkey Laptop is verwijderd.")).to_be_visible()
    assert not Passkey.objects.exists()


def test_after_the_beheerders_unlink_neither_app_nor_passkey_gets_in(
    browser, live_server, passkey_site, admin_user, linked_user, secret, clock, page
):
    switch_passkeys_on(browser, live_server, admin_user)
    virtual_authenticator(page)
    app = Authenticator(secret, clock)
    log_in(page, "rdewit", PASSWORD, code=app.code())
    add_passkey(page, app, "Telefoon")
    log_out(page)

    beheerder, admin_page = context_as(browser, live_server, admin_user, locale="nl-NL")
    admin_page.goto(f"/mfa/persons/{linked_user.person.pk}/unlink/")
    expect(admin_page.get_by_text("Telefoon (passkey")).to_be_visible()
    admin_page.get_by_role("button", name="Ontkoppelen").click()
    beheerder.close()

    page.goto("/login/")
    page.get_by_role("button", name="Inloggen met passkey").click()
    expect(page.locator("[data-passkey-error]")).to_contain_text("Inloggen mislukt")
    log_in(page, "rdewit", PASSWORD, code=app.code())
    expect(page.get_by_test_id("current-user")).to_have_text("Rob de Wit")  # before go-live:
    # the password alone; the access code of the unlinked app is not needed any more
