"""The padlock page (manual 2.1, 2.2), the login screen with access code (2.3) and
MFA-instellingen (3.1), through HTTP."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from mfa import crypto
from mfa.models import AuditEvent, Device, LoginThrottle, MfaSettings, TrustedLocation
from tests.conftest import PASSWORD, code_at

ENROL = reverse("mfa:enrol")
LOGIN = reverse("accounts:login")


def shown_key(response):
    match = re.search(r'data-testid="key">([A-Z2-7 ]+)<', response.content.decode())
    return match.group(1).replace(" ", "") if match else None


def now_code(secret):
    return code_at(secret, timezone.now())


def test_padlock_is_on_every_backoffice_page(user_client):
    for url in ("/", reverse("mfa:enrol")):
        assert f'href="{ENROL}"' in user_client.get(url).content.decode()


def test_padlock_page_shows_steps_qr_and_manual_key(user_client, system_user):
    response = user_client.get(ENROL)
    html = response.content.decode()
    for text in (
        "Multi-factor authentication",
        "Koppel een apparaat voor multi-factor authentication",
        "Gebruik multi-factor authenticatie",
        "Selecteer 'Overig'.",
        "Manuele sleutel:",
        "Accountnaam:",
        "Sleutel:",
        "Vul hier de toegangscode in",
        "Opslaan",
    ):
        assert text in html, text
    assert "<svg" in html
    assert 'data-testid="account">rdewit<' in html
    assert shown_key(response) == crypto.decrypt(
        user_client.session[f"mfa_pending:{system_user.pk}"]["secret"]
    )
    assert (
        response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    )


def test_wrong_code_keeps_the_same_qr_and_says_so(user_client):
    first = shown_key(user_client.get(ENROL))
    response = user_client.post(ENROL, {"code": "000000"})
    assert response.context["link_form"].has_error("code", "invalid_code")
    assert shown_key(response) == first
    response = user_client.post(ENROL, {"code": "12 34"})
    assert response.context["link_form"].has_error("code", "invalid_format")
    assert not Device.objects.exists()


def test_right_code_links_and_offers_a_fresh_key_for_the_next_device(user_client, system_user):
    secret = shown_key(user_client.get(ENROL))
    response = user_client.post(ENROL, {"code": now_code(secret)}, follow=True)
    html = response.content.decode()
    assert "Uw apparaat is succesvol gekoppeld." in html
    assert Device.objects.get(user=system_user).secret == secret
    next_secret = shown_key(response)
    assert next_secret and next_secret != secret
    assert secret not in html
    # a second phone right away, no step-up needed
    user_client.post(ENROL, {"code": now_code(next_secret)})
    assert Device.objects.filter(user=system_user).count() == 2


def test_later_visits_show_devices_and_never_a_secret(client, linked_user, secret):
    client.force_login(linked_user)
    response = client.get(ENROL)
    html = response.content.decode()
    assert "Apparaat 1" in html
    assert shown_key(response) is None and "<svg" not in html.split("</header>")[1]
    assert secret not in html
    # and a POST without step-up links nothing
    client.post(ENROL, {"code": "123456"})
    assert Device.objects.count() == 1


def test_step_up_with_password_and_code_allows_another_device(client, linked_user, secret):
    client.force_login(linked_user)
    Device.objects.update(last_used_step=0)
    response = client.post(reverse("mfa:step_up"), {"password": "wrong", "code": now_code(secret)})
    assert response.context["step_up_form"].has_error("__all__", "step_up_failed")
    Device.objects.update(last_used_step=0)
    response = client.post(reverse("mfa:step_up"), {"password": PASSWORD, "code": now_code(secret)})
    assert response.status_code == 302
    new_secret = shown_key(client.get(ENROL))
    assert new_secret and new_secret != secret
    client.post(ENROL, {"code": now_code(new_secret)})
    assert Device.objects.count() == 2


def test_removing_own_device_needs_password_and_code(client, linked_user, secret):
    client.force_login(linked_user)
    device = Device.objects.get()
    Device.objects.update(last_used_step=0)
    url = reverse("mfa:device_remove")
    response = client.post(url, {"device": device.pk, "password": PASSWORD, "code": "000000"})
    assert response.context["remove_form"].has_error("__all__", "step_up_failed")
    assert Device.objects.exists()
    client.post(url, {"device": device.pk, "password": PASSWORD, "code": now_code(secret)})
    assert not Device.objects.exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DEVICE_REMOVED).exists()


def test_last_device_cannot_be_removed_after_go_live(client, linked_user, secret):
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": timezone.now()})
    client.force_login(linked_user)
    device = Device.objects.get()
    Device.objects.update(last_used_step=0)
    response = client.post(
        reverse("mfa:device_remove"),
        {"device": device.pk, "password": PASSWORD, "code": now_code(secret)},
    )
    assert response.context["remove_form"].has_error("__all__", "last_device_after_go_live")
    assert Device.objects.exists()


def test_someone_elses_device_cannot_be_removed_or_renamed(admin_client, linked_user):
    device = Device.objects.get()
    response = admin_client.post(
        reverse("mfa:device_remove"), {"device": device.pk, "password": PASSWORD, "code": "1"}
    )
    assert response.context["remove_form"].has_error("device")
    assert (
        admin_client.post(reverse("mfa:device_rename", args=[device.pk]), {"name": "x"}).status_code
        == 404
    )
    assert Device.objects.get().name == "Apparaat 1"


def test_rename_own_device(client, linked_user):
    client.force_login(linked_user)
    device = Device.objects.get()
    client.post(reverse("mfa:device_rename", args=[device.pk]), {"name": "Telefoon Rob"})
    assert Device.objects.get().name == "Telefoon Rob"
    client.post(reverse("mfa:device_rename", args=[device.pk]), {"name": "x" * 51})
    assert Device.objects.get().name == "Telefoon Rob"


# --- Login screen -----------------------------------------------------------


def post_login(client, username="rdewit", password=PASSWORD, code="", **headers):
    return client.post(LOGIN, {"username": username, "password": password, "code": code}, **headers)


def test_login_with_the_code_from_the_app(client, linked_user, secret):
    Device.objects.update(last_used_step=0)
    assert post_login(client, code=now_code(secret)).status_code == 302


def test_four_failure_kinds_give_identical_responses(client, linked_user, secret):
    """Wrong password, wrong code, unknown user and locked account: one answer."""
    LoginThrottle.objects.create(
        key="locked", failures=9, locked_until=timezone.now() + timedelta(hours=1)
    )
    responses = [
        post_login(client, password="wrong-password", code=now_code(secret)),
        post_login(client, code="000000"),
        post_login(client, username="nobody", code="000000"),
        post_login(client, username="locked", code="000000"),
    ]
    names = ["rdewit", "rdewit", "nobody", "locked"]
    bodies = {
        re.sub(r'value="[^"]*"', "", r.content.decode().replace(name, "X"))
        for r, name in zip(responses, names, strict=True)
    }
    assert {r.status_code for r in responses} == {200}
    assert len(bodies) == 1
    assert all(r.context["form"].has_error("__all__", "invalid_login") for r in responses)


def test_after_go_live_the_login_says_a_beheerder_must_link_mfa(client, system_user):
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": timezone.now()})
    response = post_login(client)
    assert response.context["form"].has_error("__all__", "no_device")
    assert "Een beheerder moet eerst MFA voor je koppelen" in response.content.decode()


def test_before_go_live_home_shows_the_padlock_banner(client, system_user):
    post_login(client)
    html = client.get("/").content.decode()
    assert 'data-testid="mfa-banner"' in html
    assert "slotje" in html


@pytest.mark.parametrize("code", ["12345", "1234567", "abcdef", "12-34-56", "١٢٣٤٥٦"])
def test_a_code_that_is_not_six_digits_is_a_form_error(client, linked_user, code):
    response = post_login(client, code=code)
    assert response.context["form"].has_error("code", "invalid_format")
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CODE_FAILED).exists()


# --- MFA-instellingen -------------------------------------------------------

SETTINGS = reverse("mfa:settings")


def test_settings_need_the_permission(user_client):
    assert user_client.get(SETTINGS).status_code == 403
    assert user_client.post(reverse("mfa:go_live")).status_code == 403
    assert MfaSettings.load().go_live_at is None


def test_admin_adds_renames_and_removes_trusted_locations(admin_client):
    admin_client.post(
        SETTINGS, {"action": "location_add", "name": "Kantoor", "network": "203.0.113.9/24"}
    )
    location = TrustedLocation.objects.get()
    assert location.network == "203.0.113.0/24"
    response = admin_client.post(
        SETTINGS, {"action": "location_add", "name": "Dubbel", "network": "203.0.113.0/24"}
    )
    assert response.context["location_form"].has_error("network", "network_taken")
    response = admin_client.post(
        SETTINGS, {"action": "location_add", "name": "Fout", "network": "10.0.0.300/8"}
    )
    assert response.context["location_form"].has_error("network", "invalid_network")
    admin_client.post(
        SETTINGS,
        {
            "action": "location_change",
            "pk": location.pk,
            "name": "Hoofdkantoor",
            "network": "2001:db8::/48",
        },
    )
    location.refresh_from_db()
    assert (location.name, location.network) == ("Hoofdkantoor", "2001:db8::/48")
    admin_client.post(SETTINGS, {"action": "location_remove", "pk": location.pk})
    assert not TrustedLocation.objects.exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TRUSTED_LOCATION_CHANGED).count() == 3


def test_issuer_name_changes_the_qr_and_key_uri(admin_client, admin_user):
    admin_client.post(SETTINGS, {"action": "issuer", "issuer": "Vereniging: Noord"})
    assert MfaSettings.load().issuer_name == "Vereniging Noord"
    html = admin_client.get(ENROL).content.decode()
    assert "Vereniging Noord (beheerder)" in html


def test_go_live_asks_confirmation_and_names_who_has_no_device(
    admin_client, system_user, linked_user
):
    response = admin_client.get(reverse("mfa:go_live"))
    html = response.content.decode()
    assert "Sabrina Boetzkes (beheerder)" in html and "Rob de Wit" not in html
    assert MfaSettings.load().go_live_at is None
    admin_client.post(reverse("mfa:go_live"), {"action": "go_live", "at": ""})
    assert MfaSettings.load().is_live(timezone.now())
    assert "MFA is live sinds" in admin_client.get(SETTINGS).content.decode()
    admin_client.post(reverse("mfa:go_live"), {"action": "undo"})
    assert MfaSettings.load().go_live_at is None
    assert AuditEvent.objects.filter(action=AuditEvent.Action.GO_LIVE_CHANGED).count() == 2


def test_bad_go_live_moment_is_a_form_error(admin_client):
    response = admin_client.post(reverse("mfa:go_live"), {"action": "go_live", "at": "morgen"})
    assert response.context["form"].has_error("at")
    assert MfaSettings.load().go_live_at is None


def test_unknown_settings_action_or_location_changes_nothing(admin_client):
    TrustedLocation.objects.create(name="Kantoor", network="203.0.113.0/24")
    assert admin_client.post(SETTINGS, {"action": "drop_tables"}).status_code == 400
    for pk in ("abc", "", "999999", "١"):
        response = admin_client.post(SETTINGS, {"action": "location_remove", "pk": pk})
        assert response.status_code == 404
    assert TrustedLocation.objects.count() == 1


def test_the_pending_secret_is_encrypted_in_the_session_store(user_client, system_user):
    from django.contrib.sessions.models import Session

    key = shown_key(user_client.get(ENROL))
    stored = Session.objects.get(session_key=user_client.session.session_key)
    assert key not in stored.session_data
    assert key not in str(stored.get_decoded())


def test_the_qr_is_made_once_per_pending_secret(user_client, monkeypatch):
    from mfa import views

    made = []
    real = views.qr_svg
    monkeypatch.setattr(views, "qr_svg", lambda uri: made.append(uri) or real(uri))
    user_client.get(ENROL)
    user_client.post(ENROL, {"code": "000000"})
    user_client.get(ENROL)
    assert len(made) == 1
