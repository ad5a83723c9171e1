"""Every write that concerns MFA: linking and removing devices, logins, throttling,
trusted locations and go-live. Each leaves an audit record.

Writes hold the database's write lock only for the writes: a password hash (about
0.2 s of CPU) is never computed inside a transaction.
"""

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User, canonical_username
from accounts.services import credentials_check, login_record, password_dummy_check

from . import crypto, network, recovery, selectors, totp, webauthn
from .audit import audit
from .models import (
    FAILURE_ACTIONS,
    MAX_DEVICES,
    AuditEvent,
    Device,
    LoginThrottle,
    MfaSettings,
    Passkey,
    RecoveryCode,
    TrustedLocation,
    WebAuthnChallenge,
    has_mfa_condition,
    moment_in_range,
)
from .selectors import has_mfa

Action = AuditEvent.Action


class MfaError(Exception):
    """A refused MFA change; `code` keys the form's error message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class LoginStatus(enum.Enum):
    OK = "ok"
    FAILED = "failed"  # one generic message, whatever the reason
    LOCKED = "locked"  # not evaluated: the account name is locked until `locked_until`


@dataclass(frozen=True)
class LoginResult:
    status: LoginStatus
    user: User | None = None
    # How the session was authenticated: LOGIN_CODE, LOGIN_RECOVERY, LOGIN_TRUSTED or
    # LOGIN_WITHOUT_DEVICE.
    method: str = ""
    locked_until: datetime | None = None
    recovery_left: int | None = None  # after a recovery code: how many are unused


def _local(moment: datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def _iso(moment: datetime | None) -> str | None:
    """A moment as audit data: ISO 8601 in UTC."""
    return moment.astimezone(UTC).isoformat() if moment else None


def _notify(user: User, subject: str, body: str) -> None:
    email = user.person.email
    if email:
        transaction.on_commit(lambda: send_mail(subject, body, None, [email], fail_silently=True))


def is_trusted_location(ip: str | None) -> bool:
    return network.ip_in_networks(ip, TrustedLocation.objects.values_list("network", flat=True))


# --- Throttling -------------------------------------------------------------


def throttle_key(username: str) -> str:
    """Failures are counted per canonical account name, known or not."""
    return canonical_username(username)[:150]


def _ip_blocked(ip: str | None, now: datetime) -> bool:
    if not ip:
        return False
    since = now - timedelta(hours=1)
    failures = AuditEvent.objects.filter(ip=ip, action__in=FAILURE_ACTIONS, at__gte=since).count()
    return failures >= settings.MFA_IP_FAILURES_PER_HOUR


@dataclass(frozen=True)
class Reservation:
    """An attempt's place in its name's count of failures, or the end of the lock that
    refused it (None while the attempt may go on)."""

    slot: int
    locked_until: datetime | None = None


def _throttle_reserve(key: str, now: datetime) -> Reservation:
    """Reserve one evaluated attempt for `key`: its slot in the count, or the moment the
    lock that refuses it ends.

    The attempt counts as a failure from the start (a success resets the count), so
    however many requests race, at most MFA_LOCK_AFTER are evaluated before the
    lock holds. From there on one at a time: the reservation itself locks the name
    until the outcome is recorded, or MFA_ATTEMPT_SECONDS should the request die.
    """
    provisional = connection.ops.adapt_datetimefield_value(
        now + timedelta(seconds=settings.MFA_ATTEMPT_SECONDS)
    )
    moment = connection.ops.adapt_datetimefield_value(now)
    first_locks = settings.MFA_LOCK_AFTER <= 1
    with connection.cursor() as cursor:
        # One statement (PostgreSQL and SQLite 3.35+ both speak it): a new name starts
        # at one attempt; a known one is counted only while it is not locked.
        cursor.execute(
            RESERVE_SQL,
            [
                key,
                provisional if first_locks else None,
                settings.MFA_LOCK_AFTER,
                provisional,
                moment,
            ],
        )
        reserved = cursor.fetchone()
    if reserved is not None:
        return Reservation(slot=int(reserved[0]))
    until = LoginThrottle.objects.filter(key=key).values_list("locked_until", flat=True).first()
    return Reservation(slot=0, locked_until=until)  # none: cleared meanwhile, may go on


RESERVE_SQL = """
    INSERT INTO mfa_loginthrottle (key, failures, locked_until, last_failure_at)
    VALUES (%s, 1, %s, NULL)
    ON CONFLICT (key) DO UPDATE SET
        failures = mfa_loginthrottle.failures + 1,
        locked_until = CASE WHEN mfa_loginthrottle.failures + 1 >= %s THEN %s
                            ELSE mfa_loginthrottle.locked_until END
    WHERE mfa_loginthrottle.locked_until IS NULL OR mfa_loginthrottle.locked_until <= %s
    RETURNING failures
