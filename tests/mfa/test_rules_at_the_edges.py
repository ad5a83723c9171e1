"""The MFA rules where they are easiest to get wrong: one person's code or recovery code is
never another's, the lock and the per-IP limit count what they should, a step-up obeys
the same throttle as the login, challenges are bound to their purpose and person, names
and dates are kept right, and a mail that cannot go out breaks nothing."""

from datetime import timedelta

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone

from accounts.models import Person, User
from audit.models import FAILURE_ACTIONS, AuditEvent
from mfa import devices, login, passkeys, recovery, rollout, stepup, throttle, totp
from mfa.login import LoginStatus
from mfa.models import Device, LoginThrottle, MfaSettings, WebAuthnChallenge
from tests.helpers import PASSWORD, code_at, link

IP = "192.0.2.7"
BROKEN = "stuk@example.org"


class BrokenForSomeone(EmailBackend):
    """The test outbox, except that mail to BROKEN fails as with a dead SMTP server (which
    says nothing when asked to fail silently, as Django's SMTP backend does)."""

    def send_messages(self, messages):
        if any(BROKEN in message.to for message in messages):
            if self.fail_silently:
                return 0
            raise OSError("the mail server does not answer")
        return super().send_messages(messages)


def member(username, email, now=None):
    person = Person.objects.create(first_name=username.title(), last_name="Lid", email=email)
    return User.objects.create_user(username, PASSWORD, person=person)


def attempt(username, code, now, password=PASSWORD, ip=IP):
    return login.login_attempt(username=username, password=password, code=code, ip=ip, now=now)


# --- One person's factors are not another's ---------------------------------------------


def test_a_code_used_by_one_person_leaves_the_others_devices_alone(linked_user, frozen_now):
    other = member("astrid", "astrid@example.org")
    secret = totp.new_secret()
    link(other, frozen_now - timedelta(minutes=1), secret=secret)
    robs = Device.objects.get(user=linked_user).last_used_step
    assert attempt("astrid", code_at(secret, frozen_now), frozen_now).status is LoginStatus.OK
    assert Device.objects.get(user=other).last_used_step == totp.step_at(frozen_now)
    assert Device.objects.get(user=linked_user).last_used_step == robs


def test_a_recovery_code_opens_only_its_owners_account(linked_user, frozen_now):
    other = member("astrid", "astrid@example.org")
    link(other, frozen_now - timedelta(minutes=1))
    codes = recovery.recovery_codes_make(user=other, ip=None, now=frozen_now)
    assert attempt("rdewit", codes[0], frozen_now).status is LoginStatus.FAILED
    assert attempt("astrid", codes[0], frozen_now).status is LoginStatus.OK


# --- The throttle ---------------------------------------------------------------------------


@pytest.mark.parametrize("lock_after", [1, 2, 3])
def test_at_most_lock_after_attempts_are_evaluated_at_once(db, settings, frozen_now, lock_after):
    """Turns whose outcome is not known yet (the hash still running) count: the next one is
    busy, not locked, and nothing has been counted as a failure."""
    settings.MFA_LOCK_AFTER = lock_after
    budget = throttle.Budget.of("rdewit", None)
    turns = [throttle.throttle_reserve(budget, frozen_now) for _ in range(lock_after + 1)]
    assert [turn.granted for turn in turns] == [True] * lock_after + [False]
    assert turns[lock_after].busy and turns[lock_after].locked_until is None
    assert LoginThrottle.objects.get(key="rdewit").failures == 0


def test_the_failure_that_reaches_the_limit_locks_once_and_those_under_way_cannot_lock_again(
    linked_user, frozen_now
):
    """Five turns at once, all failing: one lock, one record; the next attempt is refused
    by the lock, and after the wait exactly one at a time is evaluated."""
    budget = throttle.Budget.of("rdewit", None)
    assert all(throttle.throttle_reserve(budget, frozen_now).granted for _ in range(5))
    ends = [
        throttle.failure_record(
            budget=budget, user=linked_user, ip=IP, now=frozen_now, action="login_failed"
        )
        for _ in range(5)
    ]
    assert ends == [None] * 4 + [frozen_now + timedelta(seconds=1)]
    locks = AuditEvent.objects.filter(action=AuditEvent.Action.LOCKED)
    assert [(lock.at, lock.data) for lock in locks] == [(frozen_now, {"failures": 5, "wait": 1})]
    assert throttle.throttle_reserve(budget, frozen_now).locked_until == ends[-1]
    later = frozen_now + timedelta(seconds=2)
    assert throttle.throttle_reserve(budget, later).granted  # this one is evaluated ...
    assert throttle.throttle_reserve(budget, later).busy  # ... and alone


def test_a_dead_attempts_turn_lapses_with_its_lease(system_user, settings, frozen_now):
    settings.MFA_LOCK_AFTER = 1
    budget = throttle.Budget.of("rdewit", None)
    assert throttle.throttle_reserve(budget, frozen_now).granted  # its request dies here
    assert throttle.throttle_reserve(budget, frozen_now).busy
    lapsed = frozen_now + timedelta(seconds=settings.MFA_ATTEMPT_SECONDS)
    assert throttle.throttle_reserve(budget, lapsed).granted


