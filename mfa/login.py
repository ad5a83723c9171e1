"""The login decision: one function decides every login by username, password and the
Toegangscode field (manual 2.3, 3.1), and records it.

What a person may sign in with is mfa.factors' answer: an access code of an active app,
a recovery code while another factor exists, the trusted location for a person with a
factor, the password alone only for a person without any factor before the go-live. A
passkey-only person signs in with the passkey (mfa.passkeys), never with the password
alone.

Three short steps (mfa.throttle has the lock protocol): take a turn in the attempt's
budget, check the password outside any transaction, then decide and record in one
transaction, so a login cut short leaves no audit row, counter or consumed code behind.
Every refusal gets one generic answer, whatever was wrong.
"""

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from django.db import transaction

from accounts.models import User
from accounts.services import credentials_check, login_record, password_dummy_check
from audit.models import AuditEvent
from audit.services import audit

from . import recovery
from .devices import code_consume, devices_expire
from .factors import Factors, factors_of
from .marks import Marks, mark_of, mark_seen
from .models import Device, DeviceMark
from .recovery import recovery_consume
from .throttle import (
    Budget,
    address_blocked,
    failure_record,
    lock_refused,
    throttle_key,
    throttle_release,
    throttle_success,
    throttle_turn,
)

Action = AuditEvent.Action


class LoginStatus(enum.Enum):
    OK = "ok"
    FAILED = "failed"  # one generic message, whatever the reason
    LOCKED = "locked"  # this attempt's budget is locked until `locked_until`
    BUSY = "busy"  # other attempts of this name were under way too long: try again


@dataclass(frozen=True)
class LoginResult:
    status: LoginStatus
    user: User | None = None
    # How the session was authenticated: LOGIN_CODE, LOGIN_RECOVERY, LOGIN_TRUSTED,
    # LOGIN_WITHOUT_DEVICE or LOGIN_PASSKEY.
    method: str = ""
    locked_until: datetime | None = None
    # The lock is a marked browser's own (not the one on browsers the person never used).
    browser_lock: bool = False
    recovery_left: int | None = None  # after a recovery code: how many are unused
    # The end of the temporary app that signed in: the session ends with it.
    until: datetime | None = None
    via_admin: bool = False  # signed in with an app a beheerder linked for the person
    mark: DeviceMark | None = None  # the browser's mark of the person, after a success
    mark_new: bool = False  # the browser carried no mark of the person: it got one now


def login_attempt(
    *,
    username: str,
    password: str,
    code: str,
    ip: str | None,
    now: datetime,
    marks: Marks | None = None,
    user_agent: str = "",
) -> LoginResult:
    """Decide a login from username, password, the Toegangscode field, the client's
    address, the browser's marks (mfa.marks) and the time."""
    key = throttle_key(username)
    if address_blocked(ip, now):
        password_dummy_check(password)
        return LoginResult(LoginStatus.FAILED)
    mark = mark_of(marks or {}, key)
    budget = Budget.of(key, mark)
    turn = throttle_turn(budget, now)
    if turn.busy:
        return LoginResult(LoginStatus.BUSY)
    if not turn.granted:  # says so (for known and unknown names alike): no hash
        with transaction.atomic():
            lock_refused(budget=budget, ip=ip, now=now)
        return _locked(budget, turn.locked_until)
    try:
        user = credentials_check(key=key, password=password)
        with transaction.atomic():
            result = _login_decide(budget=budget, user=user, code=code, ip=ip, now=now)
            if result.status is LoginStatus.OK and result.user is not None:
                seen = mark_seen(user=result.user, mark=mark, user_agent=user_agent, now=now)
                result = replace(result, mark=seen, mark_new=seen is not mark)
    except BaseException:
        throttle_release(budget)  # cut short: the turn goes back, nothing was counted
        raise
    return result


def _locked(budget: Budget, until: datetime | None) -> LoginResult:
    return LoginResult(LoginStatus.LOCKED, locked_until=until, browser_lock=budget.browser)


def _login_decide(
    *, budget: Budget, user: User | None, code: str, ip: str | None, now: datetime
) -> LoginResult:
    if user is None:
        return _refuse(budget, None, Action.LOGIN_FAILED, ip, now)
    factors = factors_of(user, now=now, ip=ip)
    if factors.expired:  # temporary access that ended: removed, and what it ends follows
        devices_expire(user=user, ip=ip, now=now)
    if not factors.any:
        if factors.live:  # recorded for the beheerder; the person sees the generic message
            return _refuse(budget, user, Action.LOGIN_NO_DEVICE, ip, now)
        return _success(budget, user, Action.LOGIN_WITHOUT_DEVICE, ip, now)
    typed_recovery = recovery.normalize(code) is not None  # from anywhere
    if factors.trusted_location and not typed_recovery:
        result = _success(budget, user, Action.LOGIN_TRUSTED, ip, now)
        return replace(result, until=factors.ends_at)  # mfa.middleware ends it with them
    if not (factors.apps or typed_recovery):  # passkey-only: the passkey is the way in
        return _refuse(budget, user, Action.CODE_FAILED, ip, now, {"passkey_only": True})
    outcome, device = second_factor(factors, user, code, ip, now)
    if outcome not in (Action.LOGIN_CODE, Action.LOGIN_RECOVERY):
        return _refuse(budget, user, outcome, ip, now)
    result = _success(budget, user, outcome, ip, now)
    if device is None:  # a recovery code, backing the person's factors until they end
        return replace(result, recovery_left=factors.recovery_unused - 1, until=factors.ends_at)
    return replace(result, until=device.expires_at, via_admin=device.via_admin)


def second_factor(
    factors: Factors, user: User, code: str, ip: str | None, now: datetime
) -> tuple[str, Device | None]:
    """The Toegangscode field as the person's second factor, consumed once: (LOGIN_CODE,
    the app) for an access code, (LOGIN_RECOVERY, None) for a recovery code while it backs
    a factor, or (the failure to record, None). The login and step-up both ask this."""
    if recovery.normalize(code) is not None:
        if factors.recovery and recovery_consume(user, code, ip, now):
            return Action.LOGIN_RECOVERY, None
        return Action.CODE_FAILED, None
    device, replayed = code_consume(factors.apps, code, now)
    if device is None or replayed:
        return (Action.CODE_REPLAYED if replayed else Action.CODE_FAILED), None
    return Action.LOGIN_CODE, device


def _refuse(
    budget: Budget,
    user: User | None,
    action: str,
    ip: str | None,
    now: datetime,
    data: dict[str, object] | None = None,
) -> LoginResult:
    """A failed attempt: recorded in its budget; the one that locks says so."""
    locked = failure_record(budget=budget, user=user, ip=ip, now=now, action=action, data=data)
    return _locked(budget, locked) if locked else LoginResult(LoginStatus.FAILED)


def _success(budget: Budget, user: User, method: str, ip: str | None, now: datetime) -> LoginResult:
    throttle_success(budget, now)
    audit(action=method, subject=user, ip=ip, at=now)
    login_record(user=user, now=now)
    return LoginResult(LoginStatus.OK, user, method=method)


def session_end(*, user: User, ip: str | None, now: datetime, reason: str = "go_live") -> None:
    """Record that a session ended because its way in no longer holds (the go-live, the
    passkeys switch, the end of temporary access)."""
    audit(action=Action.SESSION_ENDED, subject=user, ip=ip, data={"reason": reason}, at=now)