"""


def _failure(
    *,
    key: str,
    slot: int,
    user: User | None,
    ip: str | None,
    now: datetime,
    action: str,
    data: dict[str, Any] | None = None,
) -> None:
    """Record a failed attempt (already counted by its reservation, in `slot`) and start
    the wait that its slot earns: the attempt that reached MFA_LOCK_AFTER locks, and the
    ones reserved before it, still under way, neither lock again nor move the lock.

    Call inside a transaction.
    """
    audit(action=action, subject=user, subject_name=key, ip=ip, data=data, at=now)
    throttle, created = LoginThrottle.objects.select_for_update().get_or_create(
        key=key, defaults={"failures": 1}
    )
    throttle.last_failure_at = now
    count = 1 if created else slot  # a lock cleared meanwhile starts a new count
    if count >= settings.MFA_LOCK_AFTER:
        wait = min(2 ** (count - settings.MFA_LOCK_AFTER), settings.MFA_LOCK_MAX_SECONDS)
        throttle.locked_until = now + timedelta(seconds=wait)
        audit(
            action=Action.LOCKED,
            subject=user,
            subject_name=key,
            ip=ip,
            data={"failures": count, "wait": wait},
            at=now,
        )
    throttle.save(update_fields=["last_failure_at", "locked_until"])


def throttle_clear(*, user: User, by: User, ip: str | None) -> bool:
    deleted, _rows = LoginThrottle.objects.filter(key=user.username_canonical).delete()
    if deleted:
        audit(action=Action.LOCK_CLEARED, subject=user, actor=by, ip=ip)
    return bool(deleted)


# --- Codes and logins -------------------------------------------------------


def _code_consume(
    devices: Iterable[Device], code: str, now: datetime
) -> tuple[Device | None, bool]:
    """(device, replayed): the device whose code this is, consuming its step once.

    A code is accepted only for a step later than the last one accepted for that
    device; the conditional UPDATE makes that true under concurrency too.
    """
    normalized = totp.normalize_code(code)
    if normalized is None:
        return None, False
    for device in devices:
        step = totp.matching_step(device.secret, normalized, now)
        if step is not None:
            won = Device.objects.filter(pk=device.pk, last_used_step__lt=step).update(
                last_used_step=step, last_used_at=now
            )
            return device, not won
    return None, False


def login_attempt(
    *, username: str, password: str, code: str, ip: str | None, now: datetime
) -> LoginResult:
    """Decide a login from username, password, access code, client IP and time.

    Three short steps: reserve the attempt (one write), check the password outside
    any transaction, then decide and record the outcome in one transaction, so a
    login cut short leaves no audit row, counter or consumed code behind.
    """
    key = throttle_key(username)
    if _ip_blocked(ip, now):
        password_dummy_check(password)
        return LoginResult(LoginStatus.FAILED)
    reservation = _throttle_reserve(key, now)
    if reservation.locked_until:  # says so (for known and unknown names alike): no hash
        return LoginResult(LoginStatus.LOCKED, locked_until=reservation.locked_until)
    user = credentials_check(key=key, password=password)
    with transaction.atomic():
        return _login_decide(key=key, slot=reservation.slot, user=user, code=code, ip=ip, now=now)


def _login_decide(
    *, key: str, slot: int, user: User | None, code: str, ip: str | None, now: datetime
) -> LoginResult:
    if user is None:
        _failure(key=key, slot=slot, user=None, ip=ip, now=now, action=Action.LOGIN_FAILED)
        return LoginResult(LoginStatus.FAILED)
    if recovery.normalize(code):  # whatever the devices, from anywhere
        if not _recovery_consume(user, code, ip, now):
            _failure(key=key, slot=slot, user=user, ip=ip, now=now, action=Action.CODE_FAILED)
            return LoginResult(LoginStatus.FAILED)
        _login_success(key=key, user=user, method=Action.LOGIN_RECOVERY, ip=ip, now=now)
        left = selectors.recovery_status(user)["unused"]
        return LoginResult(LoginStatus.OK, user, Action.LOGIN_RECOVERY, recovery_left=left)
    devices = _usable_devices(user, ip, now)
    if devices and is_trusted_location(ip):
        method = Action.LOGIN_TRUSTED
    elif devices:
        device, replayed = _code_consume(devices, code, now)
        if device is None or replayed:
            action = Action.CODE_REPLAYED if replayed else Action.CODE_FAILED
            _failure(key=key, slot=slot, user=user, ip=ip, now=now, action=action)
            return LoginResult(LoginStatus.FAILED)
        method = Action.LOGIN_CODE
    elif MfaSettings.load().is_live(now):
        # Recorded for the beheerder's history panel; the person sees the generic message.
        _failure(key=key, slot=slot, user=user, ip=ip, now=now, action=Action.LOGIN_NO_DEVICE)
        return LoginResult(LoginStatus.FAILED)
    else:
        method = Action.LOGIN_WITHOUT_DEVICE
    _login_success(key=key, user=user, method=method, ip=ip, now=now)
    return LoginResult(LoginStatus.OK, user, method=method)


def _login_success(*, key: str, user: User, method: str, ip: str | None, now: datetime) -> None:
    LoginThrottle.objects.filter(key=key).delete()
    audit(action=method, subject=user, ip=ip, at=now)
    login_record(user=user, now=now)


def _second_factor(user: User, code: str, ip: str | None, now: datetime) -> str | None:
    """The failure to record for `code` as the user's second factor (a current code of an
    active device, or an unused recovery code), or None when it is one; consumed once."""
    if recovery.normalize(code):
        return None if _recovery_consume(user, code, ip, now) else Action.CODE_FAILED
    devices = list(Device.objects.active(now).filter(user=user))
    device, replayed = _code_consume(devices, code, now)
    if device is None or replayed:
        return Action.CODE_REPLAYED if replayed else Action.CODE_FAILED
    return None


def _usable_devices(user: User, ip: str | None, now: datetime) -> list[Device]:
    """The user's active devices; expired temporary ones are removed on the way."""
    devices = list(Device.objects.filter(user=user))
    if any(device.is_expired(now) for device in devices):
        devices_expire(user=user, ip=ip, now=now)
    return [device for device in devices if not device.is_expired(now)]


