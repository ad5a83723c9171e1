"""The padlock page (manual 2.1, 2.2), the login screen with access code (2.3) and
MFA-instellingen (3.1), through HTTP."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import Person, User
from audit.models import AuditEvent
from mfa import crypto
from mfa.models import Device, LoginThrottle, MfaSettings, TrustedLocation
from tests.helpers import (
    PASSWORD,
    code_at,
    confirmed,
    link,
    post_login,
    shown_key,
)

ENROL = reverse("mfa:enrol")
LOGIN = reverse("accounts:login")


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
        user_client.session[f"mfa_secret:{system_user.pk}"]
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


def test_removing_own_device_needs_the_pages_confirmation(client, linked_user, secret):
    client.force_login(linked_user)
    device = Device.objects.get()
    Device.objects.update(last_used_step=0)
    url = reverse("mfa:device_remove")
    response = client.post(url, {"device": device.pk}, follow=True)
    assert "Bevestig eerst met uw wachtwoord en toegangscode." in response.content.decode()
    assert Device.objects.exists()
    client.post(reverse("mfa:step_up"), {"password": PASSWORD, "code": "000000"})
    client.post(url, {"device": device.pk})
    assert Device.objects.exists()  # a refused confirmation confirms nothing
    client.post(reverse("mfa:step_up"), {"password": PASSWORD, "code": now_code(secret)})
    client.post(url, {"device": device.pk})
    assert not Device.objects.exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DEVICE_REMOVED).exists()


def test_last_device_cannot_be_removed_after_go_live(client, linked_user, secret):
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": timezone.now()})
    confirmed(client, linked_user)
    device = Device.objects.get()
    response = client.post(reverse("mfa:device_remove"), {"device": device.pk})
    assert response.context["remove_form"].has_error("__all__", "last_device_after_go_live")
    assert Device.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.DEVICE_REMOVED).exists()


def test_an_expired_temporary_device_does_not_count_as_the_other_device(
    client, linked_user, secret, admin_user
):
    """ "Has MFA" is one rule: an expired device that is still stored is no MFA."""
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": timezone.now()})
    expired = link(linked_user, timezone.now() - timedelta(hours=2), by=admin_user)
    Device.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    confirmed(client, linked_user)
    own = Device.objects.get(pk=Device.objects.exclude(pk=expired.pk).get().pk)
    response = client.post(reverse("mfa:device_remove"), {"device": own.pk})
    assert response.context["remove_form"].has_error("__all__", "last_device_after_go_live")
    assert Device.objects.filter(pk=own.pk).exists()


def test_someone_elses_device_cannot_be_removed_or_renamed(client, admin_user, linked_user):
    device = Device.objects.get()
    admin_client = confirmed(client, admin_user)
    response = admin_client.post(reverse("mfa:device_remove"), {"device": device.pk})
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


def test_login_with_the_code_from_the_app(client, linked_user, secret):
    Device.objects.update(last_used_step=0)
    assert post_login(client, code=now_code(secret)).status_code == 302


def test_three_failure_kinds_give_identical_responses(client, linked_user, secret):
    """Wrong password, wrong code and unknown user: one answer."""
    responses = [
        post_login(client, password="wrong-password", code=now_code(secret)),
        post_login(client, code="000000"),
        post_login(client, username="nobody", code="000000"),
    ]
    names = ["rdewit", "rdewit", "nobody"]
    bodies = {
        re.sub(r'value="[^"]*"', "", r.content.decode().replace(name, "X"))
        for r, name in zip(responses, names, strict=True)
    }
    assert {r.status_code for r in responses} == {200}
    assert len(bodies) == 1
    assert all(r.context["form"].has_error("__all__", "invalid_login") for r in responses)


def test_after_go_live_every_failure_gives_one_answer_that_names_the_way_out(
    client, system_user, linked_user
):
    """No password oracle: right password without device = wrong password (after go-live)."""
    other = User.objects.create_user(
        "qnewbie", PASSWORD, person=Person.objects.create(first_name="N", last_name="Newbie")
    )
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": timezone.now()})
    tries = [("qnewbie", PASSWORD), ("qnewbie", "wrong"), ("rdewit", PASSWORD), ("qnobody", "x")]
    bodies = set()
    for username, password in tries:
        response = post_login(client, username=username, password=password, code="000000")
        assert response.context["form"].has_error("__all__", "invalid_login_live")
        body = re.sub(r'value="[^"]*"', "", response.content.decode().replace(username, "X"))
        bodies.add(body)
    assert len(bodies) == 1
    assert "Vraag een beheerder om MFA voor u te koppelen" in bodies.pop()
    assert AuditEvent.objects.filter(
        subject=other, action=AuditEvent.Action.LOGIN_NO_DEVICE
    ).exists()


def test_a_locked_name_says_until_when_known_or_unknown(client, linked_user, secret, frozen_clock):
    until = timezone.localtime(frozen_clock + timedelta(minutes=3))
    for name in ("rdewit", "niemand"):
        LoginThrottle.objects.create(key=name, failures=9, locked_until=until)
    shown = until.strftime("%H:%M:%S")  # the clock stands on a whole second
    for name in ("rdewit", "niemand"):
        response = post_login(client, username=name, code=now_code(secret))
        assert response.context["form"].has_error("__all__", "locked")
        html = response.content.decode()
        assert (
            "Te veel mislukte pogingen vanaf browsers waarmee dit account nog niet heeft "
            f"ingelogd. Probeer het na {shown} opnieuw, of log in vanaf een browser die u "
            "eerder gebruikte." in html
        )
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_CODE).exists()


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
        reverse("mfa:location_add"), {"new-name": "Kantoor", "new-network": "203.0.113.9/24"}
    )
    location = TrustedLocation.objects.get()
    assert location.network == "203.0.113.0/24"
    response = admin_client.post(
        reverse("mfa:location_add"), {"new-name": "Dubbel", "new-network": "203.0.113.0/24"}
    )
    assert response.context["new_location_form"].has_error("network", "network_taken")
    response = admin_client.post(
        reverse("mfa:location_add"), {"new-name": "Fout", "new-network": "10.0.0.300/8"}
    )
    assert response.context["new_location_form"].has_error("network", "invalid_network")
    prefix = f"location-{location.pk}"
    admin_client.post(
        reverse("mfa:location_change", args=[location.pk]),
        {f"{prefix}-name": "Hoofdkantoor", f"{prefix}-network": "2001:db8::/48"},
    )
    location.refresh_from_db()
    assert (location.name, location.network) == ("Hoofdkantoor", "2001:db8::/48")
    admin_client.post(reverse("mfa:location_remove", args=[location.pk]))
    assert not TrustedLocation.objects.exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TRUSTED_LOCATION_CHANGED).count() == 3


def test_an_invalid_change_comes_back_in_its_own_row_and_resubmitting_changes_it(admin_client):
    location = TrustedLocation.objects.create(name="Kantoor", network="203.0.113.0/24")
    prefix = f"location-{location.pk}"
    url = reverse("mfa:location_change", args=[location.pk])
    response = admin_client.post(url, {f"{prefix}-name": "Kantoor", f"{prefix}-network": "nope"})
    row_forms = dict(response.context["locations"])
    assert row_forms[location].has_error("network", "invalid_network")
    assert not response.context["new_location_form"].is_bound
    html = response.content.decode()
    assert f'action="{url}"' in html and 'value="nope"' in html
    admin_client.post(url, {f"{prefix}-name": "Kantoor", f"{prefix}-network": "198.51.100.0/24"})
    assert list(TrustedLocation.objects.values_list("network", flat=True)) == ["198.51.100.0/24"]


def test_issuer_name_changes_the_qr_and_key_uri(admin_client, admin_user):
    admin_client.post(reverse("mfa:issuer"), {"issuer": "Vereniging: Noord"})
    assert MfaSettings.load().issuer_name == "Vereniging Noord"
    html = admin_client.get(ENROL).content.decode()
    assert "Vereniging Noord (beheerder)" in html


def test_an_issuer_from_the_environment_is_shown_as_the_app_shows_it(user_client, settings):
    settings.MFA_ISSUER = "Club: Noord"
    response = user_client.get(ENROL)
    assert response.context["issuer"] == "Club Noord"
    assert "Club Noord (rdewit)" in response.content.decode()


def test_go_live_asks_confirmation_and_names_who_has_no_device_beheerders_first(
    admin_client, admin_user, linked_user
):
    other = User.objects.create_user(
        "adejong", PASSWORD, person=Person.objects.create(first_name="Astrid", last_name="Jong")
    )
    response = admin_client.get(reverse("mfa:go_live"))
    assert response.context["admins_without_device"] == [admin_user]
    assert response.context["others_without_device"] == [other]
    html = response.content.decode()
    assert html.index("Sabrina Boetzkes (beheerder)") < html.index("Astrid Jong (adejong)")
    assert "Rob de Wit" not in html


def test_go_live_is_refused_to_a_beheerder_without_mfa_of_her_own(admin_client, admin_user):
    response = admin_client.post(reverse("mfa:go_live"), {"action": "go_live", "at": ""})
    assert response.context["form"].has_error("__all__", "go_live_without_own_mfa")
    assert MfaSettings.load().go_live_at is None
    link(admin_user, timezone.now())
    admin_client.post(reverse("mfa:go_live"), {"action": "go_live", "at": ""})
    assert MfaSettings.load().is_live(timezone.now())
    assert "MFA is live sinds" in admin_client.get(SETTINGS).content.decode()
    admin_client.post(reverse("mfa:go_live"), {"action": "undo"})
    assert MfaSettings.load().go_live_at is None
    changes = AuditEvent.objects.filter(action=AuditEvent.Action.GO_LIVE_CHANGED).order_by("pk")
    assert [change.data["at"] is None for change in changes] == [False, True]  # undone


@pytest.mark.parametrize("at", ["0001-01-01T00:00", "1999-12-31T23:00", "2100-01-02T00:00"])
def test_a_go_live_out_of_range_is_refused_clearly(admin_client, admin_user, at):
    link(admin_user, timezone.now())
    response = admin_client.post(reverse("mfa:go_live"), {"action": "go_live", "at": at})
    assert response.context["form"].has_error("at", "go_live_out_of_range")
    assert "tussen 1-1-2000 en 1-1-2100" in response.content.decode()
    assert MfaSettings.load().go_live_at is None
    with pytest.raises(CommandError, match="out of range"):
        call_command("mfa", "golive", "--at", at)


def test_the_database_refuses_a_go_live_out_of_range(db):
    from django.db import IntegrityError, transaction

    MfaSettings.load()
    with pytest.raises(IntegrityError), transaction.atomic():
        MfaSettings.objects.update(go_live_at=datetime(1999, 1, 1, tzinfo=UTC))


def test_bad_go_live_moment_is_a_form_error(admin_client):
    response = admin_client.post(reverse("mfa:go_live"), {"action": "go_live", "at": "morgen"})
    assert response.context["form"].has_error("at")
    assert MfaSettings.load().go_live_at is None


def test_unknown_location_changes_nothing(admin_client):
    TrustedLocation.objects.create(name="Kantoor", network="203.0.113.0/24")
    for pk in ("abc", "", "999999", "١", "5" * 5000):
        for url in (f"/mfa/settings/locations/{pk}/remove/", f"/mfa/settings/locations/{pk}/"):
            assert admin_client.post(url).status_code == 404
    assert admin_client.get(reverse("mfa:location_add")).status_code == 405
    assert TrustedLocation.objects.count() == 1


def test_the_pending_secret_is_encrypted_in_the_session_store(user_client, system_user):
    from django.contrib.sessions.models import Session

    key = shown_key(user_client.get(ENROL))
    stored = Session.objects.get(session_key=user_client.session.session_key)
    assert key not in stored.session_data
    assert key not in str(stored.get_decoded())


def test_the_session_keeps_the_secret_only_and_stays_small(user_client, system_user):
    from django.contrib.sessions.models import Session

    key = shown_key(user_client.get(ENROL))
    response = user_client.post(ENROL, {"code": "000000"})
    assert shown_key(response) == key  # the same QR, made again from the kept secret
    stored = Session.objects.get(session_key=user_client.session.session_key)
    assert len(stored.session_data) < 4096
