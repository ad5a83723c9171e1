"""On PostgreSQL a page sorted on a column of accounts_user walks an index in the sort's
order (migration 0005) instead of sorting every system user, both ways and backwards."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Person, User
from reports import search, selectors
from reports.fields import FIELDS
from reports.keyset import Order
from reports.reports import REPORTS

USER_COLUMNS = sorted(
    {
        column.order_by
        for report in REPORTS.values()
        for column in report.columns
        if all(FIELDS[key].sql.startswith("accounts_user.") for key in column.order_by)
    }
)
pytestmark = pytest.mark.postgresql
SORT_NODE = re.compile(r"(^|-> +)Sort\b", re.MULTILINE)
PRESORTED = re.compile(r"Presorted Key: (.*)")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite keeps the simple plan")
@pytest.mark.parametrize("keys", USER_COLUMNS)
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("last", [False, True])
def test_a_sort_on_a_user_column_reads_an_index_in_order(
    db, frozen_clock, frozen_now, keys, descending, last
):
    order = Order((*keys, "id"), descending)
    with CaptureQueriesContext(connection) as queries:
        selectors.page(frozen_now, fields=["id"], order=order, last=last)
    found = queries.captured_queries[0]["sql"]  # the page's sort keys (reports.selectors)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")  # a tiny table: any order is cheap
        cursor.execute(f"EXPLAIN {found}")
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert not SORT_NODE.search(plan), plan
    # an incremental sort only orders the ties of a unique column by id (username)
    for presorted in PRESORTED.findall(plan):
        assert all(f"accounts_user.{key}" in presorted.split(", ") for key in keys), plan


def _rows_read(plan, alias):
    """The rows that every scan of `alias` in this plan (EXPLAIN ANALYZE, JSON) returned."""
    rows = plan["Actual Rows"] * plan["Actual Loops"] if plan.get("Alias") == alias else 0
    return rows + sum(_rows_read(child, alias) for child in plan.get("Plans", []))


def _rows_scanned(plan, alias):
    """The rows that every scan of `alias` in this plan (EXPLAIN ANALYZE, JSON) read: those
    it returned and those its filter or recheck removed."""
    rows = 0
    if plan.get("Alias") == alias:
        removed = plan.get("Rows Removed by Filter", 0) + plan.get(
            "Rows Removed by Index Recheck", 0
        )
        rows = (plan["Actual Rows"] + removed) * plan["Actual Loops"]
    return rows + sum(_rows_scanned(child, alias) for child in plan.get("Plans", []))


def _rare_and_common_users():
    for number in range(40):
        User.objects.create(
            username=f"lid{number}", password="!", person=Person.objects.create(last_name="Lid")
        )
    User.objects.create(
        username="zeldzaam", password="!", person=Person.objects.create(last_name="Zeldzaam")
    )
    with connection.cursor() as cursor:
        # a small table gets the index anyway: the planner is made to prefer a join, as
        # its guess of many persons found made it at scale
        cursor.execute("SET LOCAL enable_nestloop = off")


def _analyzed(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()
    return plan[0]["Plan"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite checks words on the rows")
@pytest.mark.parametrize("key", ["last_name", "username"])
def test_a_selective_search_reads_the_users_it_finds_not_every_user(
    db, frozen_now, monkeypatch, key
):
    """A word that few users hold finds their stored search texts through the index
    (migration 0009), and, sorted on a column of the users, each one's user by its key.
    A join planned on the statistics' guess of the users found (which overshoots for
    words sharing trigrams with common names) read every user instead: at a million
    persons, 3.3x the first page for 'demo12' on the stats report."""
    monkeypatch.setattr(search, "_dense", lambda pattern, stored: False)  # as if few hold it
    _rare_and_common_users()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: the index, if it fits
        # and sorting made dear, as walking a sort's index checking each row for the word
        # looked cheaper at scale (at a million persons: 116 ms for 'bakker12')
        cursor.execute("SET LOCAL enable_sort = off")
    with CaptureQueriesContext(connection) as queries:
        page = selectors.page(
            frozen_now, fields=["id"], order=Order((key, "id"), False), search="zeldza"
        )
    assert len(page.rows) == 1
    plan = _analyzed(queries.captured_queries[0]["sql"])
    assert _rows_scanned(plan, "accounts_user") <= 1, plan
    assert _rows_scanned(plan, "figures") <= 1, plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite checks words on the rows")
def test_a_selective_search_of_the_live_definitions_reads_the_users_of_the_persons_found(
    db, frozen_now, monkeypatch
):
    """Read without stored forms (past reports.figures.EXCEPTIONS_MAX), a word that few
    persons hold finds their users one by one through the index on person_id, not by a
    join that read every user (at a million persons, 3x the first page for 'bakker12')."""
    monkeypatch.setattr(search, "_dense", lambda pattern, stored: False)  # as if few hold it
    _rare_and_common_users()
    inner, params = selectors._query(frozen_now, ["last_name", "id"], search="zeldza")
    assert _rows_read(_analyzed(inner, params), "found") <= 1


NULLABLE = sorted(
    {
        column.order_by
        for report in REPORTS.values()
        for column in report.columns
        if len(column.order_by) == 1
        and FIELDS[column.order_by[0]].nullable
        and FIELDS[column.order_by[0]].sql.startswith("accounts_user.")
    }
)


def _index_rows(plan):
    """The rows that the index scans of this plan (EXPLAIN ANALYZE, JSON) read: those
    they returned and those their filters removed."""
    rows = 0
    if "Index" in plan["Node Type"]:
        rows = (plan["Actual Rows"] + plan.get("Rows Removed by Filter", 0)) * plan["Actual Loops"]
    return rows + sum(_index_rows(child) for child in plan.get("Plans", []))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite keeps the simple plan")
@pytest.mark.parametrize("keys", NULLABLE)
@pytest.mark.parametrize("descending", [False, True])
def test_a_page_deep_in_a_sort_on_a_date_that_can_be_empty_seeks_its_first_row(
    db, frozen_now, keys, descending
):
    """The page after the 20th of 30 filled dates reads its own rows, not the 20 before
    (every page costs what the first costs, however deep); before, the empty ones' place
    in the order kept the index from seeking, and a deep page read every row before it."""
    (key,) = keys
    users = [
        User.objects.create(
            username=f"datum{number}", password="!", person=Person.objects.create(last_name="D")
        )
        for number in range(40)
    ]
    for number, user in enumerate(users[:30]):
        User.objects.filter(pk=user.pk).update(**{key: frozen_now - timedelta(days=number)})
    order = Order((key, "id"), descending)
    walked = selectors.page(frozen_now, fields=["id"], order=order, size=20)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")  # a tiny table: any order is cheap
        cursor.execute("SET LOCAL enable_seqscan = off")
    with CaptureQueriesContext(connection) as queries:
        page = selectors.page(
            frozen_now,
            fields=["id"],
            order=order,
            size=3,
            after=walked.boundary(walked.rows[-1]),
        )
    assert len(page.rows) == 3
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {queries.captured_queries[0]['sql']}")
        (plan,) = cursor.fetchone()
    assert _index_rows(plan[0]["Plan"]) <= 3 + 2, plan  # the page, one more, the boundary


PERSONS = REPORTS["personen-met-mfa"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite keeps the simple plan")
@pytest.mark.parametrize("column", ["Sorteer_naam", "Informele_naam"])
@pytest.mark.parametrize("descending", [False, True])
def test_a_sparse_filter_under_a_name_sort_reads_its_matches_alone(
    db, frozen_now, column, descending
):
    """Via_beheerder (a few in a hundred at scale) in name order walks the partial index
    of migration 0009, which holds the matches alone; before, a page walked every
    person in name order, about 70 per match at a million persons (1.7x the first page)."""
    from mfa import crypto
    from mfa.models import Device

    users = [
        User.objects.create(
            username=f"naam{number}", password="!", person=Person.objects.create(last_name="N")
        )
        for number in range(40)
    ]
    Device.objects.create(
        user=users[17],
        slot=1,
        name="Apparaat 1",
        secret_encrypted=crypto.encrypt("JBSWY3DPEHPK3PXP"),
        linked_by=users[0],
    )
    (keys,) = [shown.order_by for shown in PERSONS.columns if shown.header == column]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: the index, if it fits
        cursor.execute("SET LOCAL enable_sort = off")  # and in the sort's order
    with CaptureQueriesContext(connection) as queries:
        page = selectors.page(
            frozen_now, fields=["id"], order=Order((*keys, "id"), descending), show="via_admin"
        )
    assert [row["id"] for row in page.rows] == [users[17].pk]
    (found,) = [query["sql"] for query in queries.captured_queries if "ORDER BY" in query["sql"]]
    assert _rows_scanned(_analyzed(found), "figures") <= 1