def step_up(*, user: User, password: str, code: str, ip: str | None, now: datetime) -> bool:
    """Re-check password and a fresh code before a device is linked or removed."""
    key = user.username_canonical
    reservation = None if _ip_blocked(ip, now) else _throttle_reserve(key, now)
    if reservation is None or reservation.locked_until:
        password_dummy_check(password)
        return False
    password_ok = user.check_password(password)
    with transaction.atomic():
        failed = _second_factor(user, code, ip, now) if password_ok else Action.LOGIN_FAILED
        if failed:
            slot = reservation.slot
            _failure(key=key, slot=slot, user=user, ip=ip, now=now, action=failed, data=STEP_UP)
            return False
        LoginThrottle.objects.filter(key=key).delete()
    return True


STEP_UP = {"step_up": True}


def session_end(*, user: User, ip: str | None, now: datetime) -> None:
    """Record that a session without a second factor ended because MFA went live."""
    audit(action=Action.SESSION_ENDED, subject=user, ip=ip, at=now)


# --- Recovery codes ---------------------------------------------------------


def _recovery_invalidate(user: User, *, by: User | None, ip: str | None, now: datetime) -> int:
    """Delete the user's current set (call inside a transaction); recorded if there was one."""
    deleted, _rows = RecoveryCode.objects.filter(user=user).delete()
    if deleted:
        audit(
            action=Action.RECOVERY_INVALIDATED,
            subject=user,
            actor=by,
            ip=ip,
            data={"count": deleted},
            at=now,
        )
    return deleted


@transaction.atomic
def recovery_codes_make(*, user: User, ip: str | None, now: datetime) -> list[str]:
    """A new set of recovery codes for `user`; the old set stops working. The codes are
    returned to be shown once; only their HMACs are kept."""
    User.objects.select_for_update().filter(pk=user.pk).first()  # one new set at a time
    _recovery_invalidate(user, by=user, ip=ip, now=now)
    codes = recovery.new_codes()
    key = crypto.recovery_keys()[0]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, number=number, digest=recovery.digest(code, key), created_at=now)
        for number, code in enumerate(codes, start=1)
    )
    audit(
        action=Action.RECOVERY_MADE,
        subject=user,
        actor=user,
        ip=ip,
        data={"count": len(codes)},
        at=now,
    )
    return codes


