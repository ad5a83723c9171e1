"""mfa.factors: one decision says which ways in a person has now, and every end of a factor
follows through to the recovery codes and the sessions (issue 18: F1, F2, the lifecycle)."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent
from mfa import devices, factors, login, passkeys, recovery, stepup, throttle
from mfa.login import LoginStatus
from mfa.middleware import AUTH_METHOD
from mfa.models import Device, LoginThrottle, MfaSettings, Passkey, RecoveryCode
from tests.helpers import PASSWORD, at_once, code_at, link

Action = AuditEvent.Action
HOME = "198.51.100.7"


def attempt(now, code="", username="rdewit", password=PASSWORD, ip=HOME, marks=None):
    return login.login_attempt(
        username=username, password=password, code=code, ip=ip, now=now, marks=marks
    )


def passkey_of(user, name="Sleutel"):
    """A passkey row (the WebAuthn ceremony has its own tests in test_passkeys)."""
    return Passkey.objects.create(
        user=user, name=name, credential_id=f"cred-{user.pk}-{name}", public_key=b"k"
    )


def allow_passkeys(allowed=True):
    MfaSettings.objects.update_or_create(pk=1, defaults={"passkeys_allowed": allowed})


def go_live(at):
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": at})


def signed_in_client(user, frozen_clock):
    """A browser signed in as `user` with a second factor, at the frozen clock."""
    client = Client()
    client.force_login(user)
    session = client.session
    session[AUTH_METHOD] = Action.LOGIN_CODE
    session.save()
    assert client.get(reverse("mfa:enrol")).status_code == 200
    return client


def logged_out(client):
    response = client.get(reverse("mfa:enrol"))
    return response.status_code == 302 and reverse("accounts:login") in response["Location"]


# --- F1: a person who has any factor must present one ------------------------------------


@pytest.mark.parametrize("live", [False, True], ids=["before go-live", "after go-live"])
def test_f1_a_passkey_only_person_never_gets_in_with_the_password_alone(
    linked_user, secret, frozen_now, live
):
    allow_passkeys()
    passkey_of(linked_user)
    device = Device.objects.get(user=linked_user)
    stepup.factor_remove_own(thing=device, ip=HOME, now=frozen_now)
    assert factors.has_mfa(linked_user, frozen_now)  # the report counts a factor ...
    if live:
        go_live(frozen_now)
    later = frozen_now + timedelta(minutes=1)
    assert attempt(later).status is LoginStatus.FAILED  # ... so the password alone is refused
    assert attempt(later, code="123456").status is LoginStatus.FAILED
    assert not AuditEvent.objects.filter(action=Action.LOGIN_WITHOUT_DEVICE).exists()
    refused = AuditEvent.objects.filter(action=Action.CODE_FAILED, subject=linked_user)
    assert [event.data for event in refused] == [{"passkey_only": True}] * 2


def test_f1_passkeys_switched_off_leave_no_factor_and_the_password_alone_before_go_live(
    system_user, frozen_now
):
    allow_passkeys()
    passkey_of(system_user)
    assert attempt(frozen_now).status is LoginStatus.FAILED
    passkeys.passkeys_allow(allowed=False, by=system_user, ip=None, now=frozen_now)
    assert not factors.has_mfa(system_user, frozen_now)
    result = attempt(frozen_now + timedelta(seconds=1))
    assert result.status is LoginStatus.OK and result.method == Action.LOGIN_WITHOUT_DEVICE


def test_a_trusted_location_stands_in_for_any_factor_of_a_person_who_has_one(
    system_user, frozen_now
):
    from mfa.models import TrustedLocation

    TrustedLocation.objects.create(name="Kantoor", network="203.0.113.0/24")
    allow_passkeys()
    passkey_of(system_user)
    go_live(frozen_now)
    result = attempt(frozen_now, ip="203.0.113.9")
    assert result.status is LoginStatus.OK and result.method == Action.LOGIN_TRUSTED


# --- One definition: Python and SQL agree -----------------------------------------------


@pytest.mark.parametrize(
    ("app", "expired", "passkey", "allowed", "expected"),
    [
        (False, False, False, True, False),
        (True, False, False, False, True),
        (True, True, False, False, False),
        (False, False, True, True, True),
        (False, False, True, False, False),
        (True, True, True, True, True),
    ],
)
def test_factors_of_and_the_reports_condition_agree(
    system_user, frozen_now, app, expired, passkey, allowed, expected
):
    allow_passkeys(allowed)
    if app:
        end = frozen_now - timedelta(seconds=1) if expired else None
        device = link(system_user, frozen_now - timedelta(hours=1))
        Device.objects.filter(pk=device.pk).update(expires_at=end)
    if passkey:
        passkey_of(system_user)
    found = factors.factors_of(system_user, now=frozen_now)
    in_sql = User.objects.filter(factors.has_factor_condition(frozen_now)).exists()
    assert found.any is expected and in_sql is expected
    assert factors.has_mfa(system_user, frozen_now) is expected


def test_recovery_codes_count_only_beside_another_factor(linked_user, frozen_now):
    recovery.recovery_codes_make(user=linked_user, ip=None, now=frozen_now)
    assert factors.factors_of(linked_user, now=frozen_now).recovery
    RecoveryCode.objects.update()  # the codes stay in the table ...
    Device.objects.filter(user=linked_user).update(expires_at=frozen_now)
    found = factors.factors_of(linked_user, now=frozen_now)
    assert found.recovery_unused == 10 and not found.recovery  # ... but back up nothing


def test_no_recovery_codes_are_made_without_a_factor(system_user, frozen_now):
    from mfa.errors import MfaError

    with pytest.raises(MfaError, match="no_factor"):
        recovery.recovery_codes_make(user=system_user, ip=None, now=frozen_now)
    assert not RecoveryCode.objects.exists()


# --- Every end of the last factor: recovery codes and sessions follow -------------------


def _end_by_expiry(user, admin, frozen_now):
    return login.login_attempt(  # the next login notices the end and removes the app
        username=user.username,
        password=PASSWORD,
        code="",
        ip=HOME,
        now=frozen_now + timedelta(hours=2),
    )


def _end_by_own_removal(user, admin, frozen_now):
    device = Device.objects.get(user=user)
    stepup.factor_remove_own(thing=device, ip=HOME, now=frozen_now)


def _end_by_unlink(user, admin, frozen_now):
    devices.device_unlink_all(user=user, by=admin, ip=HOME, now=frozen_now)


def _end_by_shell_unlink(user, admin, frozen_now):
    call_command("mfa", "unlink", user.username, "--reason", "phone lost", stdout=io.StringIO())


def _end_by_passkeys_off(user, admin, frozen_now):
    passkeys.passkeys_allow(allowed=False, by=admin, ip=HOME, now=frozen_now)


ENDS = {
    "expiry": ("expired", _end_by_expiry),
    "own removal": ("removed", _end_by_own_removal),
    "beheerder unlink": ("unlinked", _end_by_unlink),
    "mfa unlink": ("unlinked", _end_by_shell_unlink),
    "passkeys switched off": ("passkeys_off", _end_by_passkeys_off),
}


@pytest.mark.parametrize("how", ENDS)
def test_the_end_of_the_last_factor_voids_the_recovery_codes_and_ends_the_sessions(
    system_user, admin_user, secret, frozen_clock, how
):
    now = frozen_clock
    reason, end = ENDS[how]
    if how == "passkeys switched off":
        allow_passkeys()
        passkey_of(system_user)
    else:
        expires = now + timedelta(hours=1) if how == "expiry" else None
        link(system_user, now - timedelta(minutes=1), secret=secret, expires_at=expires)
    system_user.test_secret = secret
    recovery.recovery_codes_make(user=system_user, ip=None, now=now)
    browser = signed_in_client(system_user, frozen_clock)
    end(system_user, admin_user, now)
    assert not RecoveryCode.objects.filter(user=system_user).exists()
    voided = AuditEvent.objects.get(action=Action.RECOVERY_INVALIDATED, subject=system_user)
    assert voided.data == {"count": 10, "reason": reason}
    ended = AuditEvent.objects.get(action=Action.SESSIONS_ENDED, subject=system_user)
    assert ended.data["reason"] == reason
    assert logged_out(browser)


def test_a_factor_that_is_not_the_last_leaves_codes_and_sessions_alone(
    linked_user, secret, frozen_clock
):
    second = link(linked_user, frozen_clock - timedelta(minutes=1))
    recovery.recovery_codes_make(user=linked_user, ip=None, now=frozen_clock)
    browser = signed_in_client(linked_user, frozen_clock)
    stepup.factor_remove_own(thing=second, ip=HOME, now=frozen_clock)
    assert RecoveryCode.objects.filter(user=linked_user).count() == 10
    assert not AuditEvent.objects.filter(action=Action.SESSIONS_ENDED).exists()
    assert not logged_out(browser)


def test_the_person_who_removes_their_own_last_factor_stays_signed_in_here(
    client, linked_user, secret, frozen_clock
):
    from tests.helpers import confirmed

    confirmed(client, linked_user)
    elsewhere = signed_in_client(linked_user, frozen_clock)
    device = Device.objects.get(user=linked_user)
    response = client.post(reverse("mfa:device_remove"), {"device": device.pk})
    assert response.status_code == 302 and not Device.objects.filter(pk=device.pk).exists()
    assert client.get(reverse("mfa:enrol")).status_code == 200  # this session goes on
    assert logged_out(elsewhere)  # the others end


# --- The only way in is the project's decision ------------------------------------------


def test_django_authenticate_lets_nobody_in_with_a_password(system_user, linked_user):
    assert authenticate(username="rdewit", password=PASSWORD) is None
    assert authenticate(username=system_user.username, password=PASSWORD) is None


def test_the_django_admin_login_is_ours(client, system_user):
    response = client.post(
        reverse("admin:login"), {"username": "rdewit", password_field(): PASSWORD}
    )
    assert "_auth_user_id" not in client.session
    assert response.status_code in (200, 302)


def password_field():
    return "password"


# --- F4: lock-out as a weapon (OWASP device cookies) -------------------------------------


def marks_after_login(result):
    return {result.user.username_canonical: (result.mark.pk, result.mark.token)}


def test_f4_an_hour_of_wrong_passwords_never_stops_the_owners_marked_browser(
    linked_user, secret, frozen_now
):
    """An outsider sends one wrong password a minute for an hour; each minute the owner
    signs in from her marked browser with password and code."""
    owner = marks_after_login(attempt(frozen_now, code=code_at(secret, frozen_now)))
    refused_outsider = 0
    for minute in range(1, 61):
        now = frozen_now + timedelta(minutes=minute)
        outsider = attempt(now, password="wrong", ip="203.0.113.66")
        refused_outsider += outsider.status is LoginStatus.LOCKED
        assert outsider.status is not LoginStatus.OK
        result = attempt(now + timedelta(seconds=1), code=code_at(secret, now, 1), marks=owner)
        assert result.status is LoginStatus.OK, minute
    assert refused_outsider >= 50  # the unmarked browsers stayed locked nearly all the hour
    lock = LoginThrottle.objects.get(key="rdewit")
    assert lock.locked_until > frozen_now + timedelta(minutes=60)


def test_f4_a_marked_browser_has_its_own_small_budget_and_lock(
    linked_user, secret, settings, frozen_now
):
    owner = marks_after_login(attempt(frozen_now, code=code_at(secret, frozen_now)))
    for _ in range(settings.MFA_LOCK_AFTER_BROWSER - 1):
        assert attempt(frozen_now, password="wrong", marks=owner).status is LoginStatus.FAILED
    locked = attempt(frozen_now, password="wrong", marks=owner)
    assert locked.status is LoginStatus.LOCKED and locked.browser_lock
    # the unmarked budget is untouched: another browser still signs in
    later = frozen_now + timedelta(seconds=30)
    assert attempt(later, code=code_at(secret, later)).status is LoginStatus.OK
    lock = AuditEvent.objects.get(action=Action.LOCKED)
    assert lock.data["browser"] is True


def test_f4_a_mark_of_another_person_or_a_forgotten_mark_counts_as_unmarked(
    linked_user, secret, frozen_now
):
    owner = marks_after_login(attempt(frozen_now, code=code_at(secret, frozen_now)))
    mark_id, token = owner["rdewit"]
    forged = {"rdewit": (mark_id, "not-the-token")}
    for _ in range(5):
        attempt(frozen_now, password="wrong", marks=forged)
    assert attempt(frozen_now, password="wrong", marks=forged).status is LoginStatus.LOCKED
    from mfa.models import DeviceMark

    DeviceMark.objects.filter(pk=mark_id).delete()  # "Vergeten"
    assert attempt(frozen_now, password="wrong", marks=owner).status is LoginStatus.LOCKED


def test_f4_the_login_page_gives_the_browser_its_mark_and_says_which_lock(
    client, linked_user, secret, frozen_clock
):
    from mfa.marks import COOKIE

    now = frozen_clock
    response = client.post(
        reverse("accounts:login"),
        {"username": "rdewit", "password": PASSWORD, "code": code_at(secret, now)},
    )
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] and cookie.value
    client.post(reverse("accounts:logout"))
    outsider = Client()
    for _ in range(6):
        answer = outsider.post(
            reverse("accounts:login"), {"username": "rdewit", "password": "wrong", "code": ""}
        )
    assert answer.context["form"].has_error("__all__", "locked")
    # the owner's browser carries the mark: not locked, signs in
    response = client.post(
        reverse("accounts:login"),
        {"username": "rdewit", "password": PASSWORD, "code": code_at(secret, now, 1)},
    )
    assert response.status_code == 302


def test_f4_refusals_by_a_lock_count_in_the_addresss_hourly_limit(
    system_user, settings, frozen_now
):
    settings.MFA_IP_FAILURES_PER_HOUR = 8
    for _ in range(8):
        attempt(frozen_now, password="wrong")
    refused = AuditEvent.objects.filter(action=Action.LOCK_REFUSED).count()
    assert refused == 3  # five failures, then three refusals by the lock
    assert throttle.address_blocked(HOME, frozen_now)


# --- F8: IPv6 clients are counted per /64 -----------------------------------------------


def test_f8_the_per_address_limit_counts_an_ipv6_slash_64_as_one_client(
    system_user, settings, frozen_now
):
    settings.MFA_IP_FAILURES_PER_HOUR = 3
    for host in range(3):
        attempt(frozen_now, username=f"nobody{host}", password="wrong", ip=f"2001:db8:1:2::{host}")
    assert throttle.address_blocked("2001:db8:1:2:ffff::1", frozen_now)
    assert not throttle.address_blocked("2001:db8:1:3::1", frozen_now)
    assert attempt(frozen_now, ip="2001:db8:1:2::99").status is LoginStatus.FAILED
    assert attempt(frozen_now, ip="2001:db8:1:3::99").status is LoginStatus.OK


# --- F9: simultaneous right passwords all get in -----------------------------------------


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_f9_fifty_simultaneous_logins_with_the_right_password_all_get_in(frozen_now):
    from accounts.models import Person

    person = Person.objects.create(first_name="Race", last_name="Right")
    User.objects.create_user("rightrace", PASSWORD, person=person)
    results = at_once(lambda _index: attempt(frozen_now, username="rightrace").status, 50)
    assert results == [LoginStatus.OK] * 50
    assert not AuditEvent.objects.filter(action__in=[Action.LOCKED, Action.LOGIN_FAILED]).exists()
