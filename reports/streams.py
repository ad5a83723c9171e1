"""Every row of a report, in its order, as the exports read it: the first rows at once,
then the rest as fast as the database sends them, in memory that does not grow.

The first rows are read like a page (their keys along the sort, then their rows), so
that a download starts at once; the rest follow in one sorted pass after them. Reading
every batch like a page costs an index probe per person walked (at a million persons,
about four times the one pass, whose aggregates are hash joins); the one pass alone
sorts everything before its first row (seconds at a million persons).

On PostgreSQL the pass is one statement whose rows arrive in chunks in the binary
format (psycopg's stream): the plan of a plain query (a cursor is planned for its
first rows, and one held across commits stores every row before the first fetch), and
values made by psycopg's C loaders (Django's loader of timestamps is written in Python
and costs more than the rest of a row). SQLite reads through a chunked cursor.
"""

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection

from . import selectors
from .fields import FIELDS, from_db
from .keyset import Order

Values = tuple[Any, ...]
EXPORT_FIRST = 50  # rows read like a page (as many), so that the rows start at once
CHUNK = 2000  # rows the database sends at a time


def every_row(
    now: datetime, *, fields: Sequence[str], order: Order, show: str = "all", search: str = ""
) -> Iterator[Values]:
    """The values of `fields` (in that order) of every row of the filtered system users,
    in `order`."""
    fields = list(dict.fromkeys(fields))
    found, _matching = selectors._keys(
        now, order, show=show, search=search, boundary=None, size=EXPORT_FIRST
    )
    for row in selectors._rows([row["id"] for row in found], now, [*fields, *order.keys]):
        yield tuple(row[name] for name in fields)
    if len(found) < EXPORT_FIRST:
        return
    inner, params = selectors._query(
        now, list(dict.fromkeys([*fields, *order.keys])), show=show, search=search
    )
    condition, condition_params = order.beyond([found[-1][key] for key in order.keys])
    # from the report's own field names and the selectors' SQL; values go in as parameters
    sql = (
        f"SELECT {', '.join(f'r.{name}' for name in fields)} FROM ({inner}) r"  # noqa: S608
        f" WHERE {condition} ORDER BY {order.sql()}"
    )
    yield from _stream(sql, params + condition_params, fields)


def _stream(sql: str, params: list[Any], fields: Sequence[str]) -> Iterator[Values]:
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            yield from cursor.stream(sql, params, binary=True, size=CHUNK)
        return
    kinds = [FIELDS[name].kind for name in fields]
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(CHUNK):
            for values in batch:
                yield tuple(map(from_db, kinds, values))
