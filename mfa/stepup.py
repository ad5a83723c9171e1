"""Step-up: a signed-in person proves password and a fresh second factor again before
linking or removing a factor of their own.

The same reservation and lock as at login (mfa.throttle), counted on the person's own
name; a recovery code counts as the second factor too. Removing one's own device or
passkey goes through here; after the go-live not the last way in.
"""

from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import password_dummy_check

from . import recovery
from .audit import audit
from .devices import code_consume, device_remove, mfa_changed
from .errors import MfaError
from .models import AuditEvent, Device, LoginThrottle, MfaSettings, Passkey
from .notify import local_moment, notify
from .recovery import recovery_consume
from .selectors import has_mfa
from .throttle import failure_record, ip_blocked, throttle_reserve

Action = AuditEvent.Action


def _second_factor(user: User, code: str, ip: str | None, now: datetime) -> str | None:
    """The failure to record for `code` as the user's second factor (a current code of an
    active device, or an unused recovery code), or None when it is one; consumed once."""
    if recovery.normalize(code):
        return None if recovery_consume(user, code, ip, now) else Action.CODE_FAILED
    devices = list(Device.objects.active(now).filter(user=user))
    device, replayed = code_consume(devices, code, now)
    if device is None or replayed:
        return Action.CODE_REPLAYED if replayed else Action.CODE_FAILED
    return None


def step_up(*, user: User, password: str, code: str, ip: str | None, now: datetime) -> bool:
    """Re-check password and a fresh code before a device is linked or removed."""
    key = user.username_canonical
    reservation = None if ip_blocked(ip, now) else throttle_reserve(key, now)
    if reservation is None or reservation.locked_until:
        password_dummy_check(password)
        return False
    password_ok = user.check_password(password)
    with transaction.atomic():
        failed = _second_factor(user, code, ip, now) if password_ok else Action.LOGIN_FAILED
        if failed:
            slot = reservation.slot
            failure_record(
                key=key, slot=slot, user=user, ip=ip, now=now, action=failed, data=STEP_UP
            )
            return False
        LoginThrottle.objects.filter(key=key).delete()
    return True


STEP_UP = {"step_up": True}


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
        mfa_changed(user, now)
        audit(
            action=Action.PASSKEY_REMOVED,
            subject=user,
            actor=user,
            ip=ip,
            data={"passkey": passkey.name},
            at=now,
        )
        notify(
            user,
            _("Livits: a passkey was removed from your account"),
            _("A passkey (%(name)s) was removed from your account on %(when)s.")
            % {"name": passkey.name, "when": local_moment(now)},
        )
