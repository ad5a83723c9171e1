import io
import logging
from datetime import datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection
from django.utils import timezone

from accounts.models import Person, User
from audit.models import AuditEvent
from mfa import crypto, devices, totp
from mfa.errors import MfaError
from mfa.models import Device, MfaSettings, TrustedLocation
from tests.helpers import code_at, link

Action = AuditEvent.Action
IP = "192.0.2.1"


def test_linking_needs_the_current_code(system_user, secret, frozen_now):
    with pytest.raises(MfaError) as error:
        devices.device_link(
            user=system_user, secret=secret, code="123456", by=system_user, ip=IP, now=frozen_now
        )
    assert error.value.code == "invalid_code"
    assert not Device.objects.exists() and not AuditEvent.objects.exists()


def test_linking_names_devices_records_audit_and_mails_the_user(system_user, frozen_now):
    def linked(now):
        secret = totp.new_secret()
        return devices.device_link(
            user=system_user,
            secret=secret,
            code=code_at(secret, now),
            by=system_user,
            ip=IP,
            now=now,
        )

    first = linked(frozen_now)
    second = linked(frozen_now + timedelta(minutes=1))
    assert (first.name, second.name) == ("Apparaat 1", "Apparaat 2")
    assert [e.action for e in AuditEvent.objects.order_by("id")] == [Action.DEVICE_LINKED] * 2
    event = AuditEvent.objects.order_by("id")[0]
    assert (event.subject, event.actor, event.ip) == (system_user, system_user, IP)
    assert len(mail.outbox) == 2 and mail.outbox[0].to == ["rob@example.org"]


def test_mfa_created_and_changed_follow_the_set_of_devices(system_user, frozen_now):
    t1, t2, t3, t4 = (frozen_now + timedelta(days=d) for d in range(4))
    first = link(system_user, t1)
    system_user.refresh_from_db()
    assert (system_user.mfa_created_at, system_user.mfa_changed_at) == (t1, None)
    link(system_user, t2)
    system_user.refresh_from_db()
    assert (system_user.mfa_created_at, system_user.mfa_changed_at) == (t1, t2)
    devices.device_remove(device=first, by=system_user, ip=IP, now=t3)
    system_user.refresh_from_db()
    assert (system_user.mfa_created_at, system_user.mfa_changed_at) == (t1, t3)
    devices.device_remove(device=Device.objects.get(), by=system_user, ip=IP, now=t4)
    system_user.refresh_from_db()
    assert (system_user.mfa_created_at, system_user.mfa_changed_at) == (None, t4)


def test_at_most_five_devices(system_user, frozen_now):
    for minute in range(5):
        link(system_user, frozen_now + timedelta(minutes=minute))
    with pytest.raises(MfaError) as error:
        link(system_user, frozen_now + timedelta(minutes=6))
    assert error.value.code == "too_many_devices"
    assert Device.objects.count() == 5


def test_the_database_refuses_a_sixth_slot(system_user):
    with pytest.raises(IntegrityError):
        Device.objects.create(user=system_user, slot=6, name="X", secret_encrypted="x")


def test_the_same_secret_cannot_be_linked_twice(system_user, secret, frozen_now):
    link(system_user, frozen_now, secret=secret)
    with pytest.raises(MfaError) as error:
        link(system_user, frozen_now + timedelta(minutes=1), secret=secret)
    assert error.value.code == "already_linked"


def test_removing_a_gone_device_is_refused(linked_user, frozen_now):
    device = Device.objects.get()
    devices.device_remove(device=device, by=linked_user, ip=IP, now=frozen_now)
    with pytest.raises(MfaError):
        devices.device_remove(device=device, by=linked_user, ip=IP, now=frozen_now)
    assert AuditEvent.objects.filter(action=Action.DEVICE_REMOVED).count() == 1


def test_rename_keeps_names_unique_per_user(system_user, frozen_now):
    first = link(system_user, frozen_now)
    link(system_user, frozen_now + timedelta(minutes=1))
    devices.device_rename(device=first, name="Telefoon", by=system_user, ip=IP)
    assert Device.objects.get(pk=first.pk).name == "Telefoon"
    with pytest.raises(MfaError):
        devices.device_rename(device=first, name="Apparaat 2", by=system_user, ip=IP)
    assert AuditEvent.objects.filter(action=Action.DEVICE_RENAMED).count() == 1


def test_secrets_are_encrypted_at_rest(linked_user, secret):
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM mfa_device")
        rows = cursor.fetchall()
    dump = repr(rows)
    assert secret not in dump and secret.lower() not in dump
    assert Device.objects.get().secret == secret


def test_keys_rotate_and_reencrypt_keeps_every_secret(linked_user, secret, settings):
    old_key = Fernet.generate_key().decode()
    new_key = Fernet.generate_key().decode()
    settings.MFA_ENCRYPTION_KEYS = [old_key]
    Device.objects.update(secret_encrypted=crypto.encrypt(secret))
    settings.MFA_ENCRYPTION_KEYS = [new_key, old_key]
    assert Device.objects.get().secret == secret
    out = io.StringIO()
    call_command("mfa", "reencrypt", stdout=out)
    assert "1" in out.getvalue()
    settings.MFA_ENCRYPTION_KEYS = [new_key]
    assert Device.objects.get().secret == secret
    assert AuditEvent.objects.filter(action=Action.KEYS_ROTATED).exists()


