"""Pages on per-user figures, by stored figures and a few exceptions.

A sort or filter on a per-user figure would aggregate every user before the first
row. On PostgreSQL each such field and filter has a stored form (reports.models.
UserFigures, kept by triggers) that equals the live figure for every user outside a
small set, and that an index serves:
- devices (Aantal_apparaten), "has MFA" (MFA_gekoppeld; the filters linked, unlinked,
  never reminded), linked by a beheerder (Via_beheerder, the filter via_admin) and the
  end of that access (Tijdelijk_tot): every device is stored, and only a user with a
  temporary device (an end date) can have fewer active ones; without one, the
  access has no end, so Tijdelijk_tot is empty;
- failures (Mislukte_pogingen_30_dagen): counted from the window's start; only a user
  with failures between that start and 30 days ago can have fewer in the last 30 days
  (or, with the clock before the start, more);
- locked now (Nu_geblokkeerd): nobody, but the users whose name is locked now;
- passkeys and unused recovery codes (Aantal_passkeys, Herstelcodes_ongebruikt, the
  filters with_passkey and no_recovery), which time does not change: no exceptions.
A page walks the stored forms without those users, takes those users with their live
figures beside it, and keeps the first rows of both (reports.selectors): the same
rows as the live definition, in any direction, ties by id. The window's start follows
the minutes, so the exceptions stay a few minutes' failures.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import OperationalError, connection, transaction
from django.db.models import Count, QuerySet

from accounts.models import User
from audit.models import FAILURE_ACTIONS, AuditEvent
from mfa.models import Device, MfaSettings
from mfa.throttle import current_locks

from .fields import compiled

# Which users' live value a stored form may differ from (see the module's text).
TEMPORARY, FAILURES, LOCKS = "temporary", "failures", "locks"
# "Has MFA" stored: an app, or a passkey while passkeys are allowed (mfa.factors).
# Migration 0007 indexes both forms, with the user, for the sort on MFA_gekoppeld.
LINKED = {
    True: "(figures.devices > 0 OR figures.passkeys > 0)",
    False: "(figures.devices > 0)",
}


@dataclass(frozen=True)
class Form:
    sql: str  # over accounts_user and reports_userfigures (as `figures`); {linked}: LINKED
    differs: str | None = None  # TEMPORARY, FAILURES, LOCKS: whose live value may differ


# The report's fields (reports.fields.FIELDS) and filters (FILTER_SQL) with a stored form.
FIELDS = {
    "device_count": Form("figures.devices", TEMPORARY),
    "failures_30d": Form("figures.failures", FAILURES),
    "passkey_count": Form("figures.passkeys"),
    "recovery_unused": Form("figures.recovery"),
    "mfa_linked": Form("{linked}", TEMPORARY),
    "via_admin": Form("(figures.admin_devices > 0)", TEMPORARY),
    "via_admin_until": Form("CAST(NULL AS timestamptz)", TEMPORARY),
    "locked_now": Form("FALSE", LOCKS),
}
FILTERS = {
    "linked": Form("{linked}", TEMPORARY),
    "unlinked": Form("NOT {linked}", TEMPORARY),
    "never_reminded": Form("NOT {linked} AND accounts_user.mfa_reminded_at IS NULL", TEMPORARY),
    "via_admin": Form("(figures.admin_devices > 0)", TEMPORARY),
    "with_passkey": Form("figures.passkeys > 0"),
    "no_recovery": Form("figures.recovery = 0"),
}
WINDOW = timedelta(days=30)  # reports.fields: failures_30d


@dataclass(frozen=True)
class Split:
    """How one page reads the stored forms: the SQL of each stored field and of the
    filter, and the users left to the live definition."""

    fields: dict[str, str]
    where: str | None  # the filter's stored form, or None: the live filter
    kinds: frozenset[str]  # whose live values may differ: TEMPORARY, FAILURES, LOCKS
    differ: list[int]  # those users
    start: datetime | None  # the failure window's start they were found for

    @property
    def joins_figures(self) -> bool:
        return any("figures." in sql for sql in [*self.fields.values(), self.where or ""])


def applies(keys: Sequence[str], show: str) -> bool:
    """Whether a page sorted on `keys` and filtered by `show` reads stored forms: where
    its first key or its filter has one, and the database keeps the figures."""
    return connection.vendor == "postgresql" and (keys[0] in FIELDS or show in FILTERS)


def split(now: datetime, keys: Sequence[str], show: str) -> Split | None:
    """The stored forms for a page sorted on `keys` and filtered by `show`, or None
    where it reads none (see `applies`)."""
    if not applies(keys, show):
        return None
    forms = {name: FIELDS[name] for name in keys if name in FIELDS}
    where = FILTERS.get(show)
    used = [*forms.values(), *([where] if where else [])]
    if any("{linked}" in form.sql for form in used):
        linked = LINKED[bool(MfaSettings.load().passkeys_allowed)]
    else:
        linked = ""
    kinds = frozenset(form.differs for form in used if form.differs)
    differ, start = differing(kinds, now)
    return Split(
        {name: form.sql.replace("{linked}", linked) for name, form in forms.items()},
        where.sql.replace("{linked}", linked) if where else None,
        kinds,
        differ,
        start,
    )


def differing(kinds: frozenset[str], now: datetime) -> tuple[list[int], datetime | None]:
    """The users whose live values of these kinds may differ from the stored ones at
    `now`, and the window's start they were found for (see `held`)."""
    users: set[int] = set()
    start = None
    if TEMPORARY in kinds:
        temporary = Device.objects.filter(expires_at__isnull=False).order_by()
        users.update(temporary.values_list("user_id", flat=True).distinct())
    if LOCKS in kinds:
        locked = User.objects.filter(username_canonical__in=current_locks(now).values("key"))
        users.update(locked.values_list("pk", flat=True))
    if FAILURES in kinds:
        since = now - WINDOW
        start = _window_follow(since)
        between = _failures(
            start if start is None else min(start, since), max(start or since, since)
        )
        users.update(between.values_list("subject_id", flat=True).distinct())
    return sorted(users), start


def held(page: Split) -> bool:
    """Whether the stored figures still count from the start the page's exceptions were
    found for: another page (a later minute, or a host whose clock is ahead) may have
    moved the window since, and the stored figures read since then would miss failures
    of users it did not name. A start only moves forwards, so the same start now means
    it never moved."""
    if FAILURES not in page.kinds:
        return True  # the other figures are stored in the same transaction as they change
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(start) FROM reports_failurewindow")
        return bool(cursor.fetchone()[0] == page.start)


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
