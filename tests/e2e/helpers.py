"""Helpers of the browser tests: a person at the keyboard, and an authenticator app."""

import subprocess
import time

from playwright.sync_api import expect


def log_in(page, username, password, code=""):
    page.goto("/login/")
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord").fill(password)
    if code:
        page.get_by_label("Toegangscode").fill(code)
    page.get_by_role("button", name="Inloggen").click()


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


def current_step():
    return int(time.time() // 30)


class Authenticator:
    """An authenticator app in the test: remembers the last step it showed, and
    only shows a later one, waiting for the clock when the window demands it."""

    def __init__(self, key):
        self.key = key
        self.last_step = current_step() - 2

    def code(self):
        step = max(current_step(), self.last_step + 1)
        while step > current_step() + 1:  # the server accepts one step ahead at most
            time.sleep(0.5)
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
    page.get_by_label("Wachtwoord*", exact=True).fill(password)
    page.get_by_label("Wachtwoord (nogmaals)").fill(password)
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_test_id("username")).to_have_text(username)
