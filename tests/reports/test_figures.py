"""Sorting on the per-user figures (Aantal_apparaten, Mislukte_pogingen_30_dagen,
Aantal_passkeys, Herstelcodes_ongebruikt, MFA_gekoppeld, Via_beheerder, Tijdelijk_tot,
Nu_geblokkeerd) and filtering on them: on PostgreSQL the pages walk stored figures
(reports.figures); whatever was written, however the clock moved, they show the rows
the live definition gives, in order, both ways."""

import importlib
import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Person, User
from audit.models import FAILURE_ACTIONS, AuditEvent
from mfa import crypto
from mfa.factors import has_mfa
from mfa.models import (
    MAX_DEVICES_CEILING,
    Device,
    LoginThrottle,
    MfaSettings,
    Passkey,
    RecoveryCode,
)
from mfa.throttle import current_locks, throttle_key
from reports import figures, selectors
from reports.fields import FILTERS
from reports.keyset import Order
from reports.models import FailureWindow, UserFigures

from .postgres import figures_pg, wait_for_lock_wait

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
USERS = 4
ACTIONS = (
    AuditEvent.Action.CODE_FAILED,
    AuditEvent.Action.LOGIN_FAILED,
    AuditEvent.Action.LOGIN_CODE,
)
HOURS = 24 * 40

# owner, end (hours from T0; None: no end), linked by a beheerder (the next user)
device = st.tuples(st.integers(0, USERS - 1), st.none() | st.integers(-HOURS, HOURS), st.booleans())
event = st.tuples(
    st.none() | st.integers(0, USERS - 1), st.sampled_from(ACTIONS), st.integers(-HOURS, 48)
)
# a move of the clock, then a write at the new time: a failure, a passkey or recovery
# code added, a device, event or passkey removed, a code used, the codes moved to a user,
# the beheerder of the devices gone (as when their account is deleted), a lock on the
# name for a day, passkeys allowed or not
WRITES = [
    "failure",
    "remove device",
    "remove event",
    "add passkey",
    "remove passkey",
    "add code",
    "use code",
    "move codes",
    "beheerder gone",
    "lock",
    "toggle passkeys",
    "rename person",
    "rename user",
    "new person",
    "nothing",
]
# names and search words that share letters, cases and ties (the stored names and search
# text, migration 0009); a search word of one, two (bigrams) or more (trigrams) letters,
# and two words
NAMES = ("Ab", "ab", "Bakker", "de", "C")
SEARCHES = ("b", "AB", "akk", "cijfer1", "ijf", "de C", "zz")
step = st.tuples(st.integers(-HOURS, 2 * HOURS), st.sampled_from(WRITES), st.integers(0, USERS - 1))
FIGURES = (
    "device_count",
    "failures_30d",
    "passkey_count",
    "recovery_unused",
    "mfa_linked",
    "via_admin",
    "via_admin_until",
    "locked_now",
)


def _live(now):
    """Each user's figures by the definition: the aggregates the reports show."""
    since = now - timedelta(days=30)
    failures = AuditEvent.objects.filter(action__in=FAILURE_ACTIONS, at__gte=since)
    locked = set(current_locks(now).values_list("key", flat=True))
    live = {}
    for user in User.objects.select_related("person"):
        via_admin = Device.objects.active(now).via_admin().filter(user=user)
        ends = [device.expires_at for device in via_admin]
        dated = [end for end in ends if end is not None]
        live[user.pk] = {
            "id": user.pk,
            "device_count": Device.objects.active(now).filter(user=user).count(),
            "failures_30d": failures.filter(subject=user).count(),
            "passkey_count": Passkey.objects.filter(user=user).count(),
            "recovery_unused": RecoveryCode.objects.filter(user=user, used_at=None).count(),
            "mfa_linked": has_mfa(user, now),
            "via_admin": bool(ends),
            # the end of the temporary access: none while one of them has no end
            "via_admin_until": max(dated) if dated and len(dated) == len(ends) else None,
            "locked_now": throttle_key(user.username) in locked,
            "mfa_reminded_at": user.mfa_reminded_at,
            "first_name": user.person.first_name,
            "infix": user.person.infix,
            "last_name": user.person.last_name,
            "username": user.username,
        }
    return live