def _recovery_consume(user: User, code: str, ip: str | None, now: datetime) -> int | None:
    """Use one of the user's unused recovery codes, once: its number, or None.

    The conditional UPDATE decides between simultaneous uses of one code, as the
    TOTP replay guard does. Call inside a transaction.
    """
    normalized = recovery.normalize(code)
    if normalized is None:
        return None
    digests = [recovery.digest(normalized, key) for key in crypto.recovery_keys()]
    found = RecoveryCode.objects.filter(user=user, digest__in=digests, used_at__isnull=True).first()
    if found is None:
        return None
    if not RecoveryCode.objects.filter(pk=found.pk, used_at__isnull=True).update(used_at=now):
        return None
    audit(
        action=Action.RECOVERY_USED,
        subject=user,
        ip=ip,
        data={"number": found.number},
        at=now,
    )
    _notify(
        user,
        _("Livits: a recovery code was used"),
        _(
            "Recovery code %(number)d of your set was used to log in to Livits on %(when)s. "
            "Lost your phone? Link a new authenticator app through the padlock and remove the "
            "old one. Was this not you? Tell an administrator at once."
        )
        % {"number": found.number, "when": _local(now)},
    )
    return found.number


# --- Reminders to link an app (the rollout campaign) ------------------------


def reminders_send(
    *,
    by: User | None,
    now: datetime,
    site_url: str,
    language: str,
    include_hidden: bool = False,
) -> int:
    """Remind everyone without MFA who is due (selectors.reminders_due), one mail each.

    Safe to repeat and to run twice at once: each person is claimed with one
    conditional UPDATE before the mail goes out, so nobody gets two mails within
    MFA_REMINDER_INTERVAL_HOURS. Returns how many mails were sent.
    """
    due = list(selectors.reminders_due(now, include_hidden=include_hidden))
    sent = sum(_remind(user, by=by, now=now, site_url=site_url, language=language) for user in due)
    audit(
        action=Action.REMINDERS_BATCH,
        actor=by,
        data={"sent": sent, "due": len(due), "include_hidden": include_hidden},
        at=now,
    )
    return sent


def _remind(user: User, *, by: User | None, now: datetime, site_url: str, language: str) -> bool:
    previous = user.mfa_reminded_at
    claim = User.objects.filter(selectors.reminder_due(now), pk=user.pk)
    if not claim.update(mfa_reminded_at=now):
        return False  # another batch has it
    subject, body = reminder_mail(user, site_url=site_url, language=language)
    try:
        send_mail(subject, body, None, [user.person.email])
    except Exception:  # the mail did not go: give the claim back, so a later batch tries
        User.objects.filter(pk=user.pk, mfa_reminded_at=now).update(mfa_reminded_at=previous)
        return False
    audit(action=Action.REMINDER_SENT, subject=user, actor=by, at=now)
    return True


def reminder_mail(user: User, *, site_url: str, language: str) -> tuple[str, str]:
    """The reminder to `user`, in `language`: (subject, body)."""
    with translation.override(language):
        context = {
            "user": user,
            "go_live_at": MfaSettings.load().go_live_at,
            "url": site_url.rstrip("/") + reverse("mfa:enrol"),
        }
        subject = render_to_string("mfa/reminder_subject.txt", context).strip()
        return subject, render_to_string("mfa/reminder_mail.txt", context)


# --- Devices ----------------------------------------------------------------


def _device_name(devices: Iterable[Device], slot: int) -> str:
    taken = {device.name for device in devices}
    number = slot
    while _("Device %(number)s") % {"number": number} in taken:
        number += 1
    return _("Device %(number)s") % {"number": number}


def _mfa_changed(user: User, now: datetime) -> None:
    """Keep MFA created/changed: created while MFA is linked, changed on every later change."""
    linked = has_mfa(user, now)
    if linked and user.mfa_created_at is None:
        user.mfa_created_at = now
        if user.mfa_changed_at is not None:
            user.mfa_changed_at = now
    else:
        user.mfa_changed_at = now
        if not linked:
            user.mfa_created_at = None
    User.objects.filter(pk=user.pk).update(
        mfa_created_at=user.mfa_created_at, mfa_changed_at=user.mfa_changed_at
    )


