"""mfa.login.login_attempt: one function decides every login (manual 2.3, 3.1)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import Person, User, canonical_username
from audit.models import AuditEvent
from mfa import devices, login, stepup, throttle, totp
from mfa.login import LoginStatus
from mfa.models import Device, LoginThrottle, MfaSettings, TrustedLocation
from tests.helpers import PASSWORD, at_once, code_at

HOME = "198.51.100.7"
OFFICE = "203.0.113.10"
Action = AuditEvent.Action


def attempt(now, code="", username="rdewit", password=PASSWORD, ip=HOME):
    return login.login_attempt(username=username, password=password, code=code, ip=ip, now=now)


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
    devices.device_link(
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
    # the same answer as a wrong password: it does not say the password was right
    assert attempt(frozen_now).status is LoginStatus.FAILED
    assert attempt(frozen_now, ip=OFFICE).status is LoginStatus.FAILED
    assert actions(system_user)[-1] == Action.LOGIN_NO_DEVICE  # for the beheerder's history
    assert attempt(frozen_now, password="wrong").status is LoginStatus.FAILED
    assert LoginThrottle.objects.get(key="rdewit").failures == 3  # no-device counts too


def test_go_live_in_the_future_is_not_live_yet(system_user, frozen_now):
    MfaSettings.objects.update_or_create(
        pk=1, defaults={"go_live_at": frozen_now + timedelta(days=1)}
    )
    assert attempt(frozen_now).status is LoginStatus.OK


def test_five_failures_lock_the_account_with_growing_waits(linked_user, secret, frozen_now):
    now = frozen_now
    for _ in range(4):
        assert attempt(now, password="wrong").status is LoginStatus.FAILED
    # the failure that locks says so, and until when
    fifth = attempt(now, password="wrong")
    assert fifth.status is LoginStatus.LOCKED and fifth.locked_until == now + timedelta(seconds=1)
    throttle = LoginThrottle.objects.get(key="rdewit")
    assert throttle.failures == 5
    assert throttle.locked_until == now + timedelta(seconds=1)
    # inside the wait even the right password and code are refused, and not counted
    locked = attempt(now, code=code_at(secret, now))
    assert locked.status is LoginStatus.LOCKED and locked.locked_until == now + timedelta(seconds=1)
    assert LoginThrottle.objects.get(key="rdewit").failures == 5
    # after the wait one more failure doubles it
    now += timedelta(seconds=2)
    assert attempt(now, password="wrong").status is LoginStatus.LOCKED
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
    assert attempt(frozen_now, ip="192.0.2.99").status is LoginStatus.LOCKED


def test_unknown_account_names_are_throttled_too(db, frozen_now):
    for _ in range(5):
        attempt(frozen_now, username="Nobody")
    assert LoginThrottle.objects.get(key="nobody").locked_until > frozen_now


def test_one_client_ip_gets_at_most_100_failed_logins_an_hour(system_user, frozen_now):
    AuditEvent.objects.bulk_create(
        AuditEvent(
            action=Action.LOGIN_FAILED, ip=HOME, ip_block=HOME, subject_name=f"u{i}", at=frozen_now
        )
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
    assert throttle.throttle_clear(user=system_user, by=admin_user, ip=HOME)
    assert attempt(frozen_now).status is LoginStatus.OK
    assert Action.LOCK_CLEARED in actions(system_user)


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_logins_with_the_same_code_let_exactly_one_through(frozen_now):
    person = Person.objects.create(first_name="Race", last_name="Condition")
    user = User.objects.create_user("race", PASSWORD, person=person)
    secret = totp.new_secret()
    link_time = frozen_now - timedelta(minutes=2)
    devices.device_link(
        user=user, secret=secret, code=code_at(secret, link_time), by=user, ip=HOME, now=link_time
    )
    code = code_at(secret, frozen_now)
    results = at_once(lambda _index: attempt(frozen_now, code=code, username="race").status, 8)
    assert results.count(LoginStatus.OK) == 1
    # the others: replays, or refused unevaluated once five attempts were under way
    assert results.count(LoginStatus.FAILED) + results.count(LoginStatus.LOCKED) == 7


# --- One identity per username (Unicode) -------------------------------------

SAME_ACCOUNT = {
    "long s (U+017F) for s": ("\u017fabine", "sabine"),
    "Kelvin sign (U+212A) for K": ("\u212aees", "kees"),
    "full-width letters": ("\uff52\uff44\uff45\uff57\uff49\uff54", "rdewit"),
    "fi ligature (U+FB01)": ("\ufb01ona", "fiona"),
    "capitals and spaces": ("  RdeWit ", "rdewit"),
}
NO_ACCOUNT = {
    "dotless i (U+0131)": "rdew\u0131t",
    "capital I with dot (U+0130)": "rdew\u0130t",
}


@pytest.fixture
def accounts(db):
    for username in ("rdewit", "sabine", "kees", "fiona"):
        person = Person.objects.create(first_name=username.title(), last_name="Test")
        User.objects.create_user(username, PASSWORD, person=person)


@pytest.mark.parametrize(("typed", "username"), SAME_ACCOUNT.values(), ids=SAME_ACCOUNT)
def test_a_compatible_spelling_is_the_very_same_account_and_counter(
    accounts, frozen_now, typed, username
):
    result = attempt(frozen_now, username=typed)
    assert result.status is LoginStatus.OK and result.user.username == username
    for _ in range(5):
        attempt(frozen_now, username=typed, password="wrong")
    # the lock earned under the odd spelling holds for the plain one, and the other way round
    assert attempt(frozen_now, username=username).status is LoginStatus.LOCKED
    assert LoginThrottle.objects.get().key == username


@pytest.mark.parametrize("typed", NO_ACCOUNT.values(), ids=NO_ACCOUNT)
def test_a_lookalike_that_is_not_the_same_letter_is_no_account(accounts, frozen_now, typed):
    for _ in range(5):
        attempt(frozen_now, username="rdewit", password="wrong")
    # rdewit is locked; the lookalike is another name: no account, whatever the password
    assert attempt(frozen_now, username=typed).status is LoginStatus.FAILED
    assert attempt(frozen_now, username="rdewit").status is LoginStatus.LOCKED
    assert not User.objects.filter(username_canonical=canonical_username(typed)).exists()


def test_a_user_tab_and_report_show_the_lock_earned_under_any_spelling(
    admin_client, accounts, frozen_clock
):
    from django.urls import reverse

    for _ in range(5):  # the fifth locks for 1 s, which the pages read at the same moment
        attempt(frozen_clock, username="\uff52\uff44\uff45\uff57\uff49\uff54", password="wrong")
    rob = User.objects.get(username="rdewit")
    tab = admin_client.get(reverse("accounts:person_detail", args=[rob.person.pk]), {"tab": "user"})
    assert tab.context["mfa_lock"] is not None
    report = admin_client.get(
        reverse("reports:report", args=["systeemgebruikers-en-inlog-stats"]), {"q": "rdewit"}
    )
    assert [row["locked_now"] for row, _cells in report.context["rows"]] == [True]


# --- The lock holds under concurrency; the hash runs outside any transaction --


def test_the_password_hash_runs_outside_any_transaction(linked_user, secret, monkeypatch):
    from django.contrib.auth import hashers

    seen = []
    real = hashers.check_password
    outside = len(connection.atomic_blocks)  # the test's own transaction

    def check(*args, **kwargs):
        seen.append(len(connection.atomic_blocks) > outside)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashers, "check_password", check)
    monkeypatch.setattr("accounts.services.check_password", check)
    now = timezone.now()
    Device.objects.update(last_used_step=0)
    assert attempt(now, code=code_at(secret, now)).status is LoginStatus.OK
    attempt(now, password="wrong")
    attempt(now, username="nobody")
    stepup.step_up(user=linked_user, password=PASSWORD, code="000000", ip=HOME, now=now)
    assert seen and not any(seen), seen


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_sixteen_parallel_wrong_attempts_evaluate_at_most_five(frozen_now, monkeypatch):
    person = Person.objects.create(first_name="Race", last_name="Lock")
    User.objects.create_user("lockrace", PASSWORD, person=person)
    at_once(lambda _index: attempt(frozen_now, username="lockrace", password="wrong"), 16)
    evaluated = AuditEvent.objects.filter(subject_name="lockrace", action=Action.LOGIN_FAILED)
    assert evaluated.count() == settings.MFA_LOCK_AFTER
    throttle = LoginThrottle.objects.get(key="lockrace")
    assert throttle.failures == 5 and throttle.locked_until > frozen_now
