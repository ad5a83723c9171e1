"""A person who forgot their password sets a new one through the mailed link, confirms it
with the access code of their app (never without), and logs in with it afterwards. The
link is read from the mail the outbox queued."""

import re
from urllib.parse import urlsplit

from playwright.sync_api import expect

from outbox.models import OutboxMail
from tests.e2e.helpers import Authenticator, axe_violations, log_in

NEW = "Violet-lantern-harbour-7"


def queued_link(to):
    body = OutboxMail.objects.filter(to=to).latest("queued_at", "pk").body
    match = re.search(r"https?://\S+/password/reset/\S+/", body)
    assert match, body
    return match.group(0)


def test_a_person_resets_a_forgotten_password_by_mail(page, linked_user, secret, clock):
    app = Authenticator(secret, clock)
    page.goto("/login/")
    page.get_by_role("link", name="Wachtwoord vergeten").click()
    assert axe_violations(page) == []
    page.get_by_label("Gebruikersnaam of e-mailadres").fill("rdewit")
    page.get_by_role("button", name="Link versturen").click()
    expect(page.get_by_test_id("password-asked")).to_be_visible()

    link = queued_link("rob@example.org")
    page.goto(urlsplit(link).path)  # SITE_URL is not the test server's address
    assert "/set/" in page.url  # the token left the address bar
    assert axe_violations(page) == []
    page.get_by_label("Nieuw wachtwoord*", exact=True).fill(NEW)
    page.get_by_label("Nieuw wachtwoord bevestigen*", exact=True).fill(NEW)
    page.get_by_role("button", name="Wachtwoord instellen").click()
    expect(page.get_by_text("Dit veld is verplicht.")).to_be_visible()  # no code: refused

    page.get_by_label("Nieuw wachtwoord*", exact=True).fill(NEW)
    page.get_by_label("Nieuw wachtwoord bevestigen*", exact=True).fill(NEW)
    page.get_by_label("Toegangscode").fill(app.code())
    page.get_by_role("button", name="Wachtwoord instellen").click()
    expect(page.get_by_text("Uw wachtwoord is ingesteld.")).to_be_visible()
    expect(page.get_by_test_id("current-user")).to_have_count(0)  # not logged in by the link

    page.goto(urlsplit(link).path)
    expect(page.get_by_test_id("link-void")).to_be_visible()  # used once

    log_in(page, "rdewit", NEW, code=app.code())
    expect(page.get_by_test_id("current-user")).to_have_text("Rob de Wit")