def _found(row, search):
    """Every word of `search` in a name part or the username, ignoring case."""
    parts = [row[name].casefold() for name in ("first_name", "infix", "last_name", "username")]
    return all(any(word.casefold() in part for part in parts) for word in search.split())


def _matches(show, row):
    """The filter `show` by its meaning (the report's labels), on a user's live figures."""
    return {
        "linked": row["mfa_linked"],
        "unlinked": not row["mfa_linked"],
        "never_reminded": not row["mfa_linked"] and row["mfa_reminded_at"] is None,
        "via_admin": row["via_admin"],
        "with_passkey": row["passkey_count"] > 0,
        "no_recovery": row["recovery_unused"] == 0,
    }[show]


def _walk(now, field, descending, *, backwards, show="all", search=""):
    order = Order((field, "id") if field != "id" else ("id",), descending)
    shown: list[selectors.Row] = []
    page = selectors.page(
        now, fields=["id", field], order=order, last=backwards, size=2, show=show, search=search
    )
    while True:
        shown = page.rows + shown if backwards else shown + page.rows
        if (page.first if backwards else page.last) or not page.rows:
            return [(row[field], row["id"]) for row in shown]
        boundary = page.boundary(page.rows[0] if backwards else page.rows[-1])
        page = selectors.page(
            now,
            fields=["id", field],
            order=order,
            size=2,
            show=show,
            search=search,
            before=boundary if backwards else None,
            after=None if backwards else boundary,
        )


def _expected(live, field, descending):
    """The rows in the report's order: empty values last, whichever the direction."""
    rows = [(row[field], pk) for pk, row in live.items()]
    filled = sorted((row for row in rows if row[0] is not None), reverse=descending)
    return filled + sorted((row for row in rows if row[0] is None), reverse=descending)