@transaction.atomic
def device_link(
    *,
    user: User,
    secret: str,
    code: str,
    by: User | None,
    ip: str | None,
    now: datetime,
    expires_at: datetime | None = None,
    only_if_unlinked: bool = False,
) -> Device:
    """Link the authenticator holding `secret`, proven by a current `code`.

    A beheerder links for someone else only while that person has no MFA (manual
    4.1: unlink first), so `only_if_unlinked` refuses a stale page.
    """
    normalized = totp.normalize_code(code)
    step = totp.matching_step(secret, normalized, now) if normalized else None
    if step is None:
        raise MfaError("invalid_code")
    user = User.objects.select_for_update().get(pk=user.pk)  # one link at a time per user
    devices = _usable_devices(user, ip, now)
    if only_if_unlinked and has_mfa(user, now):
        raise MfaError("already_has_mfa")
    if any(device.secret == secret for device in devices):
        raise MfaError("already_linked")
    free = sorted(set(range(1, MAX_DEVICES + 1)) - {device.slot for device in devices})
    if not free:
        raise MfaError("too_many_devices")
    device = Device.objects.create(
        user=user,
        slot=free[0],
        name=_device_name(devices, free[0]),
        secret_encrypted=crypto.encrypt(secret),
        linked_at=now,
        linked_by=by,
        last_used_step=step,  # the code that linked the device cannot also log in
        expires_at=expires_at,
    )
    _mfa_changed(user, now)
    data = {"device": device.name, "via_admin": by is not None and by.pk != user.pk}
    if expires_at:
        data["until"] = _iso(expires_at)
    audit(action=Action.DEVICE_LINKED, subject=user, actor=by, ip=ip, data=data, at=now)
    _notify(
        user,
        _("Livits: a device was linked to your account"),
        _("A device (%(name)s) was linked for multi-factor authentication on %(when)s.")
        % {"name": device.name, "when": _local(now)},
    )
    return device


@transaction.atomic
def device_remove(
    *,
    device: Device,
    by: User,
    ip: str | None,
    now: datetime,
    keep_last_after_go_live: bool = False,
) -> None:
    """Remove one device. With `keep_last_after_go_live`, refuse when it would leave the
    user without MFA after the go-live (decided after the delete, in the same lock)."""
    user = User.objects.select_for_update().get(pk=device.user_id)
    deleted, _rows = Device.objects.filter(pk=device.pk).delete()
    if not deleted:
        raise MfaError("gone")
    if keep_last_after_go_live and MfaSettings.load().is_live(now) and not has_mfa(user, now):
        raise MfaError("last_device_after_go_live")  # rolls the delete back
    _mfa_changed(user, now)
    audit(
        action=Action.DEVICE_REMOVED,
        subject=user,
        actor=by,
        ip=ip,
        data={"device": device.name},
        at=now,
    )
    _notify(
        user,
        _("Livits: a device was removed from your account"),
        _("A device (%(name)s) was removed from multi-factor authentication on %(when)s.")
        % {"name": device.name, "when": _local(now)},
    )


def device_remove_own(
    *, device: Device, password: str, code: str, ip: str | None, now: datetime
) -> None:
    """A user removes one of their own devices, proving password and a current code.

    After the go-live the last device stays: without it the user could not log in.
    """
    user = device.user
    if not step_up(user=user, password=password, code=code, ip=ip, now=now):
        raise MfaError("step_up_failed")
    device_remove(device=device, by=user, ip=ip, now=now, keep_last_after_go_live=True)


