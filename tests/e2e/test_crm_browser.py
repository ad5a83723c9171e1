import re

from playwright.sync_api import expect

from tests.e2e.helpers import create_person_with_system_user, log_in, log_out
from tests.helpers import PASSWORD


def test_admin_creates_a_person_with_system_user_who_then_logs_in(page, admin_user):
    log_in(page, "beheerder", PASSWORD)
    expect(page.get_by_test_id("current-user")).to_have_text("Sabrina Boetzkes")

    create_person_with_system_user(
        page,
        first="Astrid",
        infix="de",
        last="Jong",
        username="adejong",
        password="Een-lang-wachtwoord-7",
    )
    expect(page.get_by_role("heading", name="Astrid de Jong")).to_be_visible()

    log_out(page)
    expect(page).to_have_url(re.compile(r"/login/$"))
    log_in(page, "adejong", "Een-lang-wachtwoord-7")
    expect(page.get_by_test_id("current-user")).to_have_text("Astrid de Jong")


def test_wrong_password_shows_the_generic_error(page, system_user):
    log_in(page, "rdewit", "not-the-password")
    expect(page.get_by_test_id("login-error")).to_contain_text("Inloggen mislukt")
