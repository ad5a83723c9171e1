"""What a person meets on the MFA screens: one meaning of "has MFA" everywhere, an
expired session during linking, the green message where the manual puts it, and
the smaller things a new user trips over."""

import io
import zipfile
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from mfa.models import Device
from tests.helpers import PASSWORD, code_at, link, post_login, shown_key

ENROL = reverse("mfa:enrol")
LINK = "Koppel de MFA-code voor deze gebruiker"
UNLINK = "Ontkoppel de huidige MFA-code voor deze gebruiker"


def expire(device):
    Device.objects.filter(pk=device.pk).update(expires_at=timezone.now() - timedelta(minutes=1))


def test_an_expired_temporary_device_is_no_mfa_on_every_screen(
    admin_client, client, admin_user, system_user
):
    """The beheerder is not stuck: the tab offers to link, and linking works."""
    device = link(system_user, timezone.now() - timedelta(hours=2), by=admin_user)
    expire(device)
    tab = reverse("accounts:person_detail", args=[system_user.person.pk]) + "?tab=user"
    html = admin_client.get(tab).content.decode()
    assert LINK in html and UNLINK not in html
    url = reverse("mfa:admin_link", args=[system_user.person.pk])
    key = shown_key(admin_client.get(url))
    assert key  # the link page, not "unlink first"
    assert admin_client.post(url, {"code": code_at(key, timezone.now())}).status_code == 302
    assert Device.objects.filter(user=system_user).count() == 1  # the expired one is gone
    client.force_login(system_user)
    assert 'data-testid="mfa-banner"' not in client.get("/").content.decode()


def test_the_home_reminder_and_padlock_treat_an_expired_device_as_none(
    client, admin_user, system_user
):
    expire(link(system_user, timezone.now() - timedelta(hours=2), by=admin_user))
    client.force_login(system_user)
    assert 'data-testid="mfa-banner"' in client.get("/").content.decode()
    assert shown_key(client.get(ENROL))  # links without step-up, like anyone without MFA


def test_an_expired_session_during_linking_says_so_and_comes_back(client, system_user):
    client.force_login(system_user)
    old_key = shown_key(client.get(ENROL))
    client.cookies.clear()  # the session has expired
    response = client.post(ENROL, {"code": code_at(old_key, timezone.now())})
    assert response.status_code == 302
    login_page = client.get(response["Location"]).content.decode()
    assert "Uw sessie is verlopen, daarom is er niets gekoppeld." in login_page
    next_url = parse_qs(urlsplit(response["Location"]).query)["next"][0]
    response = post_login(client, next=next_url)
    assert response["Location"] == f"{ENROL}?renewed=1"
    page = client.get(response["Location"]).content.decode()
    assert "De QR-code hieronder is nieuw" in page
    assert "verwijder dat account dan uit uw authenticator-app".lower() in page.lower()
    assert shown_key(page) != old_key
    assert not Device.objects.exists()


def test_the_green_message_stands_under_the_qr_for_the_next_device(user_client, system_user):
    key = shown_key(user_client.get(ENROL))
    response = user_client.post(ENROL, {"code": code_at(key, timezone.now())}, follow=True)
    html = response.content.decode()
    message = "Uw apparaat is succesvol gekoppeld. Koppel nog een apparaat via bovenstaande QR"
    assert html.index('data-testid="qr"') < html.index(message)
    assert (
        "De QR-code en sleutel hierboven zijn nieuw: die zijn voor het volgende apparaat." in html
    )
    assert shown_key(html) != key
    assert message not in user_client.get(ENROL).content.decode()  # said once


def test_the_padlock_page_asks_one_confirmation_then_each_action_is_in_one_place(
    client, linked_user
):
    from mfa.models import MfaSettings, Passkey
    from tests.helpers import confirmed

    MfaSettings.objects.update_or_create(pk=1, defaults={"passkeys_allowed": True})
    Passkey.objects.create(user=linked_user, name="Laptop", credential_id="c1", public_key=b"k")
    client.force_login(linked_user)
    html = client.get(ENROL).content.decode()
    assert html.count('type="password"') == 1 and html.count('action="/mfa/step-up/"') == 1
    assert 'action="/mfa/devices/remove/"' not in html and "/mfa/passkeys/remove/" not in html
    assert 'action="/mfa/recovery-codes/"' not in html
    html = confirmed(client, linked_user).get(ENROL).content.decode()
    assert 'type="password"' not in html and "/mfa/step-up/" not in html
    assert html.count('action="/mfa/devices/remove/"') == Device.objects.count() == 1
    assert html.count('action="/mfa/passkeys/remove/"') == 1
    assert html.count('action="/mfa/recovery-codes/"') == 1  # also right after linking
    assert html.count('action="/mfa/passkeys/"') == 1 and html.count('data-testid="qr"') == 1


def test_the_issuer_heading_is_not_also_the_label(admin_client):
    html = admin_client.get(reverse("mfa:settings")).content.decode()
    assert html.count("Naam in de authenticator-app") == 1


def test_the_xlsx_sheet_has_the_reports_whole_name(admin_client, system_user):
    url = reverse("reports:export", args=["systeemgebruikers-en-inlog-stats", "xlsx"])
    content = b"".join(admin_client.get(url).streaming_content)
    workbook = zipfile.ZipFile(io.BytesIO(content)).read("xl/workbook.xml").decode()
    assert 'name="Systeemgebruikers inlog stats"' in workbook


def test_golive_names_beheerders_without_mfa_first(admin_user, system_user):
    out = io.StringIO()
    call_command("mfa", "status", stdout=out)
    text = out.getvalue()
    assert text.index("Beheerders without MFA: 1\n  beheerder") < text.index(
        "Others without MFA: 1\n  rdewit"
    )
    assert PASSWORD not in text