@transaction.atomic
def device_unlink_all(
    *, user: User, by: User | None, ip: str | None, now: datetime, reason: str = ""
) -> int:
    """Remove every device of `user` (manual 4.1, 4.3). Their open session stays."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not has_mfa(user, now):
        raise MfaError("not_linked")
    names = list(Device.objects.filter(user=user).values_list("name", flat=True))
    names += list(Passkey.objects.filter(user=user).values_list("name", flat=True))
    Device.objects.filter(user=user).delete()
    Passkey.objects.filter(user=user).delete()
    _recovery_invalidate(user, by=by, ip=ip, now=now)  # no old factor gets in any more
    _mfa_changed(user, now)
    data = {"devices": names, **({"reason": reason} if reason else {})}
    audit(action=Action.UNLINKED_ALL, subject=user, actor=by, ip=ip, data=data, at=now)
    _notify(
        user,
        _("Livits: MFA was unlinked from your account"),
        _(
            "An administrator unlinked multi-factor authentication from your account on %(when)s. "
            "Link your authenticator app again through the padlock in Livits."
        )
        % {"when": _local(now)},
    )
    return len(names)


@transaction.atomic
def devices_expire(*, user: User, ip: str | None, now: datetime) -> int:
    """Remove temporary devices whose end date has passed, recording the expiry."""
    expired = list(Device.objects.select_for_update().filter(user=user, expires_at__lte=now))
    if not expired:
        return 0
    Device.objects.filter(pk__in=[device.pk for device in expired]).delete()
    _mfa_changed(user, now)
    for device in expired:
        audit(
            action=Action.DEVICE_EXPIRED,
            subject=user,
            ip=ip,
            data={"device": device.name, "ended": _iso(device.expires_at)},
            at=now,
        )
    return len(expired)


Named = TypeVar("Named", Device, Passkey)


def _rename(thing: Named, name: str, *, by: User, ip: str | None, action: str) -> Named:
    """A person's device or passkey gets a new name, unique among theirs (the database's
    constraint decides), with an audit record of both names."""
    old = thing.name
    if old == name:
        return thing
    try:
        with transaction.atomic():
            type(thing).objects.filter(pk=thing.pk).update(name=name)
            audit(
                action=action, subject=thing.user, actor=by, ip=ip, data={"old": old, "new": name}
            )
    except IntegrityError:
        raise MfaError("name_taken") from None
    thing.name = name
    return thing


def device_rename(*, device: Device, name: str, by: User, ip: str | None) -> Device:
    return _rename(device, name, by=by, ip=ip, action=Action.DEVICE_RENAMED)


# --- Passkeys ----------------------------------------------------------------


def _challenge_issue(purpose: str, user: User | None, now: datetime) -> str:
    challenge = webauthn.new_challenge()
    stale = now - timedelta(seconds=settings.MFA_WEBAUTHN_CHALLENGE_SECONDS)
    WebAuthnChallenge.objects.filter(created_at__lt=stale).delete()
    WebAuthnChallenge.objects.create(
        challenge=challenge, purpose=purpose, user=user, created_at=now
    )
    return challenge


def _challenge_use(challenge: str | None, purpose: str, user: User | None, now: datetime) -> bool:
    """Whether `challenge` was issued here for `purpose` (and `user`) in the last minutes;
    it is used up either way (one DELETE decides between simultaneous uses)."""
    if not challenge:
        return False
    fresh = now - timedelta(seconds=settings.MFA_WEBAUTHN_CHALLENGE_SECONDS)
    used, _rows = WebAuthnChallenge.objects.filter(
        challenge=challenge, purpose=purpose, user=user, created_at__gte=fresh
    ).delete()
    return bool(used)


def passkey_register_options(*, user: User, now: datetime) -> tuple[dict[str, Any], str]:
    """(options for navigator.credentials.create, the challenge): a discoverable credential
    with user verification, under the user's random handle."""
    if not user.passkey_handle:
        user.passkey_handle = webauthn.new_user_handle()
        User.objects.filter(pk=user.pk, passkey_handle__isnull=True).update(
            passkey_handle=user.passkey_handle
        )
        user.refresh_from_db(fields=["passkey_handle"])
    assert user.passkey_handle is not None
    challenge = _challenge_issue(WebAuthnChallenge.Purpose.REGISTER, user, now)
    options = webauthn.registration_options(
        challenge=challenge,
        user_handle=user.passkey_handle,
        user_name=user.username,
        display_name=user.get_full_name(),
        exclude=list(Passkey.objects.filter(user=user).values_list("credential_id", flat=True)),
    )
    return options, challenge


