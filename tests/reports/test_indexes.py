"""On PostgreSQL a page sorted on a column of accounts_user walks an index in the sort's
order (migration 0005) instead of sorting every system user, both ways and backwards."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reports import selectors
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
