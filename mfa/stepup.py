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
from .devices import code_consume, device_remove
from .errors import MfaError
from .factors import factors_changed, factors_of, last_way_in_guard
from .marks import Marks, mark_of
from .models import AuditEvent, Device, Passkey
from .notify import local_moment, notify
from .recovery import recovery_consume
from .throttle import (
    Budget,
    address_blocked,
    failure_record,
    throttle_key,
    throttle_release,
    throttle_success,
    throttle_turn,
)

Action = AuditEvent.Action
STEP_UP = {"step_up": True}  # audit data: the failure was a step-up's, not a login's


def _second_factor(user: User, code: str, ip: str | None, now: datetime) -> str | None:
    """The failure to record for `code` as the person's second factor (an access code of an
    active app, or a recovery code while it backs a factor: mfa.factors), or None when it
    is one; consumed once."""
    factors = factors_of(user, now=now)
    if recovery.normalize(code):
        usable = factors.recovery and recovery_consume(user, code, ip, now)
        return None if usable else Action.CODE_FAILED
    device, replayed = code_consume(factors.apps, code, now)
    if device is None or replayed:
        return Action.CODE_REPLAYED if replayed else Action.CODE_FAILED
    return None


def step_up(
    *,
    user: User,
    password: str,
    code: str,
    ip: str | None,
    now: datetime,
    marks: Marks | None = None,
) -> bool:
    """Re-check password and a fresh second factor before a factor is linked or removed:
    the same budgets and lock as the login (mfa.throttle)."""
    key = throttle_key(user.username)
    budget = Budget.of(key, mark_of(marks or {}, key))
    turn = None if address_blocked(ip, now) else throttle_turn(budget, now)
    if turn is None or not turn.granted:
        password_dummy_check(password)
        return False
    try:
        password_ok = user.check_password(password)
        with transaction.atomic():
            failed = _second_factor(user, code, ip, now) if password_ok else Action.LOGIN_FAILED
            if failed:
                failure_record(
                    budget=budget, user=user, ip=ip, now=now, action=failed, data=STEP_UP
                )
                return False
            throttle_success(budget, now)
    except BaseException:
        throttle_release(budget)
        raise
    return True


def device_remove_own(
    *,
    device: Device,
    password: str,
    code: str,
    ip: str | None,
    now: datetime,
    marks: Marks | None = None,
) -> None:
    """A user removes one of their own devices, proving password and a current code.

    After the go-live the last device stays: without it the user could not log in.
    """
    user = device.user
    if not step_up(user=user, password=password, code=code, ip=ip, now=now, marks=marks):
        raise MfaError("step_up_failed")
    device_remove(device=device, by=user, ip=ip, now=now, keep_last_after_go_live=True)


def passkey_remove_own(
    *,
    passkey: Passkey,
    password: str,
    code: str,
    ip: str | None,
    now: datetime,
    marks: Marks | None = None,
) -> None:
    """A user removes one of their passkeys, proving password and a current code; after the
    go-live not the last way in."""
    user = passkey.user
    if not step_up(user=user, password=password, code=code, ip=ip, now=now, marks=marks):
        raise MfaError("step_up_failed")
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        if not Passkey.objects.filter(pk=passkey.pk).delete()[0]:
            raise MfaError("gone")
        last_way_in_guard(user, now)  # rolls the delete back
        factors_changed(user, by=user, ip=ip, now=now, reason="removed")
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