def test_a_busy_attempt_waits_for_its_turn_and_is_not_counted(
    system_user, settings, frozen_now, monkeypatch
):
    """F9: the attempt that finds every turn taken waits until one is given back, then is
    evaluated; nobody is told of failures that did not happen."""
    settings.MFA_LOCK_AFTER = 1
    budget = throttle.Budget.of("rdewit", None)
    assert throttle.throttle_reserve(budget, frozen_now).granted  # another login, under way
    waits = []

    def other_login_ends(seconds):  # while this one waits, the other succeeds
        waits.append(seconds)
        throttle.throttle_success(budget, frozen_now)

    monkeypatch.setattr("mfa.throttle.time.sleep", other_login_ends)
    assert attempt("rdewit", "", frozen_now).status is LoginStatus.OK
    assert len(waits) == 1
    assert not AuditEvent.objects.filter(action__in=FAILURE_ACTIONS).exists()


def test_a_busy_attempt_that_waited_long_enough_is_asked_to_try_again(
    system_user, settings, frozen_now, monkeypatch
):
    settings.MFA_LOCK_AFTER = 1
    settings.MFA_ATTEMPT_WAIT_SECONDS = 0  # the wait is over at once
    budget = throttle.Budget.of("rdewit", None)
    assert throttle.throttle_reserve(budget, frozen_now).granted
    monkeypatch.setattr("mfa.throttle.time.sleep", lambda seconds: None)
    assert attempt("rdewit", "", frozen_now).status is LoginStatus.BUSY
    assert not AuditEvent.objects.exists()  # nothing counted, nothing recorded


def test_the_per_ip_limit_counts_failures_not_logins(linked_user, secret, settings, frozen_now):
    settings.MFA_IP_FAILURES_PER_HOUR = 2
    for steps in (0, 1, 2):  # three good logins from one address
        moment = frozen_now + timedelta(seconds=30 * steps)
        assert attempt("rdewit", code_at(secret, moment), moment).status is LoginStatus.OK
    for _ in range(2):
        attempt("rdewit", "", frozen_now, password="wrong", ip="198.51.100.9")
    later = frozen_now + timedelta(seconds=90)
    refused = attempt("rdewit", code_at(secret, later), later, ip="198.51.100.9")
    assert refused.status is LoginStatus.FAILED  # that address is over its limit


class CountingHasher(MD5PasswordHasher):
    """MD5, counting the passwords it checks."""

    algorithm = "counting-md5"
    checks = 0

    def verify(self, password, encoded):
        CountingHasher.checks += 1
        return super().verify(password, encoded)


def test_a_refusal_before_the_password_check_still_spends_one_hash(
    linked_user, secret, settings, frozen_now, monkeypatch
):
    """A blocked address, a step-up on a locked name: as slow as a real check, so that the
    answer's timing does not tell the refusal apart."""
    import accounts.services

    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    monkeypatch.setattr(accounts.services, "_DUMMY_HASH", None)
    monkeypatch.setattr(CountingHasher, "checks", 0)
    settings.MFA_IP_FAILURES_PER_HOUR = 0  # every address is over its limit
    attempt("rdewit", code_at(secret, frozen_now), frozen_now)
    assert CountingHasher.checks == 1
    LoginThrottle.objects.create(key="rdewit", failures=9, locked_until=frozen_now + timedelta(1))
    settings.MFA_IP_FAILURES_PER_HOUR = 100
    stepup.step_up(
        user=linked_user, password=PASSWORD, code=code_at(secret, frozen_now), ip=IP, now=frozen_now
    )
    assert CountingHasher.checks == 2


def test_a_step_up_obeys_the_lock_and_the_per_ip_limit_and_resets_the_count(
    linked_user, secret, settings, frozen_now
):
    def step_up(steps, password=PASSWORD, ip=IP):  # with the code `steps` after now's
        return stepup.step_up(
            user=linked_user,
            password=password,
            code=code_at(secret, frozen_now, steps),
            ip=ip,
            now=frozen_now,
        )

    assert not step_up(0, password="wrong")
    assert LoginThrottle.objects.get(key="rdewit").failures == 1
    assert step_up(0)
    assert not LoginThrottle.objects.filter(key="rdewit").exists()  # a success starts again
    for _ in range(5):
        step_up(1, password="wrong")
    assert not step_up(1)  # locked: even password and a fresh code are refused
    LoginThrottle.objects.all().delete()
    settings.MFA_IP_FAILURES_PER_HOUR = 5  # the five failures above came from IP
    assert not step_up(1)
    assert step_up(1, ip="198.51.100.9")


# --- Passkey challenges ------------------------------------------------------------------


