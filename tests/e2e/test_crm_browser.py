import re

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in, log_out


def test_admin_creates_a_person_with_system_user_who_then_logs_in(page, admin_user):
    log_in(page, "beheerder", PASSWORD)
    expect(page.get_by_test_id("current-user")).to_have_text("Sabrina Boetzkes")

    menu = page.get_by_role("navigation", name="Hoofdmenu")
    menu.get_by_role("button", name="Relatiebeheer").click()
    menu.get_by_role("link", name="Personen").click()
    page.get_by_role("link", name="+ Toevoegen").click()
    page.get_by_label("Voornaam").fill("Astrid")
    page.get_by_label("Tussenvoegsel").fill("de")
    page.get_by_label("Achternaam").fill("Jong")
    page.get_by_label("Voorkeur email").fill("astrid@example.org")
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_role("heading", name="Astrid de Jong")).to_be_visible()

    page.get_by_role("link", name="Gebruikersgegevens").click()
    page.get_by_role("link", name="Systeemgebruiker aanmaken").click()
    page.get_by_label("Gebruikersnaam").fill("adejong")
    page.get_by_label("Wachtwoord*", exact=True).fill("Een-lang-wachtwoord-7")
    page.get_by_label("Wachtwoord (nogmaals)").fill("Een-lang-wachtwoord-7")
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_test_id("username")).to_have_text("adejong")

    log_out(page)
    expect(page).to_have_url(re.compile(r"/login/$"))
    log_in(page, "adejong", "Een-lang-wachtwoord-7")
    expect(page.get_by_test_id("current-user")).to_have_text("Astrid de Jong")


def test_wrong_password_shows_the_generic_error(page, system_user):
    log_in(page, "rdewit", "not-the-password")
    expect(page.get_by_test_id("login-error")).to_contain_text("Inloggen mislukt")
