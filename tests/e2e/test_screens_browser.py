"""What a new user tripped over (issue 22), each at the width it was seen (desktop
1280 x 800, phone 390 x 844), in Dutch and English where text is involved; widths are
measured, and axe-core checks every page met on the way."""

import re
from datetime import UTC, datetime

import pytest
from django.conf import settings
from playwright.sync_api import expect

from audit.models import AuditEvent
from livits import clock as server_clock
from mfa import devices, totp
from mfa.models import MfaSettings, Passkey, RecoveryCode, TrustedLocation
from tests.e2e.helpers import PHONE, Authenticator, axe_violations, confirm_session, context_as
from tests.helpers import PASSWORD, code_at

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
LOCALES = ["nl-NL", "en-GB"]
T = {  # the words a person reads, per language
    "nl-NL": {
        "make_codes": "Herstelcodes maken",
        "done": "Klaar: terug naar multi-factor authentication",
        "shown": "Uw herstelcodes zijn al getoond",
        "action": "Dit adres voert een handeling uit",
        "back": "Terug",
        "confirm": "Bevestig dat u het bent",
        "password": "Wachtwoord",
        "code": "Toegangscode",
        "continue": "Doorgaan",
        "remove": "verwijderen",
        "rename": "Naam wijzigen",
        "renamed": "De naam Werktelefoon is opgeslagen.",
        "once": "Een toegangscode werkt maar één keer: wacht op de volgende code in de app.",
        "next_code": "geef Astrid de Jong de volgende code die uw app toont",
        "locked": r"Probeer het na (\d\d:\d\d:\d\d) opnieuw",
        "tab_locked": "is geblokkeerd tot 25-11-2026 {}",
        "username": "Gebruikersnaam",
        "login": "Inloggen",
        "location_remove": "Kantoor verwijderen",
        "location_confirm": "De vertrouwde locatie Kantoor (203.0.113.0/24) verwijderen?",
        "location_removed": "De vertrouwde locatie Kantoor (203.0.113.0/24) is verwijderd.",
        "remove_button": "Verwijderen",
        "with_passkey": "Met passkey",
        "greeting": "Beste [naam],",
    },
    "en-GB": {
        "make_codes": "Make recovery codes",
        "done": "Done: back to multi-factor authentication",
        "shown": "Your recovery codes have been shown already",
        "action": "This address carries out an action",
        "back": "Back",
        "confirm": "Confirm it is you",
        "password": "Password",
        "code": "Access code",
        "continue": "Continue",
        "remove": "Remove",
        "rename": "Rename",
        "renamed": "The name Werktelefoon has been saved.",
        "once": "An access code works only once: wait for the next code in the app.",
        "next_code": "give Astrid de Jong the next code your app shows",
        "locked": r"Try again after (\d\d:\d\d:\d\d)",
        "tab_locked": "is locked until 25 Nov 2026 {}",
        "username": "Username",
        "login": "Log in",
        "location_remove": "Remove Kantoor",
        "location_confirm": "Remove the trusted location Kantoor (203.0.113.0/24)?",
        "location_removed": "The trusted location Kantoor (203.0.113.0/24) has been removed.",
        "remove_button": "Remove",
        "with_passkey": "With passkey",
        "greeting": "Dear [name],",
    },
}

# Every box that holds a table: it fits, or it scrolls and holds the whole table; the page
# itself never scrolls sideways.
TABLE_BOXES = """() => {
  const page = document.documentElement.scrollWidth - document.documentElement.clientWidth;
  const boxes = [...document.querySelectorAll("table")].map(table => {
    const box = table.parentElement;
    const scrolls = ["auto", "scroll"].includes(getComputedStyle(box).overflowX);
    return {
      table: table.dataset.testid || table.className,
      fits: box.scrollWidth <= box.clientWidth,
      scrolls,
      whole: table.getBoundingClientRect().width <= box.scrollWidth + 1,
    };
  });
  return {page, boxes};
}"""


def table_problems(page):
    measured = page.evaluate(TABLE_BOXES)
    problems = [] if measured["page"] <= 0 else [f"page {measured['page']} px too wide"]
    for box in measured["boxes"]:
        if not box["whole"] or not (box["fits"] or box["scrolls"]):
            problems.append(box)
    return problems


def expect_no_axe(page, name, problems):
    if found := axe_violations(page):
        problems[name] = found


