"""Step-up: a signed-in person proves password and a fresh second factor again before
linking or removing a factor of their own.

The same reservation and lock as at login (mfa.throttle), counted on the person's own
name; a recovery code counts as the second factor too. A session that passed it may
change the person's factors for MFA_STEP_UP_SECONDS (mfa.enrolment.recently_confirmed,
checked by the views): link a device, make recovery codes, add or remove a passkey,
remove a device; after the go-live never the last way in.
"""

from datetime import datetime

from django.db import transaction

from accounts.models import User
from accounts.services import password_dummy_check
from audit.models import AuditEvent

from .devices import Named, factor_remove
from .factors import factors_of
from .login import second_factor
from .marks import Marks, mark_of
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
RESET = {"reset": True}  # audit data: the failure was a password link's (accounts.passwords)


def _second_factor(user: User, code: str, ip: str | None, now: datetime) -> str | None:
    """The failure to record for `code` as the person's second factor, or None when it is
    one (mfa.login.second_factor: the same rule as at login)."""
    outcome, _device = second_factor(factors_of(user, now=now), user, code, ip, now)
    return None if outcome in (Action.LOGIN_CODE, Action.LOGIN_RECOVERY) else outcome


def step_up(
    *,
    user: User,
    password: str | None,
    code: str,
    ip: str | None,
    now: datetime,
    marks: Marks | None = None,
    password_alone: bool = False,
    purpose: dict[str, bool] = STEP_UP,
) -> bool:
    """Re-check password and a fresh second factor before a factor is linked or removed:
    the same budgets and lock as the login (mfa.throttle).

    `password` None: the caller proved the first factor otherwise (a password link from
    the person's mailbox, accounts.passwords). `password_alone`: a person without any
    factor before the go-live (Factors.password_alone) passes without a second factor.
    `purpose` goes into the audit data of a failure."""
    key = throttle_key(user.username)
    budget = Budget.of(key, mark_of(marks or {}, key))
    turn = None if address_blocked(ip, now) else throttle_turn(budget, now)
    if turn is None or not turn.granted:
        if password is not None:
            password_dummy_check(password)
        return False
    try:
        password_ok = password is None or user.check_password(password)
        with transaction.atomic():
            if not password_ok:
                failed: str | None = Action.LOGIN_FAILED
            elif password_alone and factors_of(user, now=now).password_alone:
                failed = None
            else:
                failed = _second_factor(user, code, ip, now)
            if failed:
                failure_record(
                    budget=budget, user=user, ip=ip, now=now, action=failed, data=purpose
                )
                return False
            throttle_success(budget, now)
    except BaseException:
        throttle_release(budget)
        raise
    return True


def factor_remove_own(*, thing: Named, ip: str | None, now: datetime) -> None:
    """A person removes one of their own devices or passkeys (after a step-up of the
    session); after the go-live not the last way in."""
    factor_remove(thing=thing, by=thing.user, ip=ip, now=now, keep_last_after_go_live=True)
