"""The login throttle: who may try a password for a name now, and how failures lock.

Budgets. Failures are counted per *budget*: the canonical account name (known or not)
for every browser that carries no mark of that person, and, for a browser that does
(mfa/marks.py, OWASP's device cookies), that browser's own budget. So failures sent from
anywhere else lock only the unmarked browsers, never the owner's marked one, which has
its own small budget (MFA_LOCK_AFTER_BROWSER) and then its own lock. Separately, a client
address (an IPv4 address, or an IPv6 /64) with MFA_IP_FAILURES_PER_HOUR failures or
refusals in the last hour is refused without evaluation (`address_blocked`).

The lock protocol. A password hash costs about 0.2 s of CPU, so it is never computed
inside a transaction; yet however many requests race for one budget, at most its limit
of them are being evaluated at any moment, and only failures that happened are counted.

1. Reserve a turn (`throttle_reserve`, one upsert: RESERVE_SQL). A budget row holds
   `failures` (recorded outcomes) and `in_flight` (attempts being evaluated, valid
   until `lease_until`). A turn is granted while the budget is not locked and
   in_flight < limit - failures; after a lock has run out (failures >= limit), one
   attempt at a time. No turn: either locked (refused with the lock's end, without a
   hash, the same for known and unknown names), or busy: other attempts of this budget
   are under way. A busy attempt waits for its turn (`throttle_turn`, at most
   MFA_ATTEMPT_WAIT_SECONDS, then it is asked to try again; nothing is counted), so
   simultaneous right passwords all get in and nobody is told of failures that did not
   happen.
2. Check the password outside any transaction.
3. Decide and record in one transaction. A success starts the budget's count again and
   gives its turn back (`throttle_success`). A failure (`failure_record`) writes its
   audit row, counts one failure under the row's lock and gives its turn back; the
   failure that reaches the limit locks for 2^(failures - limit) seconds (at most
   MFA_LOCK_MAX_SECONDS). Because turns never exceed limit - failures, the attempts under
   way when the limit is reached cannot lock again or move the lock.

A login cut short after step 1 gives its turn back (`throttle_release`); should the
request die outright, its turn lapses with the lease (MFA_ATTEMPT_SECONDS). Step-up
(mfa.stepup) follows the same three steps on the signed-in person's budget.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Greatest

from accounts.models import User, canonical_username
from audit.models import ADDRESS_LIMITED_ACTIONS, AuditEvent
from audit.services import audit
from livits.addresses import address_block

from .models import DeviceMark, LoginThrottle

Action = AuditEvent.Action
BROWSER_SEPARATOR = "#"  # never in a canonical username (letters, digits and @.+-_)


def throttle_key(username: str) -> str:
    """The budget of a name, known or not: its canonical form (the column's length)."""
    return canonical_username(username)[: User._meta.get_field("username_canonical").max_length]


@dataclass(frozen=True)
class Budget:
    """Whose count an attempt is counted in: a name's, or one marked browser's."""

    key: str  # the LoginThrottle row
    name: str  # the name it counts for (the audit's account name)
    limit: int
    browser: bool  # a marked browser's own budget

    @classmethod
    def of(cls, name_key: str, mark: DeviceMark | None) -> "Budget":
        if mark is not None:
            key = f"{name_key}{BROWSER_SEPARATOR}{mark.pk}"
            return cls(key, name_key, settings.MFA_LOCK_AFTER_BROWSER, browser=True)
        if BROWSER_SEPARATOR in name_key:
            # No account has such a name; typed, it must never be a marked browser's key:
            # all such names share one budget of their own.
            return cls(BROWSER_SEPARATOR, name_key, settings.MFA_LOCK_AFTER, browser=False)
        return cls(name_key, name_key, settings.MFA_LOCK_AFTER, browser=False)


@dataclass(frozen=True)
class Turn:
    """Whether an attempt may be evaluated now; if not, the lock's end, or busy."""

    granted: bool
    locked_until: datetime | None = None

    @property
    def busy(self) -> bool:
        return not self.granted and self.locked_until is None


def address_blocked(ip: str | None, now: datetime) -> bool:
    """Whether the client's address (IPv6: its /64) is over its hourly limit."""
    block = address_block(ip)
    if not block:
        return False
    since = now - timedelta(hours=1)
    seen = AuditEvent.objects.filter(
        ip_block=block, action__in=ADDRESS_LIMITED_ACTIONS, at__gte=since
    ).count()
    return seen >= settings.MFA_IP_FAILURES_PER_HOUR


RESERVE_SQL = """
    INSERT INTO mfa_loginthrottle (key, failures, locked_until, last_failure_at, in_flight,
                                   lease_until)
    VALUES (%s, 0, NULL, NULL, 1, %s)
    ON CONFLICT (key) DO UPDATE SET
        in_flight = (CASE WHEN mfa_loginthrottle.lease_until > %s
                          THEN mfa_loginthrottle.in_flight ELSE 0 END) + 1,
        lease_until = %s
    WHERE (mfa_loginthrottle.locked_until IS NULL OR mfa_loginthrottle.locked_until <= %s)
      AND (CASE WHEN mfa_loginthrottle.lease_until > %s
                THEN mfa_loginthrottle.in_flight ELSE 0 END)
          < (CASE WHEN mfa_loginthrottle.failures >= %s
                  THEN 1 ELSE %s - mfa_loginthrottle.failures END)
    RETURNING in_flight
"""


def throttle_reserve(budget: Budget, now: datetime) -> Turn:
    """One try for a turn (step 1 of the protocol): one statement, no waiting."""
    lease = connection.ops.adapt_datetimefield_value(
        now + timedelta(seconds=settings.MFA_ATTEMPT_SECONDS)
    )
    moment = connection.ops.adapt_datetimefield_value(now)
    limit = budget.limit
    with connection.cursor() as cursor:
        cursor.execute(
            RESERVE_SQL, [budget.key, lease, moment, lease, moment, moment, limit, limit]
        )
        granted = cursor.fetchone()
    if granted is not None:
        return Turn(granted=True)
    until = current_locks(now).filter(key=budget.key).values_list("locked_until", flat=True).first()
    return Turn(granted=False, locked_until=until)


def throttle_turn(budget: Budget, now: datetime) -> Turn:
    """A turn for an attempt, waiting while other attempts of the budget are under way
    (at most MFA_ATTEMPT_WAIT_SECONDS of real time: the wait is for other requests, not
    for the clock the decision uses)."""
    deadline = time.monotonic() + settings.MFA_ATTEMPT_WAIT_SECONDS
    pause = 0.02
    while True:
        turn = throttle_reserve(budget, now)
        if not turn.busy or time.monotonic() >= deadline:
            return turn
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


def _turn_back() -> Greatest:
    return Greatest(F("in_flight") - 1, 0)


def throttle_release(budget: Budget) -> None:
    """Give a turn back without an outcome (the attempt was cut short)."""
    LoginThrottle.objects.filter(key=budget.key).update(in_flight=_turn_back())


def throttle_success(budget: Budget, now: datetime) -> None:
    """The attempt succeeded: the budget's count starts again (its row goes, unless other
    attempts are under way: then it stays, counting them). Inside the transaction."""
    rows = LoginThrottle.objects.filter(key=budget.key)
    if not rows.filter(Q(in_flight__lte=1) | Q(lease_until__lte=now)).delete()[0]:
        rows.update(failures=0, locked_until=None, in_flight=_turn_back())


# One failure counted and its turn given back, in one statement (step 3 of the protocol):
# the row its turn was reserved in, or a new one if that went meanwhile (a beheerder
# cleared it, or a success after this attempt's lease had run out).
FAILURE_SQL = """
    INSERT INTO mfa_loginthrottle (key, failures, locked_until, last_failure_at, in_flight,
                                   lease_until)
    VALUES (%s, 1, NULL, %s, 0, NULL)
    ON CONFLICT (key) DO UPDATE SET
        failures = mfa_loginthrottle.failures + 1,
        in_flight = CASE WHEN mfa_loginthrottle.in_flight > 0
                         THEN mfa_loginthrottle.in_flight - 1 ELSE 0 END,
        last_failure_at = excluded.last_failure_at
    RETURNING failures
"""


def failure_record(
    *,
    budget: Budget,
    user: User | None,
    ip: str | None,
    now: datetime,
    action: str,
    data: Mapping[str, object] | None = None,
) -> datetime | None:
    """Record a failed attempt in its budget (step 3) and give its turn back; returns the
    end of the lock this failure started, if it started one. Inside a transaction."""
    name = budget.name
    audit(action=action, subject=user, subject_name=name, ip=ip, data=data, at=now)
    with connection.cursor() as cursor:
        cursor.execute(FAILURE_SQL, [budget.key, connection.ops.adapt_datetimefield_value(now)])
        (failures,) = cursor.fetchone()
    if failures < budget.limit:
        return None
    # The row stays locked by the upsert until the transaction ends: nothing moves it now.
    wait = min(2 ** (failures - budget.limit), settings.MFA_LOCK_MAX_SECONDS)
    locked = now + timedelta(seconds=wait)
    LoginThrottle.objects.filter(key=budget.key).update(locked_until=locked)
    lock_data = {"failures": failures, "wait": wait}
    if budget.browser:
        lock_data["browser"] = True
    audit(action=Action.LOCKED, subject=user, subject_name=name, ip=ip, data=lock_data, at=now)
    return locked


def lock_refused(*, budget: Budget, ip: str | None, now: datetime) -> None:
    """Record an attempt refused by a lock: it counts in its address's hourly limit."""
    data = {"browser": True} if budget.browser else {}
    audit(action=Action.LOCK_REFUSED, subject_name=budget.name, ip=ip, data=data, at=now)


def current_locks(now: datetime) -> QuerySet[LoginThrottle]:
    """The budgets locked at `now`: the one rule for "locked now" (the user tab, the
    reports' Nu_geblokkeerd)."""
    return LoginThrottle.objects.filter(locked_until__gt=now)


def _budgets_of(user: User) -> Q:
    key = throttle_key(user.username)
    return Q(key=key) | Q(key__startswith=key + BROWSER_SEPARATOR)


def throttle_clear(*, user: User, by: User, ip: str | None) -> bool:
    """A beheerder clears every lock and count of the person (all their budgets)."""
    deleted, _rows = LoginThrottle.objects.filter(_budgets_of(user)).delete()
    if deleted:
        audit(action=Action.LOCK_CLEARED, subject=user, actor=by, ip=ip)
    return bool(deleted)


@dataclass(frozen=True)
class Locks:
    """A person's current locks: the one on unmarked browsers, and marked browsers'."""

    name: LoginThrottle | None
    browsers: int

    def __bool__(self) -> bool:
        return self.name is not None or self.browsers > 0

    @property
    def name_until(self) -> datetime | None:
        return lock_end(self.name.locked_until) if self.name else None


def lock_end(locked_until: datetime | None) -> datetime | None:
    """The whole second from which a lock lets the name try again: the lock's end rounded
    up, as every screen names it (the login page and the CRM user tab say the same)."""
    if locked_until is not None and locked_until.microsecond:
        return locked_until.replace(microsecond=0) + timedelta(seconds=1)
    return locked_until


def locks_of(user: User, now: datetime) -> Locks:
    """The person's current login locks (one query)."""
    key = throttle_key(user.username)
    locked = list(current_locks(now).filter(_budgets_of(user)))
    name = next((row for row in locked if row.key == key), None)
    return Locks(name=name, browsers=sum(1 for row in locked if row.key != key))