@pytest.fixture
def passkeys_on(db):
    MfaSettings.objects.update_or_create(pk=1, defaults={"passkeys_allowed": True})


# --- 1. Recovery codes: made by POST, a reload shows the same ones -------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_1_a_reload_of_the_recovery_codes_shows_the_same_codes(
    browser, live_server, linked_user, locale
):
    words = T[locale]
    context, page = context_as(browser, live_server, linked_user, locale=locale, **DESKTOP)
    confirm_session(context)
    page.goto("/mfa/")
    page.get_by_role("button", name=words["make_codes"]).click()
    codes = page.get_by_test_id("recovery-codes").get_by_role("listitem").all_inner_texts()
    assert len(codes) == 10
    page.reload()
    assert page.get_by_test_id("recovery-codes").get_by_role("listitem").all_inner_texts() == codes
    assert RecoveryCode.objects.count() == 10
    assert AuditEvent.objects.filter(action=AuditEvent.Action.RECOVERY_MADE).count() == 1
    problems: dict[str, list[str]] = {}
    expect_no_axe(page, "codes", problems)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download (.txt)").click()
    assert codes[0] in download.value.path().read_text()
    page.get_by_role("link", name=words["done"]).click()
    page.goto("/mfa/recovery-codes/")
    expect(page.get_by_test_id("recovery-shown")).to_contain_text(words["shown"])
    assert codes[0] not in page.content()
    expect_no_axe(page, "shown already", problems)
    context.close()
    assert not problems


# --- 2. An action's address opened directly: a page with a way back ------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_2_an_action_opened_directly_shows_a_page_with_a_way_back(
    browser, live_server, linked_user, locale
):
    words = T[locale]
    context, page = context_as(browser, live_server, linked_user, locale=locale, **DESKTOP)
    problems: dict[str, list[str]] = {}
    for url in ("/logout/", "/mfa/step-up/", "/mfa/devices/remove/", "/mfa/passkeys/remove/"):
        response = page.goto(url)
        assert response.status == 405
        expect(page.get_by_role("heading", name=words["action"])).to_be_visible()
        expect_no_axe(page, url, problems)
        page.get_by_role("link", name=words["back"], exact=True).click()
        expect(page.get_by_test_id("current-user")).to_have_text("Rob de Wit")  # still in
    # from a page of the backoffice, Terug goes back there
    page.goto("/mfa/")
    page.evaluate("location.href = '/mfa/step-up/'")
    page.get_by_role("link", name=words["back"], exact=True).click()
    expect(page).to_have_url(re.compile(r"/mfa/$"))
    context.close()
    assert not problems


# --- 3. The padlock page: one confirmation, then each action once --------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_3_the_padlock_page_asks_one_confirmation_then_offers_each_action_once(
    browser, live_server, linked_user, secret, clock, passkeys_on, locale
):
    words = T[locale]
    Passkey.objects.create(user=linked_user, name="Laptop", credential_id="c1", public_key=b"k")
    app = Authenticator(secret, clock)
    context, page = context_as(browser, live_server, linked_user, locale=locale, **DESKTOP)
    page.goto("/mfa/")
    assert page.locator("input[type=password]").count() == 1
    expect(page.get_by_role("button", name=words["make_codes"])).to_have_count(0)
    problems: dict[str, list[str]] = {}
    expect_no_axe(page, "before confirming", problems)
    step_up = page.get_by_role("region", name=words["confirm"])
    step_up.get_by_label(words["password"]).fill(PASSWORD)
    step_up.get_by_label(words["code"]).fill(app.code())
    step_up.get_by_role("button", name=words["continue"]).click()
    expect(page.get_by_role("region", name=words["confirm"])).to_have_count(0)
    assert page.locator("input[type=password]").count() == 0
    expect(page.get_by_role("button", name=words["make_codes"])).to_have_count(1)
    expect(page.get_by_role("button", name=re.compile(words["remove"]))).to_have_count(2)
    # the heading after the device table keeps its distance
    gap = page.evaluate(
        """() => document.querySelector("#passkeys-heading").getBoundingClientRect().top
           - document.querySelector("[data-testid=devices]").getBoundingClientRect().bottom"""
    )
    assert gap >= 16
    expect_no_axe(page, "confirmed", problems)
    assert not table_problems(page)
    page.get_by_role("button", name=re.compile(f"Laptop {words['remove']}|Remove Laptop")).click()
    expect(page.get_by_text("Laptop", exact=False).first).to_be_visible()
    assert not Passkey.objects.exists()
    context.close()
    assert not problems