@transaction.atomic
def passkey_add(
    *,
    user: User,
    credential: dict[str, Any],
    challenge: str | None,
    name: str,
    ip: str | None,
    now: datetime,
) -> Passkey:
    """Keep the passkey the browser just made, if it answers our challenge."""
    if not MfaSettings.load().passkeys_allowed:
        raise MfaError("passkeys_off")
    if not _challenge_use(challenge, WebAuthnChallenge.Purpose.REGISTER, user, now):
        raise MfaError("passkey_refused")
    assert challenge is not None
    try:
        new = webauthn.verify_registration(credential=credential, challenge=challenge)
    except webauthn.Refused:
        raise MfaError("passkey_refused") from None
    user = User.objects.select_for_update().get(pk=user.pk)
    if Passkey.objects.filter(user=user, name=name).exists():
        raise MfaError("name_taken")
    try:
        with transaction.atomic():
            passkey = Passkey.objects.create(
                user=user,
                name=name,
                credential_id=new.credential_id,
                public_key=new.public_key,
                sign_count=new.sign_count,
                transports=new.transports,
                created_at=now,
            )
    except IntegrityError:
        raise MfaError("passkey_known") from None
    _mfa_changed(user, now)
    audit(
        action=Action.PASSKEY_ADDED, subject=user, actor=user, ip=ip, data={"passkey": name}, at=now
    )
    _notify(
        user,
        _("Livits: a passkey was added to your account"),
        _("A passkey (%(name)s) was added to your account on %(when)s.")
        % {"name": name, "when": _local(now)},
    )
    return passkey


def passkey_login_options(*, now: datetime) -> tuple[dict[str, Any], str]:
    challenge = _challenge_issue(WebAuthnChallenge.Purpose.LOGIN, None, now)
    return webauthn.authentication_options(challenge=challenge), challenge


def passkey_login(
    *, credential: Any, challenge: str | None, ip: str | None, now: datetime
) -> LoginResult:
    """A sign-in with a passkey alone (no username): possession plus the device's PIN or
    biometrics. Refusals count in the per-IP limit and get one generic answer."""
    if _ip_blocked(ip, now):
        return LoginResult(LoginStatus.FAILED)
    with transaction.atomic():
        try:
            user = _passkey_check(credential=credential, challenge=challenge, ip=ip, now=now)
        except webauthn.Refused as refusal:
            audit(action=Action.PASSKEY_FAILED, ip=ip, data={"reason": refusal.reason}, at=now)
            return LoginResult(LoginStatus.FAILED)
        if user is None:
            return LoginResult(LoginStatus.FAILED)
        audit(action=Action.LOGIN_PASSKEY, subject=user, ip=ip, at=now)
        login_record(user=user, now=now)
    return LoginResult(LoginStatus.OK, user, method=Action.LOGIN_PASSKEY)


def _passkey_check(
    *, credential: Any, challenge: str | None, ip: str | None, now: datetime
) -> User | None:
    """The user whose passkey signed our challenge (webauthn.Refused when it did not;
    None after a counter that went back, which is recorded as a possible clone)."""
    if not MfaSettings.load().passkeys_allowed:
        raise webauthn.Refused("passkeys_off")
    assertion = webauthn.read_assertion(credential)
    if not _challenge_use(challenge, WebAuthnChallenge.Purpose.LOGIN, None, now):
        raise webauthn.Refused("challenge")
    assert challenge is not None
    passkey = (
        Passkey.objects.filter(credential_id=assertion.credential_id).select_related("user").first()
    )
    if passkey is None:
        raise webauthn.Refused("unknown_credential")
    user = passkey.user
    if not assertion.user_handle or assertion.user_handle != user.passkey_handle:
        raise webauthn.Refused("user_handle")
    count = webauthn.verify_assertion(
        assertion=assertion, challenge=challenge, public_key=bytes(passkey.public_key)
    )
    if not user.is_active:
        raise webauthn.Refused("inactive")
    # The counter only goes up (when the authenticator keeps one): one conditional UPDATE,
    # like the TOTP replay guard, also between simultaneous sign-ins.
    kept = count > 0 or passkey.sign_count > 0
    moved = Passkey.objects.filter(pk=passkey.pk)
    if kept:
        moved = moved.filter(sign_count__lt=count)
    if not moved.update(sign_count=count, last_used_at=now):
        audit(
            action=Action.PASSKEY_CLONED,
            subject=user,
            ip=ip,
            data={"passkey": passkey.name, "count": count, "known": passkey.sign_count},
            at=now,
        )
        return None
    return user


def passkey_rename(*, passkey: Passkey, name: str, by: User, ip: str | None) -> Passkey:
    return _rename(passkey, name, by=by, ip=ip, action=Action.PASSKEY_RENAMED)


