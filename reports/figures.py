"""Sorting on per-user figures that time changes, by stored figures and a few exceptions.

Aantal_apparaten counts the active devices, and a temporary device stops being active
when its end passes; Mislukte_pogingen_30_dagen counts the failed attempts of the last
30 days, a window that slides. Neither can be a counter, but each is the stored figure
(reports.models.UserFigures, kept by triggers on PostgreSQL) for every user outside a
small set:
- devices: every device is stored; only a user with a temporary device (an end date)
  can have fewer active ones;
- failures: counted from the window's start; only a user with failures between that
  start and 30 days ago can have fewer in the last 30 days (or, with the clock before
  the start, more).
Aantal_passkeys and Herstelcodes_ongebruikt count the passkeys and the unused recovery
codes, which time does not change: their stored figures are theirs, without exceptions.
A page walks the index of the stored figure without those users, takes them with
their live figures beside it, and keeps the first rows of both (reports.selectors):
the same rows as the live aggregate, in any direction, ties by id. The window's start
follows the minutes, so the exceptions stay a few minutes' failures.
"""

from datetime import datetime, timedelta

from django.db import OperationalError, connection, transaction
from django.db.models import Count, QuerySet

from audit.models import FAILURE_ACTIONS, AuditEvent
from mfa.models import Device

from .fields import compiled

# The report's field -> the column of reports_userfigures that bounds it.
STORED = {
    "device_count": "devices",
    "failures_30d": "failures",
    "passkey_count": "passkeys",
    "recovery_unused": "recovery",
}
WINDOW = timedelta(days=30)  # reports.fields: failures_30d


def stored(name: str) -> bool:
    """Whether a page sorted first on this field may walk its stored figure."""
    return connection.vendor == "postgresql" and name in STORED


def differing(name: str, now: datetime) -> tuple[list[int], datetime | None]:
    """The users whose live figure may differ from the stored one at `now`, and the
    window's start they were found for (see `held`)."""
    if name in ("passkey_count", "recovery_unused"):
        return [], None
    if name == "device_count":
        temporary = Device.objects.filter(expires_at__isnull=False).order_by()
        return list(temporary.values_list("user_id", flat=True).distinct()), None
    since = now - WINDOW
    start = _window_follow(since)
    between = _failures(start if start is None else min(start, since), max(start or since, since))
    return list(between.values_list("subject_id", flat=True).distinct()), start


def held(name: str, start: datetime | None) -> bool:
    """Whether the stored figures still count from `start`: another page (a later minute,
    or a host whose clock is ahead) may have moved the window after `differing` found its
    users, and the stored figures read since then would miss failures of users it did not
    name. A start only moves forwards, so the same start now means it never moved."""
    if name != "failures_30d":
        return True  # the other figures are stored in the same transaction as they change
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(start) FROM reports_failurewindow")
        return bool(cursor.fetchone()[0] == start)


def _failures(start: datetime | None, end: datetime) -> QuerySet[AuditEvent]:
    """The failed attempts about a user from `start` (None: the first) until `end`."""
    failures = AuditEvent.objects.filter(
        action__in=FAILURE_ACTIONS, subject__isnull=False, at__lt=end
    ).order_by()
    return failures if start is None else failures.filter(at__gte=start)


def _window_follow(since: datetime) -> datetime | None:
    """The window's start (None: without its row, as after `manage.py flush`, the stored
    figures count every failure), moved to the minute of `since` when it is older: the
    failures before it leave the stored figures. Writes to the audit trail wait for the
    move (a minute's failures: milliseconds); when one is under way the move is left to
    a later page, and the exceptions are a little more meanwhile."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(start) FROM reports_failurewindow")
        (start,) = cursor.fetchone()
    target = since.replace(second=0, microsecond=0)
    if start is not None and start >= target:
        return start  # type: ignore[no-any-return]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # derived rows: a crash that loses this commit loses the start with them
            cursor.execute("SET LOCAL synchronous_commit = off")
            # no audit write, and no other move, beside this one; both tables at once, so
            # a writer that already changed a device (its trigger holds the person's figures
            # row) and will write its audit record next makes this give way, not deadlock
            cursor.execute(
                "LOCK TABLE mfa_auditevent, reports_userfigures IN SHARE ROW EXCLUSIVE MODE NOWAIT"
            )
            cursor.execute("SELECT MAX(start) FROM reports_failurewindow")
            (start,) = cursor.fetchone()
            if start is not None and start >= target:
                return start  # type: ignore[no-any-return]
            leaving = _failures(start, target).values("subject_id").annotate(n=Count("pk"))
            sql, params = compiled(leaving)
            cursor.execute(
                "UPDATE reports_userfigures SET failures = failures - leaving.n"
                f" FROM ({sql}) leaving WHERE leaving.subject_id = reports_userfigures.user_id",
                params,
            )
            cursor.execute(
                "INSERT INTO reports_failurewindow (id, start) VALUES (1, %s)"
                " ON CONFLICT (id) DO UPDATE SET start = EXCLUDED.start",
                [target],
            )
            return target
    except OperationalError:  # a write to the audit trail is under way
        return start  # type: ignore[no-any-return]