# --- 4. Tables on a phone: they fit or scroll in their own box -------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_4_every_table_fits_a_phone_or_scrolls_in_its_own_box(
    browser, live_server, admin_user, linked_user, passkeys_on, backoffice, locale
):
    Passkey.objects.create(user=linked_user, name="Laptop", credential_id="c1", public_key=b"k")
    context, page = context_as(browser, live_server, linked_user, locale=locale, **PHONE)
    confirm_session(context)
    page.goto("/mfa/")
    problems = {"padlock": table_problems(page)}
    name_box = page.locator("[data-testid=devices] input[name=name]").first
    assert name_box.bounding_box()["width"] >= 120  # room for a name, not a sliver
    headers = page.evaluate(
        """() => [...document.querySelectorAll("th")].filter(th =>
             th.getBoundingClientRect().height > 2.2 * parseFloat(getComputedStyle(th).lineHeight)
           ).map(th => th.textContent)"""
    )
    assert not headers  # no header wraps letter by letter
    context.close()
    context, page = context_as(browser, live_server, admin_user, locale=locale, **PHONE)
    page.goto(f"/persons/{linked_user.person.pk}/?tab=user")
    problems["user tab"] = table_problems(page)
    expect(page.get_by_test_id("mfa-history")).to_be_attached()
    context.close()
    assert not any(problems.values()), problems


# --- 5. Reports at 1280 px: every column in view ---------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_5_both_reports_fit_1280_px_without_sideways_scrolling(
    browser, live_server, admin_user, backoffice, locale
):
    context, page = context_as(browser, live_server, admin_user, locale=locale, **DESKTOP)
    widths = {}
    for slug in ("personen-met-mfa", "systeemgebruikers-en-inlog-stats"):
        page.goto(f"/reports/rechtenstructuur/{slug}/")
        box = page.locator(".table-scroll").first
        widths[slug] = box.evaluate("box => box.scrollWidth - box.clientWidth")
        headers = page.locator("[data-testid=report] th").all_inner_texts()
        assert "Laatste_login" in [h.replace("\n", "").rstrip(" ▲▼") for h in headers]
    context.close()
    assert widths == {"personen-met-mfa": 0, "systeemgebruikers-en-inlog-stats": 0}


# --- 6. The lock: the attempt that locks says until which second, as the user tab ------

NOW = datetime(2026, 11, 25, 10, 0, 15, 400_000, tzinfo=UTC)


@pytest.mark.parametrize("locale", LOCALES)
def test_6_the_attempt_that_locks_names_the_second_the_user_tab_names(
    browser, live_server, admin_user, linked_user, monkeypatch, locale
):
    words = T[locale]
    monkeypatch.setattr(server_clock, "now", lambda: NOW)
    context, page = context_as(browser, live_server, None, locale=locale, **DESKTOP)
    seconds = {}
    for username in ("rdewit", "niemand"):
        for attempt in range(1, settings.MFA_LOCK_AFTER + 1):
            page.goto("/login/")
            page.get_by_label(words["username"]).fill(username)
            page.get_by_label(words["password"]).fill("wrong")
            page.get_by_role("button", name=words["login"], exact=True).click()
            error = page.get_by_test_id("login-error").inner_text()
            found = re.search(words["locked"], error)
            assert bool(found) == (attempt == settings.MFA_LOCK_AFTER), (username, attempt)
        assert found
        seconds[username] = found.group(1)
    context.close()
    assert seconds == {"rdewit": "11:00:17", "niemand": "11:00:17"}
    context, page = context_as(browser, live_server, admin_user, locale=locale, **DESKTOP)
    page.goto(f"/persons/{linked_user.person.pk}/?tab=user")
    expect(page.get_by_test_id("mfa-lock")).to_contain_text(
        words["tab_locked"].format(seconds["rdewit"])
    )
    context.close()