def test_secrets_and_codes_never_reach_the_logs(client, system_user, caplog, frozen_now):
    from django.urls import reverse

    caplog.set_level(logging.DEBUG)
    client.force_login(system_user)
    client.get(reverse("mfa:enrol"))
    pending = crypto.decrypt(client.session[f"mfa_secret:{system_user.pk}"])
    client.post(reverse("mfa:enrol"), {"code": "12345x"})
    client.post(reverse("mfa:enrol"), {"code": code_at(pending, timezone.now())})
    assert Device.objects.filter(user=system_user).exists()
    text = caplog.text + "".join(str(message.body) for message in mail.outbox)
    assert pending not in text and totp.grouped(pending) not in text


def test_device_secrets_are_not_in_the_django_admin(client, db):
    superuser = User.objects.create_superuser("root", "A-long-enough-password-1")
    client.force_login(superuser)
    assert client.get("/admin/mfa/device/").status_code == 404


def test_mfa_command_manages_trusted_locations_and_go_live(db):
    out = io.StringIO()
    call_command("mfa", "trusted", "add", "203.0.113.7/24", "--name", "Kantoor", stdout=out)
    assert TrustedLocation.objects.get().network == "203.0.113.0/24"
    call_command("mfa", "trusted", "list", stdout=out)
    assert "203.0.113.0/24\tKantoor" in out.getvalue()
    with pytest.raises(Exception, match="already"):
        call_command("mfa", "trusted", "add", "203.0.113.0/24", "--name", "Dubbel")
    with pytest.raises(Exception, match="999.1.1.1/8: Enter a valid IPv4 or IPv6 network"):
        call_command("mfa", "trusted", "add", "999.1.1.1/8", "--name", "Fout")
    with pytest.raises(CommandError, match="No beheerder has MFA linked"):
        call_command("mfa", "golive", "--at", "2027-01-01T09:00", stdout=out)
    call_command("mfa", "golive", "--at", "2027-01-01T09:00", "--force", stdout=out)
    assert MfaSettings.load().go_live_at == timezone.make_aware(datetime(2027, 1, 1, 9, 0))
    assert "MFA goes live at 2027-01-01 09:00 CET." in out.getvalue()
    call_command("mfa", "status", stdout=out)
    assert "Go-live: MFA goes live at 2027-01-01 09:00 CET." in out.getvalue()
    assert AuditEvent.objects.get(action=Action.GO_LIVE_CHANGED).data["forced"] is True
    call_command("mfa", "golive", "--undo", stdout=out)
    assert MfaSettings.load().go_live_at is None
    call_command("mfa", "trusted", "remove", "203.0.113.0/24", stdout=out)
    assert not TrustedLocation.objects.exists()
    changes = AuditEvent.objects.filter(
        action__in=[Action.GO_LIVE_CHANGED, Action.TRUSTED_LOCATION_CHANGED]
    )
    assert changes.count() == 4


def test_the_shell_refuses_a_go_live_while_the_only_beheerder_has_no_mfa(admin_user, linked_user):
    """Rob has an app but links MFA for nobody; the beheerder, who could, has none: after
    the go-live nobody could link an app for anyone. Once she has one, the shell goes live."""
    out = io.StringIO()
    with pytest.raises(CommandError, match="No beheerder has MFA linked"):
        call_command("mfa", "golive", stdout=out)
    assert "Beheerders without MFA: 1\n  beheerder" in out.getvalue()
    assert MfaSettings.load().go_live_at is None
    assert not AuditEvent.objects.filter(action=Action.GO_LIVE_CHANGED).exists()
    link(admin_user, timezone.now() - timedelta(minutes=1))
    call_command("mfa", "golive", stdout=out)
    assert MfaSettings.load().is_live(timezone.now())
    assert "forced" not in AuditEvent.objects.get(action=Action.GO_LIVE_CHANGED).data


def test_mfa_status_names_users_without_device(system_user):
    Person.objects.create(first_name="Geen", last_name="Gebruiker")
    out = io.StringIO()
    call_command("mfa", "status", stdout=out)
    assert "Others without MFA: 1\n  rdewit\tRob de Wit" in out.getvalue()


def test_mfa_expire_removes_every_ended_temporary_device_and_keeps_the_rest(
    system_user, admin_user, frozen_clock, frozen_now
):
    """A person whose temporary access ended and who never comes back keeps the device
    (and its secret) until `manage.py mfa expire` removes it, recorded like the removal
    at their next request; access that still runs and apps without an end stay."""
    ended_at = frozen_now - timedelta(hours=1)
    ended = link(system_user, ended_at - timedelta(days=1), by=admin_user, expires_at=ended_at)
    running = link(
        admin_user, frozen_now - timedelta(days=1), expires_at=frozen_now + timedelta(hours=1)
    )
    own = link(admin_user, frozen_now - timedelta(days=1))
    out = io.StringIO()
    call_command("mfa", "expire", stdout=out)
    assert out.getvalue().strip() == (
        "Removed 1 temporary device(s) whose end has passed, of 1 person(s)."
    )
    assert set(Device.objects.all()) == {running, own}
    expired = AuditEvent.objects.get(action=AuditEvent.Action.DEVICE_EXPIRED)
    assert (expired.subject, expired.at, expired.data["device"]) == (
        system_user,
        frozen_now,
        ended.name,
    )
    out = io.StringIO()
    call_command("mfa", "expire", stdout=out)  # nothing left to do
    assert out.getvalue().strip() == (
        "Removed 0 temporary device(s) whose end has passed, of 0 person(s)."
    )
