"""The login decision: one function decides every login by username, password and
access code (manual 2.3, 3.1), and records it.

Three short steps (see mfa.throttle for the lock protocol): reserve the attempt, check
the password outside any transaction, then decide and record in one transaction, so a
login cut short leaves no audit row, counter or consumed code behind. Every refusal
gets one generic answer, whatever was wrong.
"""

import enum
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from accounts.models import User
from accounts.services import credentials_check, login_record, password_dummy_check

from . import recovery
from .audit import audit
from .devices import code_consume, usable_devices
from .locations import is_trusted_location
from .models import AuditEvent, LoginThrottle, MfaSettings
from .recovery import recovery_consume, recovery_status
from .throttle import failure_record, ip_blocked, throttle_key, throttle_reserve

Action = AuditEvent.Action


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


def login_attempt(
    *, username: str, password: str, code: str, ip: str | None, now: datetime
) -> LoginResult:
    """Decide a login from username, password, access code, client IP and time.

    Three short steps: reserve the attempt (one write), check the password outside
    any transaction, then decide and record the outcome in one transaction, so a
    login cut short leaves no audit row, counter or consumed code behind.
    """
    key = throttle_key(username)
    if ip_blocked(ip, now):
        password_dummy_check(password)
        return LoginResult(LoginStatus.FAILED)
    reservation = throttle_reserve(key, now)
    if reservation.locked_until:  # says so (for known and unknown names alike): no hash
        return LoginResult(LoginStatus.LOCKED, locked_until=reservation.locked_until)
    user = credentials_check(key=key, password=password)
    with transaction.atomic():
        return _login_decide(key=key, slot=reservation.slot, user=user, code=code, ip=ip, now=now)


def _login_decide(
    *, key: str, slot: int, user: User | None, code: str, ip: str | None, now: datetime
) -> LoginResult:
    if user is None:
        failure_record(key=key, slot=slot, user=None, ip=ip, now=now, action=Action.LOGIN_FAILED)
        return LoginResult(LoginStatus.FAILED)
    if recovery.normalize(code):  # whatever the devices, from anywhere
        if not recovery_consume(user, code, ip, now):
            failure_record(key=key, slot=slot, user=user, ip=ip, now=now, action=Action.CODE_FAILED)
            return LoginResult(LoginStatus.FAILED)
        _login_success(key=key, user=user, method=Action.LOGIN_RECOVERY, ip=ip, now=now)
        left = recovery_status(user)["unused"]
        return LoginResult(LoginStatus.OK, user, Action.LOGIN_RECOVERY, recovery_left=left)
    devices = usable_devices(user, ip, now)
    if devices and is_trusted_location(ip):
        method = Action.LOGIN_TRUSTED
    elif devices:
        device, replayed = code_consume(devices, code, now)
        if device is None or replayed:
            action = Action.CODE_REPLAYED if replayed else Action.CODE_FAILED
            failure_record(key=key, slot=slot, user=user, ip=ip, now=now, action=action)
            return LoginResult(LoginStatus.FAILED)
        method = Action.LOGIN_CODE
    elif MfaSettings.load().is_live(now):
        # Recorded for the beheerder's history panel; the person sees the generic message.
        failure_record(key=key, slot=slot, user=user, ip=ip, now=now, action=Action.LOGIN_NO_DEVICE)
        return LoginResult(LoginStatus.FAILED)
    else:
        method = Action.LOGIN_WITHOUT_DEVICE
    _login_success(key=key, user=user, method=method, ip=ip, now=now)
    return LoginResult(LoginStatus.OK, user, method=method)


def _login_success(*, key: str, user: User, method: str, ip: str | None, now: datetime) -> None:
    LoginThrottle.objects.filter(key=key).delete()
    audit(action=method, subject=user, ip=ip, at=now)
    login_record(user=user, now=now)


def session_end(*, user: User, ip: str | None, now: datetime) -> None:
    """Record that a session without a second factor ended because MFA went live."""
    audit(action=Action.SESSION_ENDED, subject=user, ip=ip, at=now)
