"""Issue 18, F1-F9 as an outsider sees them: black-box tests that run unchanged on the
main before the security round (2a5d7b8) and after it.

They use only what both versions share: HTTP through Django's test client on the real
URLs, the `mfa` management command, the models, and the pure modules that stand in for
the person's phone (mfa.totp) or for codes made earlier (mfa.recovery.digest,
mfa.crypto). Time moves by the project's clock (livits.clock.now), never by sleeping.
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import Person, User
from audit.models import AuditEvent
from livits import clock
from mfa import crypto, recovery, totp
from mfa.models import Device, MfaSettings, Passkey, RecoveryCode, TrustedLocation
from tests.helpers import PASSWORD, at_once

LOGIN = "/login/"
LOGOUT = "/logout/"
HOME = "/"
RECOVERY_CODE = "ABCDE23456"


class Clock:
    """The server's clock, moved by the test."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now

    def move(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture
def server_clock(monkeypatch, frozen_now):
    moved = Clock(frozen_now)
    monkeypatch.setattr(clock, "now", moved)
    return moved


def code_at(secret, now, steps=0):
    """What the person's authenticator app shows at `now`."""
    return totp.code_at_step(secret, totp.step_at(now) + steps)


def app_of(user, secret, *, linked_by=None, expires_at=None, slot=1):
    return Device.objects.create(
        user=user,
        slot=slot,
        name=f"Telefoon {slot}",
        secret_encrypted=crypto.encrypt(secret),
        linked_by=linked_by or user,
        expires_at=expires_at,
    )


def login(client, username="rdewit", password=PASSWORD, code="", **extra):
    return client.post(LOGIN, {"username": username, "password": password, "code": code}, **extra)


def signed_in(client):
    """Whether the browser has a session that opens the home page."""
    return client.get(HOME).status_code == 200


def settings_row(**values):
    MfaSettings.objects.update_or_create(pk=1, defaults=values)


# --- F1 ------------------------------------------------------------------------------------


def test_f1_a_passkey_only_person_does_not_get_in_with_the_password_alone(
    system_user, server_clock
):
    settings_row(passkeys_allowed=True)  # no go-live planned
    Passkey.objects.create(
        user=system_user, name="Sleutel", credential_id="cred-1", public_key=b"k"
    )
    client = Client()
    response = login(client)
    assert response.status_code == 200  # the form again, with the generic message
    assert not signed_in(client)
    assert not AuditEvent.objects.filter(action="login_without_device").exists()


# --- F2 ------------------------------------------------------------------------------------


def test_f2_recovery_codes_do_not_outlive_the_temporary_app_they_backed(
    system_user, admin_user, secret, server_clock
):
    start = server_clock.now
    app_of(system_user, secret, linked_by=admin_user, expires_at=start + timedelta(minutes=2))
    RecoveryCode.objects.create(
        user=system_user,
        number=1,
        digest=recovery.digest(RECOVERY_CODE, crypto.recovery_keys()[0]),
        created_at=start,
    )
    settings_row(go_live_at=start + timedelta(minutes=2, seconds=30))
    server_clock.move(minutes=3)  # the temporary access ended, MFA is live
    client = Client()
    assert login(client, code=code_at(secret, server_clock.now)).status_code == 200
    response = login(client, code=RECOVERY_CODE)
    assert response.status_code == 200
    assert not signed_in(client)


# --- F3 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("network", ["::ffff:0:0/96", "::/32", "::ffff:0.0.0.0/97", "64:ff9b::/96"])
def test_f3_the_command_refuses_ipv6_ranges_that_hold_all_of_ipv4(db, network):
    with pytest.raises(CommandError):
        call_command("mfa", "trusted", "add", network, "--name", "Alles")
    assert not TrustedLocation.objects.exists()


def test_f3_a_stored_mapped_range_lets_no_ipv4_client_in_without_a_code(
    system_user, secret, server_clock
):
    app_of(system_user, secret)
    TrustedLocation.objects.create(name="Alles", network="::ffff:0:0/96")  # stored earlier
    client = Client()
    response = login(client, REMOTE_ADDR="::ffff:127.0.0.1")
    assert response.status_code == 200
    assert not signed_in(client)


# --- F4 ------------------------------------------------------------------------------------


def test_f4_an_hour_of_wrong_passwords_never_stops_the_owners_browser(
    system_user, secret, server_clock
):
    """The owner signed in once in her browser; an outsider then sends one wrong password
    a minute for an hour, and the owner signs in again half a minute after minutes 31, 47
    and 60 (on the old main every one of these falls in a lock; a check at a quarter hour
    would fall in a gap and, by succeeding, reset the count the outsider builds)."""
    app_of(system_user, secret)
    owner = Client()
    assert login(owner, code=code_at(secret, server_clock.now)).status_code == 302
    owner.post(LOGOUT)
    outsider = Client()
    for minute in range(1, 61):
        server_clock.move(minutes=1)
        outsider_answer = login(outsider, password="wrong", REMOTE_ADDR="203.0.113.66")
        assert outsider_answer.status_code == 200
        if minute in (31, 47, 60):
            server_clock.move(seconds=30)
            response = login(owner, code=code_at(secret, server_clock.now))
            assert response.status_code == 302, minute
            owner.post(LOGOUT)
            server_clock.move(seconds=-30)


# --- F5 ------------------------------------------------------------------------------------


def test_f5_the_django_admin_answers_another_spelling_of_a_taken_name_with_a_form_error(
    admin_user,
):
    root = User.objects.create_superuser("root", "A-long-enough-password-1")
    client = Client(raise_request_exception=False)
    client.force_login(root)
    session = client.session
    session["mfa_auth_method"] = "login_code"
    session.save()
    other = Person.objects.create(first_name="Bea", last_name="Heer")
    response = client.post(
        "/admin/accounts/user/add/",
        {"username": "BEHEERDER", "person": other.pk, "is_active": "on"},
    )
    assert response.status_code == 200
    assert not User.objects.filter(person=other).exists()


# --- F6 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"username": "rob", "is_active": "on"},
        {"username": "rdewit"},  # is_active off
        {
            "username": "rdewit",
            "is_active": "on",
            "password1": "Een-lang-wachtwoord-7",
            "password2": "Een-lang-wachtwoord-7",
        },
    ],
    ids=["username", "is_active", "password"],
)
def test_f6_a_beheerders_change_to_a_system_user_is_audited(
    admin_user, system_user, server_clock, change
):
    client = Client()
    client.force_login(admin_user)
    session = client.session
    session["mfa_auth_method"] = "login_code"
    session.save()
    before = AuditEvent.objects.filter(subject=system_user).count()
    response = client.post(
        f"/persons/{system_user.person.pk}/system-user/", change, REMOTE_ADDR="192.0.2.4"
    )
    assert response.status_code == 302
    events = AuditEvent.objects.filter(subject=system_user, actor=admin_user, ip="192.0.2.4")
    assert events.count() > 0 and AuditEvent.objects.filter(subject=system_user).count() > before
    assert "Een-lang-wachtwoord-7" not in str(list(events.values_list("data", flat=True)))


