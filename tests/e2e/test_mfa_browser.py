"""Manual chapter 2 in a real browser: link the app through the padlock (2.1, 2.2),
then log in with the access code (2.3). Codes come from oathtool, the QR is read
back by zbarimg: neither is our code."""

import subprocess
from urllib.parse import parse_qs, unquote, urlsplit

from playwright.sync_api import expect

from mfa.models import Device
from tests.e2e.helpers import Authenticator, axe_violations, log_in, log_out, shown_key
from tests.helpers import PASSWORD


def decode_qr(page, tmp_path):
    shot = tmp_path / "qr.png"
    page.get_by_test_id("qr").screenshot(path=str(shot))
    return subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(shot)], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_user_follows_chapter_2_with_a_real_authenticator(page, system_user, tmp_path, clock):
    log_in(page, "rdewit", PASSWORD)
    expect(page.get_by_test_id("mfa-banner")).to_be_visible()

    # 2.1: the padlock at the top right opens the screen of the manual
    page.get_by_test_id("padlock").click()
    expect(page.get_by_role("heading", name="Multi-factor authentication")).to_be_visible()
    expect(page.get_by_text("Koppel een apparaat voor multi-factor authentication")).to_be_visible()
    expect(page.get_by_test_id("account")).to_have_text("rdewit")
    key = shown_key(page)

    # the QR code, read by a real decoder, carries the manual key
    uri = urlsplit(decode_qr(page, tmp_path))
    query = parse_qs(uri.query)
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert unquote(uri.path) == "/Livits:rdewit"
    assert query["secret"] == [key]
    assert query["issuer"] == ["Livits"]
    assert (query["digits"], query["period"], query["algorithm"]) == (["6"], ["30"], ["SHA1"])

    # a wrong code keeps the same key on screen
    page.get_by_label("Vul hier de toegangscode in").fill("000000")
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_text("Deze toegangscode klopt niet")).to_be_visible()
    assert shown_key(page) == key

    app = Authenticator(key, clock)
    linking_code = app.code()
    page.get_by_label("Vul hier de toegangscode in").fill(linking_code)
    page.get_by_role("button", name="Opslaan").click()
    expect(
        page.get_by_text(
            "Uw apparaat is succesvol gekoppeld. Koppel nog een apparaat via bovenstaande QR of "
            "manuele code of verlaat dit scherm."
        )
    ).to_be_visible()
    expect(page.get_by_test_id("devices").get_by_role("textbox")).to_have_value("Apparaat 1")
    assert shown_key(page) != key
    assert Device.objects.get(user=system_user).secret == key

    # 2.3: from now on the login asks for the access code
    log_out(page)
    log_in(page, "rdewit", PASSWORD)
    expect(page.get_by_test_id("login-error")).to_contain_text("Inloggen mislukt")
    log_in(page, "rdewit", PASSWORD, code=linking_code)  # already used to link: refused
    expect(page.get_by_test_id("login-error")).to_contain_text("Inloggen mislukt")
    code = app.code()
    log_in(page, "rdewit", PASSWORD, code=f"{code[:3]} {code[3:]}")
    expect(page.get_by_test_id("current-user")).to_have_text("Rob de Wit")
    expect(page.get_by_test_id("mfa-banner")).to_have_count(0)


def test_a_person_makes_recovery_codes_and_gets_in_with_one(page, system_user, clock):
    """Issue 11 in a real browser: link with oathtool, make codes, log in with one."""
    log_in(page, "rdewit", PASSWORD)
    page.get_by_test_id("padlock").click()
    app = Authenticator(shown_key(page), clock)
    page.get_by_label("Vul hier de toegangscode in").fill(app.code())
    page.get_by_role("button", name="Opslaan").click()
    page.get_by_role("button", name="Herstelcodes maken").first.click()
    codes = page.get_by_test_id("recovery-codes").get_by_role("listitem").all_inner_texts()
    assert len(codes) == 10
    assert not axe_violations(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download (.txt)").click()
    assert codes[0] in download.value.path().read_text()
    page.get_by_role("link", name="Klaar").click()
    expect(page.get_by_text("10 van 10 herstelcodes ongebruikt")).to_be_visible()

    log_out(page)
    log_in(page, "rdewit", PASSWORD, code=codes[4].lower())
    expect(page.get_by_test_id("current-user")).to_have_text("Rob de Wit")
    expect(page.get_by_text("u heeft nog 9 ongebruikte codes")).to_be_visible()
    log_out(page)
    log_in(page, "rdewit", PASSWORD, code=codes[4])
    expect(page.get_by_test_id("login-error")).to_contain_text("Inloggen mislukt")


def test_a_planned_go_live_shows_a_banner_until_the_app_is_linked(page, system_user, clock):
    """Issue 13 in a real browser: the banner, then linking makes it go away."""
    from datetime import timedelta

    from mfa.models import MfaSettings

    MfaSettings.objects.update_or_create(
        pk=1, defaults={"go_live_at": clock.now() + timedelta(days=40)}
    )
    log_in(page, "rdewit", PASSWORD)
    banner = page.get_by_test_id("rollout-banner")
    expect(banner).to_contain_text("is een toegangscode verplicht. Koppel nu uw authenticator-app.")
    expect(banner).to_contain_text("(nog 40 dagen)")
    banner.get_by_role("link", name="Nu koppelen").click()
    app = Authenticator(shown_key(page), clock)
    page.get_by_label("Vul hier de toegangscode in").fill(app.code())
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_test_id("linked")).to_be_visible()
    expect(page.get_by_test_id("rollout-banner")).to_have_count(0)
    page.goto("/")
    expect(page.get_by_test_id("rollout-banner")).to_have_count(0)