def _check(now):
    live = _live(now)
    if connection.vendor == "postgresql":  # figures that time does not change: stored as they are
        for field, column in (("passkey_count", "passkeys"), ("recovery_unused", "recovery")):
            stored = dict(UserFigures.objects.values_list("user_id", column))
            assert stored == {pk: row[field] for pk, row in live.items()}, field
    for field in (*FIGURES, "first_name", "last_name"):
        for descending in (False, True):
            expected = _expected(live, field, descending)
            assert _walk(now, field, descending, backwards=False) == expected, (field, now)
            assert _walk(now, field, descending, backwards=True) == expected, (field, now)
    for search in SEARCHES:  # under a sort on a name and on a figure, and counted
        for field in ("last_name", "mfa_linked"):
            expected = [
                row for row in _expected(live, field, False) if _found(live[row[1]], search)
            ]
            assert _walk(now, field, False, backwards=False, search=search) == expected, search
        for order in (Order(("mfa_linked", "id"), True), Order(("id",), False)):
            # a page of one: the number is of every match, not of those it shows
            counted = selectors.page(
                now, fields=["id"], order=order, search=search, limit=USERS, size=1
            )
            assert counted.matching == len(expected), (search, order)
    for show in FILTERS[1:]:
        for field in ("id", "mfa_linked", "last_name"):  # a column; a figure; a name
            expected = [
                row for row in _expected(live, field, False) if _matches(show, live[row[1]])
            ]
            assert _walk(now, field, False, backwards=False, show=show) == expected, (show, now)
            order = Order((field, "id") if field != "id" else ("id",), False)
            counted = selectors.page(
                now, fields=["id"], order=order, show=show, limit=USERS, size=1
            )
            assert counted.matching == len(expected), (show, field, now)


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    devices=st.lists(device, max_size=MAX_DEVICES_CEILING),
    events=st.lists(event, max_size=10),
    steps=st.lists(step, min_size=1, max_size=4),
    factors=st.lists(
        st.tuples(
            st.sampled_from(["add passkey", "add code", "use code"]), st.integers(0, USERS - 1)
        ),
        max_size=8,
    ),
    flushed=st.booleans(),
)
def test_pages_sorted_on_a_figure_show_the_live_figures_in_order(
    devices, events, factors, steps, flushed
):
    with transaction.atomic():
        # the stored failures count from a day before T0's window (or, without the
        # window's row, as after manage.py flush, from the first): the clock's moves take
        # pages before that start, and past it (which moves it)
        if flushed:
            FailureWindow.objects.all().delete()
        else:
            FailureWindow.objects.update(start=T0 - timedelta(days=31))
        users = [
            User.objects.create(
                username=f"cijfer{i}",
                password="!",
                person=Person.objects.create(first_name=NAMES[i], last_name="C"),
            )
            for i in range(USERS)
        ]
        for slot, (owner, hours, by_beheerder) in enumerate(devices, 1):
            Device.objects.create(
                user=users[owner],
                slot=slot,
                name=f"Apparaat {slot}",
                secret_encrypted=crypto.encrypt("JBSWY3DPEHPK3PXP"),
                expires_at=None if hours is None else T0 + timedelta(hours=hours),
                linked_by=users[(owner + 1) % USERS] if by_beheerder else users[owner],
            )
        AuditEvent.objects.bulk_create(
            AuditEvent(
                action=action,
                subject=None if owner is None else users[owner],
                at=T0 + timedelta(hours=hours),
            )
            for owner, action, hours in events
        )
        for write, owner in factors:
            _write_factor(write, users, owner, T0)
        _check(T0)
        for hours, write, owner in steps:
            now = T0 + timedelta(hours=hours)
            if write == "failure":
                AuditEvent.objects.create(action=ACTIONS[0], subject=users[owner], at=now)
            elif write == "remove device":
                Device.objects.filter(pk__in=Device.objects.filter(user=users[owner])[:1]).delete()
            elif write == "remove event":
                first = AuditEvent.objects.filter(subject=users[owner]).order_by("at")[:1]
                AuditEvent.objects.filter(pk__in=first).delete()
            elif write == "beheerder gone":  # what deleting their account does (SET_NULL)
                Device.objects.filter(linked_by=users[owner]).update(linked_by=None)
            elif write == "lock":
                LoginThrottle.objects.update_or_create(
                    key=throttle_key(users[owner].username),
                    defaults={"failures": 10, "locked_until": now + timedelta(days=1)},
                )
            elif write == "toggle passkeys":
                allowed = MfaSettings.load().passkeys_allowed
                MfaSettings.objects.filter(pk=1).update(passkeys_allowed=not allowed)
            elif write == "rename person":  # the names follow the hours: ties and changes
                Person.objects.filter(system_user=users[owner]).update(
                    first_name=NAMES[hours % len(NAMES)],
                    infix=NAMES[hours // 7 % len(NAMES)].lower(),
                    last_name=NAMES[hours // 3 % len(NAMES)],
                )
            elif write == "rename user":  # saved: its canonical form (the lock's key) follows
                users[owner].refresh_from_db()
                users[owner].username = f"{NAMES[hours % len(NAMES)]}{owner}"
                users[owner].save()
            elif write == "new person":  # the user moves to another person; the old one goes
                old = users[owner].person_id
                person = Person.objects.create(first_name="Nieuw", last_name=NAMES[hours % 5])
                User.objects.filter(pk=users[owner].pk).update(person=person)
                Person.objects.filter(pk=old).delete()
            else:
                _write_factor(write, users, owner, now)
            _check(now)
        transaction.set_rollback(True)


PASSKEY_NUMBERS = itertools.count(1)


def _write_factor(write, users, owner, now):
    """A passkey or recovery code written as `write` says, for users[owner]."""
    user = users[owner]
    if write == "add passkey":
        number = next(PASSKEY_NUMBERS)  # never one that is there (or was, and went)
        Passkey.objects.create(
            user=user, name=f"Sleutel {number}", credential_id=f"c{number}", public_key=b"k"
        )
    elif write == "remove passkey":
        Passkey.objects.filter(pk__in=Passkey.objects.filter(user=user)[:1]).delete()
    elif write == "add code":
        number = RecoveryCode.objects.filter(user=user).count() + 1
        RecoveryCode.objects.create(user=user, number=number, digest=f"d{number}", created_at=now)
    elif write == "use code":
        unused = RecoveryCode.objects.filter(user=user, used_at=None)[:1]
        RecoveryCode.objects.filter(pk__in=unused).update(used_at=now)
    elif write == "move codes" and not RecoveryCode.objects.filter(user=users[0]).exists():
        RecoveryCode.objects.filter(user=user).update(user=users[0])


def test_the_triggers_count_the_failures_of_mfa_models(db):
    """The failed attempts that migration 0003 writes into its triggers and index are
    the ones the reports count (mfa.models.FAILURE_ACTIONS)."""
    migration = importlib.import_module("reports.migrations.0003_figures")
    assert list(migration.FAILURES) == list(FAILURE_ACTIONS)


def test_a_deleted_user_and_their_failures_leave_the_pages(db):
    """A user's figures go with them; their failed attempts stay, without a subject."""
    now = T0
    users = [
        User.objects.create(
            username=f"weg{i}", password="!", person=Person.objects.create(last_name="W")
        )
        for i in range(3)
    ]
    for user in users:
        AuditEvent.objects.create(action=ACTIONS[0], subject=user, at=now)
    gone = users[1].pk
    users[1].delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM reports_userfigures WHERE user_id = %s", [gone])
            assert cursor.fetchone()[0] == 0
    assert _walk(now, "failures_30d", True, backwards=False) == [
        (1, users[2].pk),
        (1, users[0].pk),
    ]


@figures_pg("the window's moves")
@pytest.mark.django_db(transaction=True)
def test_a_window_moved_by_another_page_midway_never_puts_a_page_out_of_order(monkeypatch):
    """Another worker's page (a later minute, or a host whose clock is ahead) moves the
    window between this page finding its exceptions and reading the stored figures."""
    users = [
        User.objects.create(
            username=f"venster{i}", password="!", person=Person.objects.create(last_name="V")
        )
        for i in range(4)
    ]
    FailureWindow.objects.update_or_create(id=1, defaults={"start": T0 - timedelta(days=31)})
    # inside this page's 30 days by 30 s; outside the other page's
    AuditEvent.objects.create(
        action=ACTIONS[0], subject=users[2], at=T0 - timedelta(days=30, seconds=-30)
    )
    differing = figures.differing
    moved: list[datetime | None] = []

    def other_page_moves_the_window(name, now):
        found = differing(name, now)
        if not moved:
            moved.append(figures._window_follow(now + timedelta(minutes=2) - figures.WINDOW))
        return found

    monkeypatch.setattr(figures, "differing", other_page_moves_the_window)
    assert _walk(T0, "failures_30d", True, backwards=False)[0] == (1, users[2].pk)
    assert moved == [(T0 + timedelta(minutes=2) - figures.WINDOW).replace(second=0)]  # midway


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_a_writer_holding_a_figures_row_is_never_deadlocked_by_a_window_move(monkeypatch):
    """A login or a link changes a device first (its trigger holds the person's figures
    row) and writes its audit record next. A report page moving the window meanwhile
    gives way at once; before, it held the audit table and waited for that row, and the
    writer's audit record closed a deadlock that PostgreSQL broke by failing the writer
    (the page is held between its lock and its update until the writer waits, so that
    the writer waits first, as it did in the outside attack)."""
    user = User.objects.create(
        username="schrijver", password="!", person=Person.objects.create(last_name="S")
    )
    FailureWindow.objects.update_or_create(id=1, defaults={"start": T0 - timedelta(days=50)})
    AuditEvent.objects.create(action=ACTIONS[0], subject=user, at=T0 - timedelta(days=40))
    locked, writer_waits = threading.Event(), threading.Event()
    compiled = figures.compiled  # type: ignore[attr-defined]  # what runs between the two

    def between_lock_and_update(*args, **kwargs):
        locked.set()
        writer_waits.wait(60)
        return compiled(*args, **kwargs)

    monkeypatch.setattr(figures, "compiled", between_lock_and_update)
    writer = connections.create_connection("default")
    writer.inc_thread_sharing()  # its audit record is written from a thread of its own
    outcome: dict[str, object] = {}
    try:
        writer.set_autocommit(False)
        with writer.cursor() as cursor:  # the device changed: the figures row is held
            cursor.execute(
                "UPDATE reports_userfigures SET devices = devices WHERE user_id = %s", [user.pk]
            )
            cursor.execute("SELECT pg_backend_pid()")
            (writer_pid,) = cursor.fetchone()
        page = threading.Thread(
            target=lambda: outcome.update(page=_in_own_connection(figures._window_follow, T0))
        )
        page.start()
        while page.is_alive() and not locked.wait(0.01):
            pass
        audit = threading.Thread(target=lambda: outcome.update(writer=_audit_record(writer, user)))
        audit.start()
        if locked.is_set():
            wait_for_lock_wait(writer_pid, audit)
        writer_waits.set()
        audit.join()
        page.join()
        assert outcome["writer"] == "written"
        assert outcome["page"] == T0 - timedelta(days=50)  # the move was left to a later page
    finally:
        writer_waits.set()
        writer.close()


def _audit_record(writer, user):
    try:
        with writer.cursor() as cursor:
            cursor.execute(
                "INSERT INTO mfa_auditevent (at, action, subject_id, subject_name, ip_block, data)"
                " VALUES (%s, 'device_linked', %s, 'schrijver', '', '{}')",
                [T0, user.pk],
            )
        writer.commit()
        return "written"
    except Exception as error:  # noqa: BLE001 - the test names what went wrong
        writer.rollback()
        return repr(error)


def _in_own_connection(function, now):
    try:
        return function(now - figures.WINDOW)
    finally:
        connection.close()


def test_a_beheerder_whose_account_is_deleted_leaves_no_via_beheerder_behind(db):
    """Deleting the beheerder empties linked_by of the devices they linked (SET_NULL):
    the stored count of devices linked by a beheerder follows, so the person leaves the
    filter and the sort on Via_beheerder."""
    beheerder, person = (
        User.objects.create(
            username=name, password="!", person=Person.objects.create(last_name=name)
        )
        for name in ("weg-beheerder", "blijft")
    )
    Device.objects.create(
        user=person,
        slot=1,
        name="Telefoon",
        secret_encrypted=crypto.encrypt("JBSWY3DPEHPK3PXP"),
        linked_by=beheerder,
    )
    assert _walk(T0, "id", False, backwards=False, show="via_admin") == [(person.pk, person.pk)]
    beheerder.delete()
    assert _walk(T0, "id", False, backwards=False, show="via_admin") == []
    assert _walk(T0, "via_admin", True, backwards=False) == [(False, person.pk)]


def _user_with_passkey(name):
    user = User.objects.create(
        username=name, password="!", person=Person.objects.create(last_name=name)
    )
    Passkey.objects.create(user=user, name="Sleutel", credential_id=name, public_key=b"k")
    return user


@figures_pg("the page reads the setting for its stored forms")
def test_passkeys_switched_off_while_a_page_is_read_leave_no_passkey_only_person_linked(
    db, monkeypatch
):
    """ "Has MFA" is stored for passkeys allowed or not; a beheerder who switches them
    off between the page's reading of the setting and of its rows makes the page read
    again, so that a person with a passkey alone is not shown as linked."""
    _user_with_passkey("sleutelhouder")
    MfaSettings.load()
    MfaSettings.objects.filter(pk=1).update(passkeys_allowed=True)
    read = figures._passkeys_allowed
    switched: list[bool] = []

    def read_then_switch_off():
        allowed = read()
        if not switched:
            switched.append(allowed)
            MfaSettings.objects.filter(pk=1).update(passkeys_allowed=False)
        return allowed

    monkeypatch.setattr(figures, "_passkeys_allowed", read_then_switch_off)
    assert _walk(T0, "id", False, backwards=False, show="linked") == []
    linked = selectors.page(T0, fields=["id"], order=Order(("id",), False), show="linked", limit=1)
    assert linked.matching == 0
    assert switched == [True]


def test_beyond_the_most_exceptions_a_page_reads_the_live_definitions(db, monkeypatch):
    """Temporary devices whose end has passed linger until their person's next request;
    past EXCEPTIONS_MAX such people a page reads the live definitions, with the same
    rows."""
    monkeypatch.setattr(figures, "EXCEPTIONS_MAX", 1)
    users = [
        User.objects.create(
            username=f"verlopen{i}", password="!", person=Person.objects.create(last_name="V")
        )
        for i in range(3)
    ]
    for slot, user in enumerate(users[:2], 1):
        Device.objects.create(
            user=user,
            slot=slot,
            name="Tijdelijk",
            secret_encrypted=crypto.encrypt("JBSWY3DPEHPK3PXP"),
            expires_at=T0 - timedelta(hours=1),
        )
    assert figures.split(T0, ["mfa_linked", "id"], "all") is None
    expected = _expected(_live(T0), "mfa_linked", True)
    assert _walk(T0, "mfa_linked", True, backwards=False) == expected
    assert [pk for _linked, pk in _walk(T0, "id", False, backwards=False, show="unlinked")] == [
        user.pk for user in users
    ]


@figures_pg("the page reads the locked names for its stored forms")
def test_a_lock_taken_while_a_page_is_read_sorts_its_person_as_locked(db, monkeypatch):
    """Nu_geblokkeerd is stored as "no" for all but the names locked when the page
    looked; a lock taken before its rows are read makes the page read again, so that
    the person is sorted where the row's own value puts them."""
    users = [
        User.objects.create(
            username=f"slot{i}", password="!", person=Person.objects.create(last_name="S")
        )
        for i in range(3)
    ]
    locked = figures._locked

    def read_then_lock(now, most):
        found = locked(now, most)
        if not LoginThrottle.objects.exists():
            LoginThrottle.objects.create(
                key=throttle_key(users[0].username), failures=10, locked_until=now + timedelta(1)
            )
        return found

    monkeypatch.setattr(figures, "_locked", read_then_lock)
    assert _walk(T0, "locked_now", True, backwards=False) == [
        (True, users[0].pk),
        (False, users[2].pk),
        (False, users[1].pk),
    ]


@figures_pg("the exceptions of the stored forms")
def test_only_ended_temporary_access_makes_a_person_an_exception_of_has_mfa(db):
    """A person whose temporary access still runs has "has MFA" exactly as stored; only
    one whose access ended (the device lingers until their next request) is read live.
    Before, everyone with an end date was, and a page named thousands of them."""
    running, ended = (
        User.objects.create(
            username=name, password="!", person=Person.objects.create(last_name=name)
        )
        for name in ("loopt", "verlopen")
    )
    for slot, (user, hours) in enumerate(((running, 1), (ended, -1)), 1):
        Device.objects.create(
            user=user,
            slot=slot,
            name="Tijdelijk",
            secret_encrypted=crypto.encrypt("JBSWY3DPEHPK3PXP"),
            expires_at=T0 + timedelta(hours=hours),
        )
    page = figures.split(T0, ["mfa_linked", "id"], "linked")
    assert page is not None and page.differ == [ended.pk]
    until = figures.split(T0, ["via_admin_until", "id"], "all")
    assert until is not None and until.differ == [running.pk]  # its end shows
    assert _walk(T0, "id", False, backwards=False, show="linked") == [(running.pk, running.pk)]
