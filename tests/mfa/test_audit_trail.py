"""Every MFA change and every attempt leaves a complete audit record: what, about whom, by
whom, under which name, from where, when and with which details; and the person hears of
the changes that matter by e-mail, with the moment in local time."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import formats, timezone, translation

from accounts.models import Person, User
from audit.models import AuditEvent
from mfa import devices, login, recovery, rollout, stepup, throttle
from mfa.errors import MfaError
from mfa.models import Device, LoginThrottle
from tests.helpers import PASSWORD, code_at, link

Action = AuditEvent.Action
IP = "192.0.2.7"


def trail(after=0):
    """The records written since record `after`, as comparable tuples."""
    return [
        (
            event.action,
            event.subject,
            event.actor,
            event.subject_name,
            event.ip,
            event.at,
            event.data,
        )
        for event in AuditEvent.objects.filter(pk__gt=after).order_by("pk")
    ]


def last_pk():
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def local(moment):
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


@pytest.fixture
def english():
    with translation.override("en"):
        yield


def attempt(user, code, now, username=None, password=PASSWORD):
    return login.login_attempt(
        username=username or user.username, password=password, code=code, ip=IP, now=now
    )


def test_wrong_codes_and_the_lock_they_earn_are_recorded_in_full(linked_user, secret, frozen_now):
    before = last_pk()
    wrong = code_at(secret, frozen_now, steps=10)  # outside the window: simply wrong
    for _ in range(5):
        attempt(linked_user, wrong, frozen_now, username="RDeWit")  # a compatible spelling
    failed: tuple[object, ...] = (
        Action.CODE_FAILED,
        linked_user,
        None,
        "rdewit",
        IP,
        frozen_now,
        {},
    )
    locked = (
        Action.LOCKED,
        linked_user,
        None,
        "rdewit",
        IP,
        frozen_now,
        {"failures": 5, "wait": 1},
    )
    assert trail(before) == [failed] * 5 + [locked]
    throttle = LoginThrottle.objects.get(key="rdewit")
    assert throttle.last_failure_at == frozen_now
    assert throttle.locked_until == frozen_now + timedelta(seconds=1)


def test_an_unknown_name_is_recorded_under_the_name_typed(db, frozen_now):
    login.login_attempt(username="Niemand", password="x", code="", ip=IP, now=frozen_now)
    assert trail() == [(Action.LOGIN_FAILED, None, None, "niemand", IP, frozen_now, {})]


def test_a_login_is_recorded_and_a_replay_is_told_apart_from_a_wrong_code(
    linked_user, secret, frozen_now
):
    before = last_pk()
    code = code_at(secret, frozen_now)
    assert attempt(linked_user, code, frozen_now).user == linked_user
    attempt(linked_user, code, frozen_now)
    attempt(linked_user, code_at(secret, frozen_now, steps=10), frozen_now)
    assert trail(before) == [
        (Action.LOGIN_CODE, linked_user, None, "rdewit", IP, frozen_now, {}),
        (Action.CODE_REPLAYED, linked_user, None, "rdewit", IP, frozen_now, {}),
        (Action.CODE_FAILED, linked_user, None, "rdewit", IP, frozen_now, {}),
    ]


def test_after_the_go_live_a_login_without_device_is_recorded_for_the_beheerder(
    system_user, frozen_now
):
    from mfa.models import MfaSettings

    MfaSettings.objects.update_or_create(
        pk=1, defaults={"go_live_at": frozen_now - timedelta(days=1)}
    )
    attempt(system_user, "", frozen_now)
    assert trail() == [(Action.LOGIN_NO_DEVICE, system_user, None, "rdewit", IP, frozen_now, {})]


def test_a_recovery_login_is_recorded_and_mailed(
    linked_user, frozen_now, english, django_capture_on_commit_callbacks
):
    codes = recovery.recovery_codes_make(user=linked_user, ip=IP, now=frozen_now)
    before, later = last_pk(), frozen_now + timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        result = attempt(linked_user, codes[2], later)
    assert result.user == linked_user and result.recovery_left == 9
    assert trail(before) == [
        (Action.RECOVERY_USED, linked_user, None, "rdewit", IP, later, {"number": 3}),
        (Action.LOGIN_RECOVERY, linked_user, None, "rdewit", IP, later, {}),
    ]
    message = mail.outbox[-1]
    assert message.subject == "Livits: a recovery code was used"
    assert message.to == ["rob@example.org"]
    assert f"Recovery code 3 of your set was used to log in to Livits on {local(later)}." in (
        message.body
    )


def test_making_a_new_set_records_the_old_one_as_invalidated(linked_user, frozen_now):
    recovery.recovery_codes_make(user=linked_user, ip=IP, now=frozen_now)
    before, later = last_pk(), frozen_now + timedelta(days=1)
    recovery.recovery_codes_make(user=linked_user, ip=IP, now=later)
    assert trail(before)[0] == (
        Action.RECOVERY_INVALIDATED,
        linked_user,
        linked_user,
        "rdewit",
        IP,
        later,
        {"count": 10},
    )


def test_failed_step_ups_are_recorded_as_step_ups(linked_user, secret, frozen_now):
    before = last_pk()

    def step_up(password, code):
        return stepup.step_up(user=linked_user, password=password, code=code, ip=IP, now=frozen_now)

    assert not step_up("wrong", code_at(secret, frozen_now))
    assert not step_up(PASSWORD, code_at(secret, frozen_now, steps=10))
    assert step_up(PASSWORD, code_at(secret, frozen_now))
    assert not step_up(PASSWORD, code_at(secret, frozen_now))  # the same code again
    step = {"step_up": True}
    assert trail(before) == [
        (Action.LOGIN_FAILED, linked_user, None, "rdewit", IP, frozen_now, step),
        (Action.CODE_FAILED, linked_user, None, "rdewit", IP, frozen_now, step),
        (Action.CODE_REPLAYED, linked_user, None, "rdewit", IP, frozen_now, step),
    ]


def test_removing_an_own_device_is_recorded_and_mailed(
    linked_user, secret, frozen_now, english, django_capture_on_commit_callbacks
):
    second = link(linked_user, frozen_now - timedelta(seconds=30))
    before = last_pk()
    with django_capture_on_commit_callbacks(execute=True):
        stepup.factor_remove_own(thing=second, ip=IP, now=frozen_now)
    removed = (Action.DEVICE_REMOVED, linked_user, linked_user, "rdewit", IP, frozen_now)
    assert trail(before) == [(*removed, {"device": second.name})]
    message = mail.outbox[-1]
    assert message.subject == "Livits: a device was removed from your account"
    assert (
        f"A device ({second.name}) was removed from multi-factor authentication on "
        f"{local(frozen_now)}." in message.body
    )


def test_renaming_a_device_is_recorded_with_both_names(linked_user, admin_user):
    device = Device.objects.get(user=linked_user)
    before = last_pk()
    devices.device_rename(device=device, name="Werktelefoon", by=linked_user, ip=IP)
    assert device.name == Device.objects.get(pk=device.pk).name == "Werktelefoon"
    [(action, subject, actor, name, ip, _at, data)] = trail(before)
    assert (action, subject, actor, name, ip) == (
        Action.DEVICE_RENAMED,
        linked_user,
        linked_user,
        "rdewit",
        IP,
    )
    assert data == {"old": "Apparaat 1", "new": "Werktelefoon"}


def test_a_name_that_is_taken_is_refused_and_changes_nothing(linked_user, frozen_now):
    link(linked_user, frozen_now)
    first, second = Device.objects.filter(user=linked_user).order_by("slot")
    before = last_pk()
    with pytest.raises(MfaError) as refused:
        devices.device_rename(device=second, name=first.name, by=linked_user, ip=IP)
    assert refused.value.code == "name_taken"
    assert second.name == Device.objects.get(pk=second.pk).name == "Apparaat 2"
    assert trail(before) == []


def test_clearing_a_lock_is_recorded_with_the_beheerder(linked_user, admin_user, frozen_now):
    for _ in range(5):
        attempt(linked_user, "", frozen_now, password="wrong")
    before = last_pk()
    assert throttle.throttle_clear(user=linked_user, by=admin_user, ip=IP)
    [(action, subject, actor, name, ip, _at, data)] = trail(before)
    assert (action, subject, actor, name, ip, data) == (
        Action.LOCK_CLEARED,
        linked_user,
        admin_user,
        "rdewit",
        IP,
        {},
    )


def test_an_ended_session_is_recorded(system_user, frozen_now):
    login.session_end(user=system_user, ip=IP, now=frozen_now)
    ended = {"reason": "go_live"}
    assert trail() == [(Action.SESSION_ENDED, system_user, None, "rdewit", IP, frozen_now, ended)]


def test_an_expired_temporary_device_is_recorded_with_its_end(system_user, admin_user, frozen_now):
    ended = frozen_now - timedelta(hours=1)
    temporary = link(system_user, ended - timedelta(days=1), by=admin_user, expires_at=ended)
    before = last_pk()
    attempt(system_user, "", frozen_now)
    expired = (Action.DEVICE_EXPIRED, system_user, None, "rdewit", IP, frozen_now)
    assert trail(before)[0] == (*expired, {"device": temporary.name, "ended": ended.isoformat()})


def test_a_reminder_batch_is_recorded_per_person_and_as_a_whole(admin_user, frozen_now, settings):
    from mfa.models import MfaSettings

    MfaSettings.objects.update_or_create(
        pk=1, defaults={"go_live_at": frozen_now + timedelta(days=20)}
    )
    person = Person.objects.create(first_name="Lid", last_name="Een", email="lid@example.org")
    member = User.objects.create_user("lid", PASSWORD, person=person)
    link(admin_user, frozen_now)
    before = last_pk()
    sent = rollout.reminders_send(
        by=admin_user, now=frozen_now, site_url="https://livits.example", language="nl"
    )
    assert sent == 1
    assert trail(before) == [
        (Action.REMINDER_SENT, member, admin_user, "lid", None, frozen_now, {}),
        (
            Action.REMINDERS_BATCH,
            None,
            admin_user,
            "",
            None,
            frozen_now,
            {"sent": 1, "due": 1, "include_hidden": False},
        ),
    ]
    assert "https://livits.example/mfa/" in mail.outbox[-1].body


# --- What mutation testing found unchecked ------------------------------------------------


def test_a_locked_unknown_name_is_recorded_under_the_name_typed(db, frozen_now):
    for _ in range(5):
        login.login_attempt(username="Niemand", password="x", code="", ip=IP, now=frozen_now)
    assert trail()[-1] == (
        Action.LOCKED,
        None,
        None,
        "niemand",
        IP,
        frozen_now,
        {"failures": 5, "wait": 1},
    )


def test_what_is_no_code_at_all_is_a_wrong_code_not_a_replay(linked_user, frozen_now):
    recovery.recovery_codes_make(user=linked_user, ip=IP, now=frozen_now)
    before = last_pk()
    attempt(linked_user, "12a456", frozen_now)  # neither an access code nor a recovery code
    attempt(linked_user, "ABCDE-FGHJK", frozen_now)  # shaped like a recovery code, not one
    failed: tuple[object, ...] = (
        Action.CODE_FAILED,
        linked_user,
        None,
        "rdewit",
        IP,
        frozen_now,
        {},
    )
    assert trail(before) == [failed, failed]


def test_a_code_login_records_when_the_device_was_last_used(linked_user, secret, frozen_now):
    attempt(linked_user, code_at(secret, frozen_now), frozen_now)
    assert Device.objects.get(user=linked_user).last_used_at == frozen_now


def test_a_recovery_login_clears_the_failures_before_it(linked_user, secret, frozen_now):
    codes = recovery.recovery_codes_make(user=linked_user, ip=IP, now=frozen_now)
    attempt(linked_user, code_at(secret, frozen_now, steps=10), frozen_now)
    assert LoginThrottle.objects.filter(key="rdewit").exists()
    assert attempt(linked_user, codes[0], frozen_now).user == linked_user
    assert not LoginThrottle.objects.filter(key="rdewit").exists()


def test_a_step_up_takes_a_recovery_code_of_the_set_once_and_no_other(linked_user, frozen_now):
    from mfa.models import RecoveryCode

    codes = recovery.recovery_codes_make(user=linked_user, ip=IP, now=frozen_now)
    later = frozen_now + timedelta(minutes=5)

    def step_up(code):
        return stepup.step_up(user=linked_user, password=PASSWORD, code=code, ip=IP, now=later)

    assert not step_up("ABCDE-FGHJK")  # shaped like a recovery code, not one of the set
    before = last_pk()
    assert step_up(codes[4])
    assert not step_up(codes[4])  # once
    used = (Action.RECOVERY_USED, linked_user, None, "rdewit", IP, later, {"number": 5})
    assert trail(before)[0] == used
    assert RecoveryCode.objects.get(user=linked_user, number=5).used_at == later


def test_a_refused_confirmation_is_recorded_with_where_it_came_from(
    client, linked_user, secret, frozen_clock
):
    """The padlock page's one confirmation (step-up) refused: recorded as a step-up's
    failure, and the removal it would have allowed is refused too."""
    from mfa.models import Passkey

    device = Device.objects.get(user=linked_user)
    passkey = Passkey.objects.create(
        user=linked_user, name="Sleutel", credential_id="c1", public_key=b""
    )
    client.force_login(linked_user)
    before = last_pk()
    client.post(
        reverse("mfa:step_up"),
        {"password": "wrong", "code": code_at(secret, frozen_clock)},
        REMOTE_ADDR=IP,
    )
    step = {"step_up": True}
    assert trail(before) == [
        (Action.LOGIN_FAILED, linked_user, None, "rdewit", IP, frozen_clock, step)
    ]
    client.post(reverse("mfa:device_remove"), {"device": device.pk})
    client.post(reverse("mfa:passkey_remove"), {"passkey": passkey.pk})
    assert Device.objects.filter(pk=device.pk).exists() and Passkey.objects.exists()


def test_a_lock_cleared_during_the_hash_counts_the_failure_afresh(
    linked_user, admin_user, frozen_now, monkeypatch, settings
):
    """The beheerder clears the count while the attempt that would lock is being checked:
    its failure starts a new count of one, with its moment, and locks nothing."""
    settings.MFA_LOCK_AFTER = 2  # one wrong attempt, then the one that would lock
    attempt(linked_user, "", frozen_now, password="wrong")
    from accounts.services import credentials_check as checked

    def cleared_meanwhile(**kwargs):
        throttle.throttle_clear(user=linked_user, by=admin_user, ip=None)
        return checked(**kwargs)

    monkeypatch.setattr("mfa.login.credentials_check", cleared_meanwhile)
    attempt(linked_user, "", frozen_now, password="wrong")
    row = LoginThrottle.objects.get(key="rdewit")
    assert (row.failures, row.last_failure_at, row.locked_until) == (
        1,
        frozen_now,
        None,
    )
