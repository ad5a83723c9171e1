"""The login throttle: how failures of one account name lock it, and the lock protocol.

Failures are counted per canonical account name (`throttle_key`), known or not, in one
row of LoginThrottle; separately, an IP with MFA_IP_FAILURES_PER_HOUR recorded failures
in the last hour is refused without evaluation (`ip_blocked`).

The lock protocol. A password hash costs about 0.2 s of CPU, so it is never computed
inside a transaction, and yet however many requests race for one name, at most
MFA_LOCK_AFTER of them may be evaluated before the lock holds. Three steps:

1. Reserve (`throttle_reserve`, one upsert: RESERVE_SQL). Before the hash, the attempt
   counts itself as a failure: the statement adds one to the name's count unless the
   name is locked, and returns the new count, the attempt's *slot*. The attempt whose
   slot reaches MFA_LOCK_AFTER also sets a provisional lock of MFA_ATTEMPT_SECONDS, so
   from there on attempts are evaluated one at a time; should its request die, the
   provisional lock simply runs out. No row comes back while the name is locked: the
   attempt is refused with the lock's end, without a hash (the same for known and
   unknown names).
2. Check the password outside any transaction.
3. Decide and record in one transaction. A success deletes the row (the count starts
   again). A failure (`failure_record`) writes its audit row and sets the lock its
   *slot* earns: only the attempt that reached MFA_LOCK_AFTER (or a later one) locks,
   for 2^(slot - MFA_LOCK_AFTER) seconds, at most MFA_LOCK_MAX_SECONDS. Attempts
   reserved before it, still under way, record their failure without locking again or
   moving the lock's end. A row cleared meanwhile (a beheerder's `throttle_clear`, a
   success) restarts the count at one.

A login cut short after step 1 leaves only the reservation: no audit row, no consumed
code. Step-up (mfa.stepup) follows the same three steps on the signed-in user's name.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection

from accounts.models import User, canonical_username

from .audit import audit
from .models import FAILURE_ACTIONS, AuditEvent, LoginThrottle

Action = AuditEvent.Action


def throttle_key(username: str) -> str:
    """Failures are counted per canonical account name, known or not."""
    return canonical_username(username)[:150]


def ip_blocked(ip: str | None, now: datetime) -> bool:
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


def throttle_reserve(key: str, now: datetime) -> Reservation:
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


def failure_record(
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


def lock_of(user: User, now: datetime) -> LoginThrottle | None:
    """The user's current login lock, or None."""
    return LoginThrottle.objects.filter(key=user.username_canonical, locked_until__gt=now).first()