def passkey_remove_own(
    *, passkey: Passkey, password: str, code: str, ip: str | None, now: datetime
) -> None:
    """A user removes one of their passkeys, proving password and a current code; after the
    go-live not the last way in."""
    user = passkey.user
    if not step_up(user=user, password=password, code=code, ip=ip, now=now):
        raise MfaError("step_up_failed")
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        if not Passkey.objects.filter(pk=passkey.pk).delete()[0]:
            raise MfaError("gone")
        if MfaSettings.load().is_live(now) and not has_mfa(user, now):
            raise MfaError("last_device_after_go_live")  # rolls the delete back
        _mfa_changed(user, now)
        audit(
            action=Action.PASSKEY_REMOVED,
            subject=user,
            actor=user,
            ip=ip,
            data={"passkey": passkey.name},
            at=now,
        )
        _notify(
            user,
            _("Livits: a passkey was removed from your account"),
            _("A passkey (%(name)s) was removed from your account on %(when)s.")
            % {"name": passkey.name, "when": _local(now)},
        )


@transaction.atomic
def passkeys_allow(*, allowed: bool, by: User, ip: str | None) -> None:
    MfaSettings.load()
    MfaSettings.objects.filter(pk=1).update(passkeys_allowed=allowed)
    audit(action=Action.PASSKEYS_SWITCHED, actor=by, ip=ip, data={"allowed": allowed})


# --- Installation settings --------------------------------------------------


@transaction.atomic
def trusted_location_save(
    *, location: TrustedLocation, by: User | None, ip: str | None
) -> TrustedLocation:
    creating = location.pk is None
    try:
        with transaction.atomic():
            location.save()
    except IntegrityError:
        raise MfaError("network_taken") from None
    change = "added" if creating else "changed"
    audit(
        action=Action.TRUSTED_LOCATION_CHANGED,
        actor=by,
        ip=ip,
        data={"change": change, "name": location.name, "network": location.network},
    )
    return location


@transaction.atomic
def trusted_location_remove(*, location: TrustedLocation, by: User | None, ip: str | None) -> None:
    TrustedLocation.objects.filter(pk=location.pk).delete()
    audit(
        action=Action.TRUSTED_LOCATION_CHANGED,
        actor=by,
        ip=ip,
        data={"change": "removed", "name": location.name, "network": location.network},
    )


@transaction.atomic
def issuer_set(*, issuer: str, by: User, ip: str | None) -> None:
    mfa_settings = MfaSettings.load()
    old = mfa_settings.issuer_name
    mfa_settings.issuer = totp.issuer_clean(issuer)
    mfa_settings.save(update_fields=["issuer"])
    audit(
        action=Action.ISSUER_CHANGED,
        actor=by,
        ip=ip,
        data={"old": old, "new": mfa_settings.issuer_name},
    )


@transaction.atomic
def go_live_set(
    *, at: datetime | None, by: User | None, ip: str | None, now: datetime, forced: bool = False
) -> None:
    """Set the go-live moment (None: not live).

    Nobody may lock themselves out: a beheerder sets a go-live only with MFA of
    their own, and the shell (`by` None) only while at least one user who can link
    MFA for others has it. `forced` is the shell's break glass, recorded as such.
    """
    if at is not None and not moment_in_range(at):
        raise MfaError("go_live_out_of_range")
    if at is not None and not forced:
        if by is not None and not has_mfa(by, now):
            raise MfaError("go_live_without_own_mfa")
        if by is None and not selectors.mfa_admins().filter(has_mfa_condition(now)).exists():
            raise MfaError("go_live_without_admin_mfa")
    MfaSettings.load()
    MfaSettings.objects.filter(pk=1).update(go_live_at=at)
    data = {"at": _iso(at), **({"forced": True} if forced else {})}
    audit(action=Action.GO_LIVE_CHANGED, actor=by, ip=ip, data=data, at=now)


@transaction.atomic
def secrets_reencrypt() -> int:
    """Re-encrypt every secret with the first key of MFA_ENCRYPTION_KEYS."""
    count = 0
    for device in Device.objects.select_for_update().only("pk", "secret_encrypted"):
        Device.objects.filter(pk=device.pk).update(
            secret_encrypted=crypto.reencrypt(device.secret_encrypted)
        )
        count += 1
    audit(action=Action.KEYS_ROTATED, data={"count": count})
    return count