def test_a_challenge_serves_its_own_purpose_and_person_once(linked_user, frozen_now):
    other = member("astrid", "astrid@example.org")
    register = WebAuthnChallenge.Purpose.REGISTER
    login = WebAuthnChallenge.Purpose.LOGIN
    use = passkeys._challenge_use
    challenge = passkeys._challenge_issue(register, linked_user, frozen_now)
    assert not use(challenge, login, linked_user, frozen_now)  # another purpose
    challenge = passkeys._challenge_issue(register, linked_user, frozen_now)
    assert not use(challenge, register, other, frozen_now)  # another person
    challenge = passkeys._challenge_issue(register, linked_user, frozen_now)
    assert not use("not-ours", register, linked_user, frozen_now)  # another challenge
    assert use(challenge, register, linked_user, frozen_now)
    assert not use(challenge, register, linked_user, frozen_now)  # once


def test_a_challenge_lasts_five_minutes_from_the_moment_it_was_issued(linked_user, settings):
    login = WebAuthnChallenge.Purpose.LOGIN
    issued = timezone.now() + timedelta(days=400)  # the service's moment, not the wall clock
    lasts = timedelta(seconds=settings.MFA_WEBAUTHN_CHALLENGE_SECONDS)
    challenge = passkeys._challenge_issue(login, None, issued)
    assert passkeys._challenge_use(challenge, login, None, issued + lasts - timedelta(seconds=1))
    challenge = passkeys._challenge_issue(login, None, issued)
    assert not passkeys._challenge_use(
        challenge, login, None, issued + lasts + timedelta(seconds=1)
    )


def test_a_new_challenge_keeps_the_fresh_ones_of_other_tabs(linked_user, frozen_now, settings):
    login = WebAuthnChallenge.Purpose.LOGIN
    first = passkeys._challenge_issue(login, None, frozen_now)
    later = frozen_now + timedelta(seconds=settings.MFA_WEBAUTHN_CHALLENGE_SECONDS - 1)
    second = passkeys._challenge_issue(login, None, later)
    assert passkeys._challenge_use(first, login, None, later)
    assert passkeys._challenge_use(second, login, None, later)


# --- Names and moments -----------------------------------------------------------------------


def test_a_new_device_takes_the_next_free_name(linked_user, frozen_now):
    first = Device.objects.get(user=linked_user)
    devices.device_rename(device=first, name="Apparaat 2", by=linked_user, ip=None)
    second = link(linked_user, frozen_now)  # slot 2, whose name is taken
    assert second.name == "Apparaat 3"


def test_linking_again_after_an_unlink_is_a_change(system_user, admin_user, frozen_now):
    link(system_user, frozen_now - timedelta(days=10))
    devices.device_unlink_all(user=system_user, by=admin_user, ip=None, now=frozen_now)
    again = frozen_now + timedelta(days=1)
    link(system_user, again)
    system_user.refresh_from_db()
    assert system_user.mfa_created_at == again
    assert system_user.mfa_changed_at == again


# --- Mail that cannot go out -------------------------------------------------------------


def test_a_reminder_that_cannot_be_sent_now_waits_in_the_outbox(admin_user, settings, frozen_now):
    from outbox.models import OutboxMail

    settings.EMAIL_BACKEND = "tests.mfa.test_rules_at_the_edges.BrokenForSomeone"
    MfaSettings.objects.update_or_create(
        pk=1, defaults={"go_live_at": frozen_now + timedelta(days=20)}
    )
    link(admin_user, frozen_now)
    reachable = member("bereikbaar", "lid@example.org")
    unreachable = member("onbereikbaar", BROKEN)
    earlier = frozen_now - timedelta(days=3)
    User.objects.filter(pk=unreachable.pk).update(mfa_reminded_at=earlier)
    sent = rollout.reminders_send(by=admin_user, now=frozen_now, site_url="", language="nl")
    assert sent == 2 and [message.to for message in mail.outbox] == [["lid@example.org"]]
    assert User.objects.get(pk=reachable.pk).mfa_reminded_at == frozen_now
    assert User.objects.get(pk=unreachable.pk).mfa_reminded_at == frozen_now
    waiting = OutboxMail.objects.get(to=BROKEN)  # the outbox tries it again later
    assert waiting.status == OutboxMail.Status.QUEUED and waiting.next_attempt_at > frozen_now


def test_a_notice_that_cannot_be_sent_does_not_stop_the_change(
    linked_user, secret, settings, frozen_now, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.mfa.test_rules_at_the_edges.BrokenForSomeone"
    linked_user.person.email = BROKEN
    linked_user.person.save()
    second = link(linked_user, frozen_now - timedelta(seconds=30))
    with django_capture_on_commit_callbacks(execute=True):
        stepup.factor_remove_own(thing=second, ip=IP, now=frozen_now)
    assert not Device.objects.filter(pk=second.pk).exists()


def test_a_name_that_grows_when_folded_keeps_its_throttle_key_within_the_column(db, frozen_now):
    """NFKC turns each ligature into two letters: 150 typed become 300, and the key column
    holds 150 (PostgreSQL would refuse a longer one with a server error)."""
    assert attempt("\ufb01" * 150, "", frozen_now).status is LoginStatus.FAILED
    assert [len(key) for key in LoginThrottle.objects.values_list("key", flat=True)] == [150]