# --- F7 ------------------------------------------------------------------------------------


def test_f7_the_crm_refuses_a_first_name_with_a_line_break(admin_user):
    client = Client()
    client.force_login(admin_user)
    session = client.session
    session["mfa_auth_method"] = "login_code"
    session.save()
    data = {"first_name": "Ricardo\r\nBcc: x@example.org", "last_name": "Vries"}
    data |= {"relation_type": "person", "member_status": "none"}
    response = client.post("/persons/new/", data)
    assert response.status_code == 200
    assert not Person.objects.filter(last_name="Vries").exists()
    # the same form with a plain name is accepted: the refusal was the line break's
    assert client.post("/persons/new/", {**data, "first_name": "Ricardo"}).status_code == 302
    assert Person.objects.filter(first_name="Ricardo", last_name="Vries").exists()


def test_f7_a_name_stored_earlier_starts_no_line_in_a_reminder(db):
    person = Person.objects.create(
        first_name="Ricardo\r\nBcc: x@example.org", last_name="Vries", email="r@example.org"
    )
    User.objects.create_user("rvries", PASSWORD, person=person)
    call_command("mfa", "remind")
    [reminder] = [m for m in mail.outbox if "r@example.org" in m.to]
    assert not any(line.startswith("Bcc:") for line in reminder.body.splitlines())


# --- F8 ------------------------------------------------------------------------------------


def test_f8_the_per_address_limit_counts_an_ipv6_slash_64_as_one_client(
    system_user, settings, server_clock
):
    settings.MFA_IP_FAILURES_PER_HOUR = 3
    for host in range(3):
        login(
            Client(),
            username=f"nobody{host}",
            password="wrong",
            REMOTE_ADDR=f"2001:db8:1:2::{host}",
        )
    same_block = Client()
    assert login(same_block, REMOTE_ADDR="2001:db8:1:2::99").status_code == 200
    assert not signed_in(same_block)
    other_block = Client()  # the next /64 is another client
    assert login(other_block, REMOTE_ADDR="2001:db8:1:3::99").status_code == 302


# --- F9 ------------------------------------------------------------------------------------


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_f9_fifty_simultaneous_logins_with_the_right_password_all_get_in():
    """Fifty browsers post the right password at once (threads released together; the
    requests overlap in the password check as on a server)."""
    person = Person.objects.create(first_name="Race", last_name="Right")
    User.objects.create_user("rightrace", PASSWORD, person=person)
    statuses = at_once(lambda _index: login(Client(), username="rightrace").status_code, 50)
    assert statuses == [302] * 50
    assert not AuditEvent.objects.filter(action__in=["locked", "login_failed"]).exists()
