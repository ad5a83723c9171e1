"""Helpers of the browser tests: a person at the keyboard, and an authenticator app."""

import subprocess
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from tests.helpers import login_with_code

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return result.violations.map(v => `${v.id}: ${v.nodes.map(n => n.target.join(" ")).join(", ")}`);
}"""


def axe_violations(page):
    page.evaluate(AXE.read_text())
    return page.evaluate(RUN_AXE, WCAG_AA)


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def context_as(browser, live_server, user, **options):
    """A browser context (and its page) in which `user` is logged in with an access code."""
    context = browser.new_context(base_url=live_server.url, **options)
    if user is not None:
        session = login_with_code(Client(), user).cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def log_in(page, username, password, code=""):
    page.goto("/login/")
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord").fill(password)
    if code:
        page.get_by_label("Toegangscode").fill(code)
    page.get_by_role("button", name="Inloggen", exact=True).click()


def log_out(page):
    page.get_by_role("button", name="Uitloggen").click()


def oathtool_code(key, step):
    """The code for one TOTP step, from an independent client (Debian's oathtool)."""
    return subprocess.run(
        ["oathtool", "--totp", "-b", "--now", f"@{step * 30}", key],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


class ServerClock:
    """The server's time in a browser test (livits.clock.now): real time plus an offset
    that the test moves forward instead of sleeping until the next 30-second step."""

    def __init__(self):
        self.offset = timedelta(0)

    def now(self):
        return timezone.now() + self.offset

    def step(self):
        return int(self.now().timestamp() // 30)

    def advance_to(self, step):
        """Move the time forward so that `step` is the current step."""
        if step > self.step():
            self.offset += timedelta(seconds=30 * (step - self.step()))


class Authenticator:
    """An authenticator app in the test: remembers the last step it showed and only
    shows a later one; the server's clock is moved on when the window demands it."""

    def __init__(self, key, clock):
        self.key, self.clock = key, clock
        self.last_step = clock.step() - 2

    def code(self):
        step = max(self.clock.step(), self.last_step + 1)
        self.clock.advance_to(step - 1)  # the server accepts one step ahead at most
        self.last_step = step
        return oathtool_code(self.key, step)


def shown_key(page):
    return page.get_by_test_id("key").inner_text().replace(" ", "")


def open_menu_item(page, menu_name, item):
    menu = page.get_by_role("navigation", name="Hoofdmenu")
    menu.get_by_role("button", name=menu_name).click()
    menu.get_by_role("link", name=item).click()


def create_person_with_system_user(page, *, first, last, username, password, infix=""):
    """A beheerder adds a person (Toevoegen) and gives it a system user."""
    open_menu_item(page, "Relatiebeheer", "Personen")
    page.get_by_role("link", name="+ Toevoegen").click()
    page.get_by_label("Voornaam").fill(first)
    page.get_by_label("Tussenvoegsel").fill(infix)
    page.get_by_label("Achternaam").fill(last)
    page.get_by_role("button", name="Opslaan").click()
    page.get_by_role("link", name="Gebruikersgegevens").click()
    page.get_by_role("link", name="Systeemgebruiker aanmaken").click()
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord", exact=True).fill(password)
    page.get_by_label("Wachtwoord (nogmaals)").fill(password)
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_test_id("username")).to_have_text(username)


def confirm_session(context):
    """The session of the browser `context` just confirmed password and code (the padlock
    page's step-up), from the server's clock on."""
    from importlib import import_module

    from livits import clock
    from mfa.enrolment import allow_linking

    cookie = next(c for c in context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=cookie["value"])
    allow_linking(session, clock.now())
    session.save()
