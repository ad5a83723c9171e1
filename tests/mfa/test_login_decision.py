"""mfa.services.login_attempt: one function decides every login (manual 2.3, 3.1)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from accounts.models import Person, User
from mfa import services
from mfa.models import AuditEvent, LoginThrottle, MfaSettings, TrustedLocation
from mfa.services import LoginStatus
from tests.conftest import PASSWORD, code_at

HOME = "198.51.100.7"
OFFICE = "203.0.113.10"
Action = AuditEvent.Action


def attempt(now, code="", username="rdewit", password=PASSWORD, ip=HOME):
    return services.login_attempt(username=username, password=password, code=code, ip=ip, now=now)


def actions(user=None):
    events = AuditEvent.objects.all() if user is None else AuditEvent.objects.filter(subject=user)
    return list(events.order_by("id").values_list("action", flat=True))


def test_linked_user_needs_a_valid_code_away_from_the_office(linked_user, secret, frozen_now):
    assert attempt(frozen_now).status is LoginStatus.FAILED
    assert attempt(frozen_now, code="000000").status is LoginStatus.FAILED
    result = attempt(frozen_now, code=code_at(secret, frozen_now))
    assert result.status is LoginStatus.OK and result.user == linked_user
    assert actions(linked_user)[-1] == Action.LOGIN_CODE
    linked_user.refresh_from_db()
    assert linked_user.login_count == 1


def test_code_with_a_space_in_the_middle_works(linked_user, secret, frozen_now):
    code = code_at(secret, frozen_now)
    assert attempt(frozen_now, code=f"{code[:3]} {code[3:]}").status is LoginStatus.OK


def test_codes_one_step_either_side_work_and_two_steps_do_not(linked_user, secret, frozen_now):
    assert attempt(frozen_now, code=code_at(secret, frozen_now, -2)).status is LoginStatus.FAILED
    assert attempt(frozen_now, code=code_at(secret, frozen_now, 2)).status is LoginStatus.FAILED
    assert attempt(frozen_now, code=code_at(secret, frozen_now, -1)).status is LoginStatus.OK
    assert attempt(frozen_now, code=code_at(secret, frozen_now, 1)).status is LoginStatus.OK


def test_a_code_works_once(linked_user, secret, frozen_now):
    code = code_at(secret, frozen_now)
    assert attempt(frozen_now, code=code).status is LoginStatus.OK
    assert attempt(frozen_now + timedelta(seconds=5), code=code).status is LoginStatus.FAILED
    assert actions(linked_user)[-1] == Action.CODE_REPLAYED


def test_an_older_code_after_a_newer_one_is_refused(linked_user, secret, frozen_now):
    newer = code_at(secret, frozen_now, 1)
    older = code_at(secret, frozen_now)
    assert attempt(frozen_now, code=newer).status is LoginStatus.OK
    assert attempt(frozen_now, code=older).status is LoginStatus.FAILED
    assert actions(linked_user)[-1] == Action.CODE_REPLAYED


def test_the_code_that_linked_the_device_cannot_log_in(system_user, secret, frozen_now):
    code = code_at(secret, frozen_now)
    services.device_link(
        user=system_user, secret=secret, code=code, by=system_user, ip=HOME, now=frozen_now
    )
    assert attempt(frozen_now, code=code).status is LoginStatus.FAILED


def test_trusted_location_needs_no_code(linked_user, frozen_now):
    TrustedLocation.objects.create(name="Kantoor", network="203.0.113.0/24")
    assert attempt(frozen_now, ip=OFFICE).status is LoginStatus.OK
    assert actions(linked_user)[-1] == Action.LOGIN_TRUSTED
    assert attempt(frozen_now, ip=HOME).status is LoginStatus.FAILED


def test_trusted_location_still_needs_the_password(linked_user, frozen_now):
    TrustedLocation.objects.create(name="Kantoor", network="203.0.113.0/24")
    assert attempt(frozen_now, ip=OFFICE, password="wrong").status is LoginStatus.FAILED


def test_before_go_live_a_user_without_device_logs_in_with_password(system_user, frozen_now):
    result = attempt(frozen_now)
    assert result.status is LoginStatus.OK
    assert actions(system_user)[-1] == Action.LOGIN_WITHOUT_DEVICE


def test_after_go_live_a_user_without_device_cannot_log_in_anywhere(system_user, frozen_now):
    TrustedLocation.objects.create(name="Kantoor", network="203.0.113.0/24")
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": frozen_now})
    assert attempt(frozen_now).status is LoginStatus.NO_DEVICE
    assert attempt(frozen_now, ip=OFFICE).status is LoginStatus.NO_DEVICE
    assert actions(system_user)[-1] == Action.LOGIN_NO_DEVICE
    # a wrong password still gets the generic answer, not the MFA one
    assert attempt(frozen_now, password="wrong").status is LoginStatus.FAILED


def test_go_live_in_the_future_is_not_live_yet(system_user, frozen_now):
    MfaSettings.objects.update_or_create(
        pk=1, defaults={"go_live_at": frozen_now + timedelta(days=1)}
    )
    assert attempt(frozen_now).status is LoginStatus.OK


def test_five_failures_lock_the_account_with_growing_waits(linked_user, secret, frozen_now):
    now = frozen_now
    for _ in range(5):
        assert attempt(now, password="wrong").status is LoginStatus.FAILED
    throttle = LoginThrottle.objects.get(key="rdewit")
    assert throttle.failures == 5
    assert throttle.locked_until == now + timedelta(seconds=1)
    # inside the wait even the right password and code are refused, and not counted
    assert attempt(now, code=code_at(secret, now)).status is LoginStatus.FAILED
    assert LoginThrottle.objects.get(key="rdewit").failures == 5
    # after the wait one more failure doubles it
    now += timedelta(seconds=2)
    assert attempt(now, password="wrong").status is LoginStatus.FAILED
    assert LoginThrottle.objects.get(key="rdewit").locked_until == now + timedelta(seconds=2)
    assert Action.LOCKED in actions()
    # success after the wait resets
    now += timedelta(seconds=3)
    assert attempt(now, code=code_at(secret, now)).status is LoginStatus.OK
    assert not LoginThrottle.objects.filter(key="rdewit").exists()


def test_lock_wait_is_capped_at_15_minutes(system_user, frozen_now):
    LoginThrottle.objects.create(key="rdewit", failures=40)
    attempt(frozen_now, password="wrong")
    throttle = LoginThrottle.objects.get(key="rdewit")
    assert throttle.locked_until == frozen_now + timedelta(minutes=15)


def test_wrong_codes_count_like_wrong_passwords(linked_user, frozen_now):
    for _ in range(5):
        attempt(frozen_now, code="000000")
    assert LoginThrottle.objects.get(key="rdewit").failures == 5


def test_throttle_is_per_account_name_across_client_ips_and_case(system_user, frozen_now):
    tries = [("192.0.2.1", "rdewit"), ("192.0.2.2", "RDEWIT"), ("2001:db8::3", "RdeWit")]
    for ip, name in tries + tries[:2]:
        attempt(frozen_now, username=name, password="wrong", ip=ip)
    assert LoginThrottle.objects.get(key="rdewit").failures == 5
    assert attempt(frozen_now, ip="192.0.2.99").status is LoginStatus.FAILED


def test_unknown_account_names_are_throttled_too(db, frozen_now):
    for _ in range(5):
        attempt(frozen_now, username="Nobody")
    assert LoginThrottle.objects.get(key="nobody").locked_until > frozen_now


def test_one_client_ip_gets_at_most_100_failed_logins_an_hour(system_user, frozen_now):
    AuditEvent.objects.bulk_create(
        AuditEvent(action=Action.LOGIN_FAILED, ip=HOME, subject_name=f"u{i}", at=frozen_now)
        for i in range(100)
    )
    assert attempt(frozen_now).status is LoginStatus.FAILED
    assert attempt(frozen_now, ip="192.0.2.50").status is LoginStatus.OK
    assert attempt(frozen_now + timedelta(hours=1, seconds=1)).status is LoginStatus.OK


def test_inactive_user_cannot_log_in_even_with_a_valid_code(linked_user, secret, frozen_now):
    User.objects.filter(pk=linked_user.pk).update(is_active=False)
    assert attempt(frozen_now, code=code_at(secret, frozen_now)).status is LoginStatus.FAILED


def test_a_beheerder_can_clear_the_lock(system_user, admin_user, frozen_now):
    LoginThrottle.objects.create(
        key="rdewit", failures=9, locked_until=frozen_now + timedelta(hours=1)
    )
    assert services.throttle_clear(user=system_user, by=admin_user, ip=HOME)
    assert attempt(frozen_now).status is LoginStatus.OK
    assert Action.LOCK_CLEARED in actions(system_user)


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_logins_with_the_same_code_let_exactly_one_through(frozen_now):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises all writers; the race is exercised on PostgreSQL")
    person = Person.objects.create(first_name="Race", last_name="Condition")
    user = User.objects.create_user("race", PASSWORD, person=person)
    secret = services.totp.new_secret()
    link_time = frozen_now - timedelta(minutes=2)
    services.device_link(
        user=user, secret=secret, code=code_at(secret, link_time), by=user, ip=HOME, now=link_time
    )
    code = code_at(secret, frozen_now)
    barrier = threading.Barrier(8)
    results = []

    def worker():
        try:
            barrier.wait()
            results.append(attempt(frozen_now, code=code, username="race").status)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(LoginStatus.OK) == 1
    assert results.count(LoginStatus.FAILED) == 7