# --- 7. Temporary access: the code just linked with works once -------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_7_the_link_page_says_next_code_and_a_replayed_code_is_explained(
    browser, live_server, admin_user, backoffice, locale
):
    from accounts.models import User

    words = T[locale]
    astrid = User.objects.get(username="adejong")
    context, page = context_as(browser, live_server, admin_user, locale=locale, **DESKTOP)
    page.goto(f"/mfa/persons/{astrid.person.pk}/link/")
    expect(page.get_by_text(words["next_code"])).to_be_visible()
    problems: dict[str, list[str]] = {}
    expect_no_axe(page, "link page", problems)
    context.close()
    # the beheerder linked with this code: the person types the same one
    key = totp.new_secret()
    now = server_clock.now()
    code = code_at(key, now)
    devices.device_link(user=astrid, secret=key, code=code, by=admin_user, ip=None, now=now)
    context, page = context_as(browser, live_server, None, locale=locale, **DESKTOP)
    log_in_as(page, words, "adejong", PASSWORD, code)
    expect(page.get_by_test_id("login-error")).to_contain_text(words["once"])
    context.close()
    assert not problems


def log_in_as(page, words, username, password, code):
    page.goto("/login/")
    page.get_by_label(words["username"]).fill(username)
    page.get_by_label(words["password"]).fill(password)
    page.get_by_label(words["code"]).fill(code)
    page.get_by_role("button", name=words["login"], exact=True).click()


# --- 8. Feedback: a rename says so; removing a trusted location asks, then says so -----


@pytest.mark.parametrize("locale", LOCALES)
def test_8_renaming_and_removing_say_what_happened(
    browser, live_server, admin_user, linked_user, backoffice, locale
):
    words = T[locale]
    context, page = context_as(browser, live_server, linked_user, locale=locale, **DESKTOP)
    page.goto("/mfa/")
    page.locator("[data-testid=devices] input[name=name]").fill("Werktelefoon")
    page.get_by_role("button", name=words["rename"]).first.click()
    expect(page.get_by_text(words["renamed"])).to_be_visible()
    context.close()
    context, page = context_as(browser, live_server, admin_user, locale=locale, **DESKTOP)
    page.goto("/mfa/settings/")
    page.get_by_role("link", name=words["location_remove"]).click()
    expect(page.get_by_text(words["location_confirm"])).to_be_visible()
    assert TrustedLocation.objects.exists()  # asking changed nothing
    problems: dict[str, list[str]] = {}
    expect_no_axe(page, "confirm removal", problems)
    page.get_by_role("button", name=words["remove_button"], exact=True).click()
    expect(page.get_by_text(words["location_removed"])).to_be_visible()
    assert not TrustedLocation.objects.exists()
    context.close()
    assert not problems


# --- 9. Language: one form of address, translated filters, a preview for nobody --------


@pytest.mark.parametrize("locale", LOCALES)
def test_9_one_language_and_one_form_of_address(
    browser, live_server, admin_user, backoffice, locale
):
    from accounts.models import User

    words = T[locale]
    User.objects.filter(username="adejong").update(is_active=False)  # nobody to remind
    context, page = context_as(browser, live_server, admin_user, locale=locale, **DESKTOP)
    for slug in ("personen-met-mfa", "systeemgebruikers-en-inlog-stats"):
        page.goto(f"/reports/rechtenstructuur/{slug}/")
        group = page.get_by_role("group")
        expect(group.get_by_role("link", name=words["with_passkey"], exact=True)).to_be_visible()
    page.goto("/mfa/reminders/")
    expect(page.get_by_test_id("reminder-preview")).to_contain_text(words["greeting"])
    expect(page.get_by_test_id("reminder-preview")).not_to_contain_text("Sabrina")
    if locale == "nl-NL":
        astrid = User.objects.get(username="adejong")
        for url in (f"/mfa/persons/{astrid.person.pk}/link/", "/mfa/", "/"):
            page.goto(url)
            text = page.locator("main").inner_text()
            assert not re.search(r"\b(je|jij|jouw|jezelf)\b", text, re.IGNORECASE), url
    context.close()


# --- 10. make run's address: where passkeys work ----------------------------------------


def test_10_the_address_make_run_prints_is_where_passkeys_work(browser, live_server, db):
    import subprocess
    from pathlib import Path
    from urllib.parse import urlsplit

    shown = subprocess.run(
        ["make", "-n", "run"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    address = re.search(r"Livits backoffice: (\S+)", shown)
    assert address
    printed = urlsplit(address.group(1))
    port = urlsplit(live_server.url).port
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    page.goto(f"http://{printed.hostname}:{port}/login/")
    assert page.evaluate("window.isSecureContext && typeof PublicKeyCredential === 'function'")
    assert page.evaluate("location.hostname") == settings.MFA_WEBAUTHN_RP_ID
    context.close()
