"""Every write that concerns MFA: linking and removing devices, logins, throttling,
trusted locations and go-live. Each leaves an audit record."""

import enum
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import credentials_check, login_record, password_dummy_check

from . import crypto, network, totp
from .models import MAX_DEVICES, AuditEvent, Device, LoginThrottle, MfaSettings, TrustedLocation

Action = AuditEvent.Action
FAILURE_ACTIONS = [Action.LOGIN_FAILED, Action.CODE_FAILED, Action.CODE_REPLAYED]


class MfaError(Exception):
    """A refused MFA change; `code` keys the form's error message."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


class LoginStatus(enum.Enum):
    OK = "ok"
    FAILED = "failed"  # one generic message, whatever the reason
    NO_DEVICE = "no_device"  # right password, but after go-live no device is linked


@dataclass(frozen=True)
class LoginResult:
    status: LoginStatus
    user: User | None = None


def audit(*, action, subject=None, actor=None, ip=None, detail="", subject_name="", at=None):
    fields = {"at": at} if at else {}
    return AuditEvent.objects.create(
        action=action,
        subject=subject,
        subject_name=subject_name or (subject.username if subject else ""),
        actor=actor,
        ip=ip,
        detail=detail[:300],
        **fields,
    )


def _notify(user, subject, body):
    email = user.person.email
    if email:
        transaction.on_commit(lambda: send_mail(subject, body, None, [email], fail_silently=True))


def active_devices(user, now):
    return list(Device.objects.active(now).filter(user=user))


def is_trusted_location(ip):
    return network.ip_in_networks(ip, TrustedLocation.objects.values_list("network", flat=True))


# --- Throttling -------------------------------------------------------------


def _throttle_key(username):
    return username.strip().lower()[:150]


def _is_blocked(key, ip, now):
    locked = LoginThrottle.objects.filter(key=key, locked_until__gt=now).exists()
    if locked or not ip:
        return locked
    since = now - timedelta(hours=1)
    failures = AuditEvent.objects.filter(ip=ip, action__in=FAILURE_ACTIONS, at__gte=since).count()
    return failures >= settings.MFA_IP_FAILURES_PER_HOUR


@transaction.atomic
def _failure(*, key, user, ip, now, action, detail=""):
    audit(action=action, subject=user, subject_name=key, ip=ip, detail=detail, at=now)
    throttle, _created = LoginThrottle.objects.select_for_update().get_or_create(key=key)
    throttle.failures += 1
    throttle.last_failure_at = now
    if throttle.failures >= settings.MFA_LOCK_AFTER:
        wait = min(
            2 ** (throttle.failures - settings.MFA_LOCK_AFTER), settings.MFA_LOCK_MAX_SECONDS
        )
        throttle.locked_until = now + timedelta(seconds=wait)
        audit(
            action=Action.LOCKED,
            subject=user,
            subject_name=key,
            ip=ip,
            detail=f"{throttle.failures} failures, wait {wait} s",
            at=now,
        )
    throttle.save()


def throttle_clear(*, user, by, ip):
    deleted, _rows = LoginThrottle.objects.filter(key=_throttle_key(user.username)).delete()
    if deleted:
        audit(action=Action.LOCK_CLEARED, subject=user, actor=by, ip=ip)
    return bool(deleted)


# --- Codes and logins -------------------------------------------------------


def _code_consume(devices, code, now):
    """(device, replayed): the device whose code this is, consuming its step once.

    A code is accepted only for a step later than the last one accepted for that
    device; the conditional UPDATE makes that true under concurrency too.
    """
    code = totp.normalize_code(code)
    if code is None:
        return None, False
    for device in devices:
        step = totp.matching_step(device.secret, code, now)
        if step is not None:
            won = Device.objects.filter(pk=device.pk, last_used_step__lt=step).update(
                last_used_step=step, last_used_at=now
            )
            return device, not won
    return None, False


@transaction.atomic
def login_attempt(*, username, password, code, ip, now):
    """Decide a login from username, password, access code, client IP and time.

    One transaction: a login cut short (say, the database goes away) leaves no
    audit row, counter or consumed code behind.
    """
    key = _throttle_key(username)
    if _is_blocked(key, ip, now):
        password_dummy_check(password)
        return LoginResult(LoginStatus.FAILED)
    user = credentials_check(username=username, password=password)
    if user is None:
        _failure(key=key, user=None, ip=ip, now=now, action=Action.LOGIN_FAILED)
        return LoginResult(LoginStatus.FAILED)

    devices = list(Device.objects.filter(user=user))
    if any(device.is_expired(now) for device in devices):
        devices_expire(user=user, ip=ip, now=now)
        devices = [device for device in devices if not device.is_expired(now)]
    if devices and is_trusted_location(ip):
        action = Action.LOGIN_TRUSTED
    elif devices:
        device, replayed = _code_consume(devices, code, now)
        if device is None or replayed:
            action = Action.CODE_REPLAYED if replayed else Action.CODE_FAILED
            _failure(key=key, user=user, ip=ip, now=now, action=action)
            return LoginResult(LoginStatus.FAILED)
        action = Action.LOGIN_CODE
    elif MfaSettings.load().is_live(now):
        audit(action=Action.LOGIN_NO_DEVICE, subject=user, ip=ip, at=now)
        return LoginResult(LoginStatus.NO_DEVICE, user)
    else:
        action = Action.LOGIN_WITHOUT_DEVICE

    LoginThrottle.objects.filter(key=key).delete()
    audit(action=action, subject=user, ip=ip, at=now)
    login_record(user=user)
    return LoginResult(LoginStatus.OK, user)


def step_up(*, user, password, code, ip, now):
    """Re-check password and a fresh code before a device is linked or removed."""
    key = _throttle_key(user.username)
    if _is_blocked(key, ip, now):
        password_dummy_check(password)
        return False
    if not user.check_password(password):
        _failure(key=key, user=user, ip=ip, now=now, action=Action.LOGIN_FAILED, detail="step-up")
        return False
    device, replayed = _code_consume(active_devices(user, now), code, now)
    if device is None or replayed:
        action = Action.CODE_REPLAYED if replayed else Action.CODE_FAILED
        _failure(key=key, user=user, ip=ip, now=now, action=action, detail="step-up")
        return False
    LoginThrottle.objects.filter(key=key).delete()
    return True


# --- Devices ----------------------------------------------------------------


def _device_name(devices, slot):
    taken = {device.name for device in devices}
    number = slot
    while _("Device %(number)s") % {"number": number} in taken:
        number += 1
    return _("Device %(number)s") % {"number": number}


def _mfa_changed(user, remaining, now):
    """Keep MFA created/changed: created while devices exist, changed on every later change."""
    if remaining and user.mfa_created_at is None:
        user.mfa_created_at = now
        if user.mfa_changed_at is not None:
            user.mfa_changed_at = now
    else:
        user.mfa_changed_at = now
        if not remaining:
            user.mfa_created_at = None
    User.objects.filter(pk=user.pk).update(
        mfa_created_at=user.mfa_created_at, mfa_changed_at=user.mfa_changed_at
    )


@transaction.atomic
def device_link(*, user, secret, code, by, ip, now, expires_at=None, only_if_unlinked=False):
    """Link the authenticator holding `secret`, proven by a current `code`.

    A beheerder links for someone else only while that person has no device
    (manual 4.1: unlink first), so `only_if_unlinked` refuses a stale page.
    """
    code = totp.normalize_code(code)
    step = totp.matching_step(secret, code, now) if code else None
    if step is None:
        raise MfaError("invalid_code")
    user = User.objects.select_for_update().get(pk=user.pk)  # one link at a time per user
    devices = list(Device.objects.filter(user=user))
    if only_if_unlinked and devices:
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
    _mfa_changed(user, remaining=True, now=now)
    detail = device.name if by == user else f"{device.name} via beheerder {by.username}"
    if expires_at:
        detail += f", until {expires_at.isoformat()}"
    audit(action=Action.DEVICE_LINKED, subject=user, actor=by, ip=ip, detail=detail, at=now)
    _notify(
        user,
        _("Livits: a device was linked to your account"),
        _("A device (%(name)s) was linked for multi-factor authentication on %(when)s.")
        % {"name": device.name, "when": now.strftime("%d-%m-%Y %H:%M UTC")},
    )
    return device


@transaction.atomic
def device_remove(*, device, by, ip, now):
    user = User.objects.select_for_update().get(pk=device.user_id)
    deleted, _rows = Device.objects.filter(pk=device.pk).delete()
    if not deleted:
        raise MfaError("gone")
    remaining = Device.objects.filter(user=user).exists()
    _mfa_changed(user, remaining=remaining, now=now)
    audit(action=Action.DEVICE_REMOVED, subject=user, actor=by, ip=ip, detail=device.name, at=now)
    _notify(
        user,
        _("Livits: a device was removed from your account"),
        _("A device (%(name)s) was removed from multi-factor authentication on %(when)s.")
        % {"name": device.name, "when": now.strftime("%d-%m-%Y %H:%M UTC")},
    )


def device_remove_own(*, device, password, code, ip, now):
    """A user removes one of their own devices, proving password and a current code.

    After the go-live the last device stays: without it the user could not log in.
    """
    user = device.user
    if MfaSettings.load().is_live(now) and not user.mfa_devices.exclude(pk=device.pk).exists():
        raise MfaError("last_device_after_go_live")
    if not step_up(user=user, password=password, code=code, ip=ip, now=now):
        raise MfaError("step_up_failed")
    device_remove(device=device, by=user, ip=ip, now=now)


@transaction.atomic
def device_unlink_all(*, user, by, ip, now, reason=""):
    """Remove every device of `user` (manual 4.1, 4.3). Their open session stays."""
    user = User.objects.select_for_update().get(pk=user.pk)
    names = list(Device.objects.filter(user=user).values_list("name", flat=True))
    if not names:
        raise MfaError("not_linked")
    Device.objects.filter(user=user).delete()
    _mfa_changed(user, remaining=False, now=now)
    detail = ", ".join(names) + (f"; reason: {reason}" if reason else "")
    audit(action=Action.UNLINKED_ALL, subject=user, actor=by, ip=ip, detail=detail, at=now)
    _notify(
        user,
        _("Livits: MFA was unlinked from your account"),
        _(
            "A beheerder unlinked multi-factor authentication from your account on %(when)s. "
            "Link your authenticator app again through the padlock in Livits."
        )
        % {"when": now.strftime("%d-%m-%Y %H:%M UTC")},
    )
    return len(names)


@transaction.atomic
def devices_expire(*, user, ip, now):
    """Remove temporary devices whose end date has passed, recording the expiry."""
    expired = list(Device.objects.select_for_update().filter(user=user, expires_at__lte=now))
    if not expired:
        return 0
    Device.objects.filter(pk__in=[device.pk for device in expired]).delete()
    _mfa_changed(user, remaining=Device.objects.filter(user=user).exists(), now=now)
    for device in expired:
        audit(
            action=Action.DEVICE_EXPIRED,
            subject=user,
            ip=ip,
            detail=f"{device.name}, ended {device.expires_at.isoformat()}",
            at=now,
        )
    return len(expired)


def device_rename(*, device, name, by, ip):
    old = device.name
    if old == name:
        return device
    try:
        with transaction.atomic():
            Device.objects.filter(pk=device.pk).update(name=name)
            audit(
                action=Action.DEVICE_RENAMED,
                subject=device.user,
                actor=by,
                ip=ip,
                detail=f"{old} -> {name}",
            )
    except IntegrityError:
        raise MfaError("name_taken") from None
    device.name = name
    return device


# --- Installation settings --------------------------------------------------


@transaction.atomic
def trusted_location_save(*, location, by, ip):
    creating = location.pk is None
    try:
        with transaction.atomic():
            location.save()
    except IntegrityError:
        raise MfaError("network_taken") from None
    verb = "added" if creating else "changed"
    audit(
        action=Action.TRUSTED_LOCATION_CHANGED,
        actor=by,
        ip=ip,
        detail=f"{verb}: {location.name} {location.network}",
    )
    return location


@transaction.atomic
def trusted_location_remove(*, location, by, ip):
    TrustedLocation.objects.filter(pk=location.pk).delete()
    audit(
        action=Action.TRUSTED_LOCATION_CHANGED,
        actor=by,
        ip=ip,
        detail=f"removed: {location.name} {location.network}",
    )


@transaction.atomic
def issuer_set(*, issuer, by, ip):
    mfa_settings = MfaSettings.load()
    old = mfa_settings.issuer_name
    mfa_settings.issuer = issuer.replace(":", "").strip()
    mfa_settings.save(update_fields=["issuer"])
    audit(
        action=Action.ISSUER_CHANGED, actor=by, ip=ip, detail=f"{old} -> {mfa_settings.issuer_name}"
    )


@transaction.atomic
def go_live_set(*, at, by, ip):
    """Set the go-live moment (None: not live)."""
    MfaSettings.load()
    MfaSettings.objects.filter(pk=1).update(go_live_at=at)
    detail = f"live from {at.isoformat()}" if at else "not live"
    audit(action=Action.GO_LIVE_CHANGED, actor=by, ip=ip, detail=detail)


@transaction.atomic
def secrets_reencrypt():
    """Re-encrypt every secret with the first key of MFA_ENCRYPTION_KEYS."""
    count = 0
    for device in Device.objects.select_for_update().only("pk", "secret_encrypted"):
        Device.objects.filter(pk=device.pk).update(
            secret_encrypted=crypto.reencrypt(device.secret_encrypted)
        )
        count += 1
    audit(action=Action.KEYS_ROTATED, detail=f"{count} secrets")
    return count
