"""Pages on per-user figures, by stored figures and a few exceptions.

A sort or filter on a per-user figure would aggregate every user before the first
row. On PostgreSQL each such field and filter has a stored form (reports.models.
UserFigures, kept by triggers) that equals the live figure for every user outside a
small set, and that an index serves:
- devices (Aantal_apparaten), "has MFA" (MFA_gekoppeld; the filters linked, unlinked,
  never reminded) and linked by a beheerder (Via_beheerder, the filter via_admin):
  every device is stored, and only a user with a temporary device whose end has
  passed (removed at their next request) has fewer active ones;
- the end of temporary access (Tijdelijk_tot): empty, but for the users whose
  temporary access still runs;
- failures (Mislukte_pogingen_30_dagen): counted from the window's start; only a user
  with failures between that start and 30 days ago can have fewer in the last 30 days
  (or, with the clock before the start, more);
- locked now (Nu_geblokkeerd): nobody, but the users whose name is locked now;
- passkeys and unused recovery codes (Aantal_passkeys, Herstelcodes_ongebruikt, the
  filters with_passkey and no_recovery), which time does not change: no exceptions.
- the names of the user's person (the name sorts) and, for a search, the text it
  reads (reports.search.STORED_SEARCH), kept in the transaction of every change: no
  exceptions; a page in name order, filtered or searched, then reads the users' own
  rows, not every person in name order.
A page walks the stored forms without those users, takes those users with their live
figures beside it, and keeps the first rows of both (reports.selectors): the same
rows as the live definition, in any direction, ties by id; it checks afterwards that
what it assumed still holds (`held`), and otherwise reads again. The window's start
follows the minutes, so the exceptions stay a few minutes' failures.
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

# Which users' live value a stored form may differ from (see the module's text):
# a temporary device whose end has passed (removed at the person's next request, so
# it can linger), temporary access still running, failures at the window's edge, a lock.
ENDED, RUNNING, FAILURES, LOCKS = "ended", "running", "failures", "locks"
# Beyond this many such users a page reads the live definitions: still right, and
# still faster than a statement that names every one of them.
EXCEPTIONS_MAX = 2000
# "Has MFA" stored: an app, or a passkey while passkeys are allowed (mfa.factors).
# Migration 0007 indexes both forms, with the user, for the sort on MFA_gekoppeld.
LINKED = {
    True: "(figures.devices > 0 OR figures.passkeys > 0)",
    False: "(figures.devices > 0)",
}


@dataclass(frozen=True)
class Form:
    sql: str  # over accounts_user and reports_userfigures (as `figures`); {linked}: LINKED
    differs: str | None = None  # ENDED, RUNNING, FAILURES, LOCKS: whose live value may differ


# The report's fields (reports.fields.FIELDS) and filters (FILTER_SQL) with a stored form.
FIELDS = {
    "device_count": Form("figures.devices", ENDED),
    "failures_30d": Form("figures.failures", FAILURES),
    "passkey_count": Form("figures.passkeys"),
    "recovery_unused": Form("figures.recovery"),
    "mfa_linked": Form("{linked}", ENDED),
    "via_admin": Form("(figures.admin_devices > 0)", ENDED),
    # without running temporary access, no end: every app of theirs has none, or has ended
    "via_admin_until": Form("CAST(NULL AS timestamptz)", RUNNING),
    "locked_now": Form("FALSE", LOCKS),
    # the person's names, stored in the transaction of every change (migration 0009)
    "first_name": Form("figures.person_first_name"),
    "infix": Form("figures.person_infix"),
    "last_name": Form("figures.person_last_name"),
}
FILTERS = {
    "linked": Form("{linked}", ENDED),
    "unlinked": Form("NOT {linked}", ENDED),
    "never_reminded": Form("NOT {linked} AND accounts_user.mfa_reminded_at IS NULL", ENDED),
    "via_admin": Form("(figures.admin_devices > 0)", ENDED),
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
    kinds: frozenset[str]  # whose live values may differ: ENDED, RUNNING, FAILURES, LOCKS
    differ: list[int]  # those users
    start: datetime | None  # the failure window's start they were found for
    allowed: bool | None  # passkeys allowed, as "has MFA" was written for (None: unused)
    search: bool = False  # the search reads the stored search text (reports.search)

    @property
    def joins_figures(self) -> bool:
        forms = [*self.fields.values(), self.where or ""]
        return self.search or any("figures." in sql for sql in forms)


def applies(keys: Sequence[str], show: str, search: str = "") -> bool:
    """Whether a page sorted on `keys`, filtered by `show` and searched for `search`
    reads stored forms: where its first key or its filter has one, or it searches, and
    the database keeps the figures."""
    stored = keys[0] in FIELDS or show in FILTERS or bool(search.split())
    return connection.vendor == "postgresql" and stored


def split(now: datetime, keys: Sequence[str], show: str, search: str = "") -> Split | None:
    """The stored forms for a page sorted on `keys`, filtered by `show` and searched
    for `search`, or None where it reads none (see `applies`), or where more users than
    EXCEPTIONS_MAX would be read live beside them."""
    if not applies(keys, show, search):
        return None
    forms = {name: FIELDS[name] for name in keys if name in FIELDS}
    where = FILTERS.get(show)
    used = [*forms.values(), *([where] if where else [])]
    allowed = _passkeys_allowed() if any("{linked}" in form.sql for form in used) else None
    linked = LINKED[bool(allowed)]
    kinds = frozenset(form.differs for form in used if form.differs)
    differ, start = differing(kinds, now)
    if len(differ) > EXCEPTIONS_MAX:
        return None
    return Split(
        {name: form.sql.replace("{linked}", linked) for name, form in forms.items()},
        where.sql.replace("{linked}", linked) if where else None,
        kinds,
        differ,
        start,
        allowed,
        bool(search.split()),
    )


def _passkeys_allowed() -> bool:
    """The setting as mfa.factors.has_factor_condition reads it (no row: not allowed)."""
    settings_row = MfaSettings.objects.filter(pk=1).values_list("passkeys_allowed", flat=True)
    return bool(settings_row.first())


def differing(kinds: frozenset[str], now: datetime) -> tuple[list[int], datetime | None]:
    """The users whose live values of these kinds may differ from the stored ones at
    `now`, and the window's start they were found for (see `held`)."""
    users: set[int] = set()
    start = None
    most = EXCEPTIONS_MAX + 1  # enough to know that a page reads the live definitions
    temporary = Device.objects.filter(expires_at__isnull=False).order_by()  # a partial index
    if ENDED in kinds:  # every device is stored; those that ended are not active
        ended = temporary.ended(now).values_list("user_id", flat=True).distinct()
        users.update(ended[:most])
    if RUNNING in kinds:
        running = temporary.active(now).values_list("user_id", flat=True).distinct()
        users.update(running[:most])
    if LOCKS in kinds:
        users.update(_locked(now, most))
    if FAILURES in kinds:
        since = now - WINDOW
        start = _window_follow(since)
        between = _failures(
            start if start is None else min(start, since), max(start or since, since)
        )
        users.update(between.values_list("subject_id", flat=True).distinct())
    return sorted(users), start


def _locked(now: datetime, most: int) -> list[int]:
    """The users whose name is locked at `now` (the live field's join: reports.fields),
    at most `most` of them."""
    locked = User.objects.filter(username_canonical__in=current_locks(now).values("key"))
    return list(locked.values_list("pk", flat=True)[:most])


def held(page: Split, now: datetime) -> bool:
    """Whether what the page's stored forms and exceptions were found for still holds
    after its rows were read, so that they are the live definition's:
    - the failure window's start: another page (a later minute, or a host whose clock is
      ahead) may have moved it since, and the stored figures read since then would miss
      failures of users it did not name (a start only moves forwards, so the same start
      means it never moved);
    - passkeys allowed or not, which "has MFA" was written for;
    - the locked names: a lock taken meanwhile names a user that was read as unlocked.
    The other figures are stored in the same transaction as they change, and a device
    ends at the page's moment, not the clock's."""
    if page.allowed is not None and _passkeys_allowed() != page.allowed:
        return False
    if LOCKS in page.kinds and not set(_locked(now, EXCEPTIONS_MAX + 1)) <= set(page.differ):
        return False
    if FAILURES not in page.kinds:
        return True
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
