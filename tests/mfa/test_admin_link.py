"""A beheerder links and unlinks MFA on the CRM user tab (manual chapter 4)."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import formats, timezone

from accounts.models import Person, User
from audit.models import AuditEvent
from audit.services import audit
from mfa import devices, login
from mfa.login import LoginStatus
from mfa.models import Device, LoginThrottle, MfaSettings
from tests.helpers import PASSWORD, code_at, link, login_with_code, post_login, shown_key

Action = AuditEvent.Action


def user_tab(client, person):
    return client.get(reverse("accounts:person_detail", args=[person.pk]), {"tab": "user"})


def admin_links(client, person, **extra):
    url = reverse("mfa:admin_link", args=[person.pk])
    key = shown_key(client.get(url))
    response = client.post(url, {"code": code_at(key, timezone.now()), **extra})
    return key, response


def test_user_tab_shows_exactly_one_mfa_button(admin_client, linked_user):
    html = user_tab(admin_client, linked_user.person).content.decode()
    assert "Ontkoppel de huidige MFA-code voor deze gebruiker" in html
    assert "Koppel de MFA-code voor deze gebruiker" not in html
    assert 'id="flag-mfa" disabled checked' in html
    Device.objects.all().delete()
    html = user_tab(admin_client, linked_user.person).content.decode()
    assert "Ontkoppel de huidige MFA-code" not in html
    assert "Koppel de MFA-code voor deze gebruiker" in html
    assert 'id="flag-mfa" disabled checked' not in html


def test_without_permissions_no_buttons_and_403(client, system_user, person):
    viewer = User.objects.create_user(
        "kijker", PASSWORD, person=Person.objects.create(first_name="K", last_name="Kijker")
    )
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_person", "view_user"])
    )
    client.force_login(viewer)
    html = user_tab(client, person).content.decode()
    assert "Systeemgebruiker gegevens" in html
    assert "MFA-code voor deze gebruiker" not in html
    for name in ("mfa:admin_link", "mfa:admin_unlink"):
        url = reverse(name, args=[person.pk])
        assert client.get(url).status_code == 403
        assert client.post(url, {"code": "123456"}).status_code == 403
    assert client.post(reverse("mfa:lock_clear", args=[person.pk])).status_code == 403


def test_plain_user_cannot_reach_either_action(user_client, admin_user):
    for name in ("mfa:admin_link", "mfa:admin_unlink"):
        assert user_client.post(reverse(name, args=[admin_user.person.pk])).status_code == 403


def test_unlink_confirms_then_removes_everything_with_audit_and_mail(
    admin_client, admin_user, linked_user, django_capture_on_commit_callbacks
):
    url = reverse("mfa:admin_unlink", args=[linked_user.person.pk])
    assert "Apparaat 1" in admin_client.get(url).content.decode()
    assert Device.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, REMOTE_ADDR="192.0.2.44")
    assert response.status_code == 302
    assert not Device.objects.exists()
    event = AuditEvent.objects.filter(action=Action.UNLINKED_ALL).get()
    assert (event.actor, event.subject, event.ip) == (admin_user, linked_user, "192.0.2.44")
    linked_user.refresh_from_db()
    assert linked_user.mfa_created_at is None and linked_user.mfa_changed_at is not None
    assert mail.outbox and mail.outbox[-1].to == ["rob@example.org"]


def test_unlinking_twice_refuses_clearly_with_one_audit_record(admin_client, linked_user):
    url = reverse("mfa:admin_unlink", args=[linked_user.person.pk])
    admin_client.post(url)
    response = admin_client.post(url, follow=True)
    assert "Deze gebruiker heeft geen gekoppelde MFA (meer)" in response.content.decode()
    assert AuditEvent.objects.filter(action=Action.UNLINKED_ALL).count() == 1


def test_unlinking_ends_the_persons_sessions_signed_in_with_their_own_factors(
    client, admin_user, linked_user
):
    """A stolen phone: the sessions it opened end at their next request."""
    login_with_code(client, linked_user)
    devices.device_unlink_all(user=linked_user, by=admin_user, ip=None, now=timezone.now())
    response = client.get(reverse("mfa:enrol"))
    assert response.status_code == 302 and response["Location"].startswith(
        reverse("accounts:login")
    )


def test_unlinking_keeps_the_session_of_the_beheerders_temporary_app(
    client, admin_user, system_user
):
    """Manual 4.3: signed in with the beheerder's code, unlinked, still signed in: the person
    links their own app in that session."""
    now = timezone.now()
    secret = link(system_user, now - timedelta(minutes=1), by=admin_user).secret
    assert post_login(client, code=code_at(secret, now, 1)).status_code == 302
    devices.device_unlink_all(
        user=system_user, by=admin_user, ip=None, now=now, spare_temporary=True
    )
    response = client.get(reverse("mfa:enrol"))
    assert response.status_code == 200 and shown_key(response)


def test_admin_links_with_their_own_app_and_the_person_logs_in_with_its_code(
    admin_client, admin_user, system_user, client
):
    key, response = admin_links(admin_client, system_user.person)
    assert response.status_code == 302
    device = Device.objects.get(user=system_user)
    assert device.via_admin and device.linked_by == admin_user and device.secret == key
    html = user_tab(admin_client, system_user.person).content.decode()
    assert "via beheerder Sabrina Boetzkes" in html
    assert (
        key not in html
        and key
        not in admin_client.get(
            reverse("mfa:admin_link", args=[system_user.person.pk]), follow=True
        ).content.decode()
    )
    # the person logs in with the code the beheerder reads from the admin's app
    next_code = code_at(key, timezone.now(), 1)
    result = login.login_attempt(
        username="rdewit", password=PASSWORD, code=next_code, ip="198.51.100.1", now=timezone.now()
    )
    assert result.status is LoginStatus.OK


def test_the_link_page_shows_the_persons_account_name(admin_client, system_user):
    html = admin_client.get(
        reverse("mfa:admin_link", args=[system_user.person.pk])
    ).content.decode()
    assert 'data-testid="account">rdewit<' in html
    assert "Livits (rdewit)" in html


def test_wrong_code_from_the_admins_app_links_nothing(admin_client, system_user):
    url = reverse("mfa:admin_link", args=[system_user.person.pk])
    key = shown_key(admin_client.get(url))
    response = admin_client.post(url, {"code": "000000"})
    assert response.context["link_form"].has_error("code", "invalid_code")
    assert shown_key(response) == key
    assert not Device.objects.exists() and not AuditEvent.objects.exists()


def test_stale_link_page_after_someone_else_linked(admin_client, system_user, secret):
    url = reverse("mfa:admin_link", args=[system_user.person.pk])
    key = shown_key(admin_client.get(url))
    now = timezone.now()
    devices.device_link(
        user=system_user, secret=secret, code=code_at(secret, now), by=system_user, ip=None, now=now
    )
    response = admin_client.post(url, {"code": code_at(key, now)})
    assert response.context["link_form"].has_error("code", "already_has_mfa")
    assert Device.objects.count() == 1
    assert AuditEvent.objects.filter(action=Action.DEVICE_LINKED).count() == 1


def test_double_submit_links_once(admin_client, system_user):
    """Two submits of one page, both read with the pending secret in the session."""
    url = reverse("mfa:admin_link", args=[system_user.person.pk])
    key = shown_key(admin_client.get(url))
    pending = {k: v for k, v in admin_client.session.items() if k.startswith("mfa_secret:")}
    code = code_at(key, timezone.now())
    assert admin_client.post(url, {"code": code}).status_code == 302
    session = admin_client.session
    session.update(pending)  # the second request saw the session as it was
    session.save()
    response = admin_client.post(url, {"code": code})
    assert response.status_code == 200
    assert response.context["link_form"].has_error("code", "already_has_mfa")
    assert Device.objects.count() == 1


def test_person_without_system_user_or_deleted_person(admin_client, person):
    response = admin_client.get(reverse("mfa:admin_link", args=[person.pk]), follow=True)
    assert "Deze persoon is geen systeemgebruiker" in response.content.decode()
    assert admin_client.post(reverse("mfa:admin_unlink", args=[999999])).status_code == 404
    assert admin_client.post(reverse("mfa:admin_link", args=[999999])).status_code == 404


def test_beheerder_cannot_take_over_a_superuser(admin_client):
    root = User.objects.create_superuser("root", "A-long-enough-password-1")
    for name in ("mfa:admin_link", "mfa:admin_unlink"):
        assert admin_client.get(reverse(name, args=[root.person.pk])).status_code == 403
    assert (
        admin_client.get(reverse("accounts:system_user_edit", args=[root.person.pk])).status_code
        == 403
    )


def test_temporary_access_ends_and_the_expiry_is_audited(admin_client, system_user):
    until = timezone.now() + timedelta(hours=2)
    key, _ = admin_links(
        admin_client, system_user.person, expires_at=until.strftime("%Y-%m-%dT%H:%M")
    )
    device = Device.objects.get()
    assert device.expires_at is not None
    linked = AuditEvent.objects.get(action=Action.DEVICE_LINKED)
    assert linked.data == {
        "device": "Apparaat 1",
        "via_admin": True,
        "until": device.expires_at.isoformat(),
    }
    shown = formats.date_format(timezone.localtime(device.expires_at), "SHORT_DATETIME_FORMAT")
    assert linked.describe() == f"Apparaat 1, via beheerder, geldig tot {shown}"
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": timezone.now()})
    later = device.expires_at + timedelta(minutes=1)
    result = login.login_attempt(
        username="rdewit", password=PASSWORD, code=code_at(key, later), ip=None, now=later
    )
    assert result.status is LoginStatus.FAILED
    assert not Device.objects.exists()
    assert AuditEvent.objects.filter(action=Action.DEVICE_EXPIRED, subject=system_user).count() == 1


def test_temporary_access_must_end_in_the_future(admin_client, system_user):
    url = reverse("mfa:admin_link", args=[system_user.person.pk])
    key = shown_key(admin_client.get(url))
    response = admin_client.post(
        url, {"code": code_at(key, timezone.now()), "expires_at": "2020-01-01T10:00"}
    )
    assert response.context["link_form"].has_error("expires_at", "expiry_in_past")
    assert not Device.objects.exists()


def test_history_panel_lists_events_newest_first_paginated(admin_client, linked_user):
    for i in range(12):
        audit(action=Action.CODE_FAILED, subject=linked_user, ip="192.0.2.9", data={"text": f"{i}"})
    response = user_tab(admin_client, linked_user.person)
    page = response.context["mfa_history"]
    assert page.paginator.count == 13 and len(page.object_list) == 10
    assert page.object_list[0].describe() == "11"
    second = admin_client.get(
        reverse("accounts:person_detail", args=[linked_user.person.pk]), {"tab": "user", "page": 2}
    )
    assert [e.action for e in second.context["mfa_history"].object_list][-1] == Action.DEVICE_LINKED


def test_beheerder_clears_a_login_lock_on_the_user_tab(admin_client, system_user):
    LoginThrottle.objects.create(
        key="rdewit", failures=7, locked_until=timezone.now() + timedelta(minutes=5)
    )
    assert 'data-testid="mfa-lock"' in user_tab(admin_client, system_user.person).content.decode()
    admin_client.post(reverse("mfa:lock_clear", args=[system_user.person.pk]))
    assert not LoginThrottle.objects.exists()
    assert AuditEvent.objects.filter(action=Action.LOCK_CLEARED).exists()


def test_break_glass_unlink_from_the_shell(linked_user):
    out = io.StringIO()
    call_command("mfa", "unlink", "RDEWIT", "--reason", "no beheerder reachable", stdout=out)
    assert not Device.objects.exists()
    event = AuditEvent.objects.get(action=Action.UNLINKED_ALL)
    assert event.data["reason"] == "shell: no beheerder reachable" and event.actor is None
    with pytest.raises(CommandError):
        call_command("mfa", "unlink", "rdewit", "--reason", "again")
    with pytest.raises(CommandError):
        call_command("mfa", "unlink", "nobody", "--reason", "x")
