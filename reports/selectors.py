"""The rows of the Rechtenstructuur reports: one query per page or export.

Only the fields a report shows are selected (reports.fields); pages are found by
keyset (reports.keyset). A page is found on its sort keys alone (joining only what the
sort and the filter need), then its rows are read with every field, the aggregates
narrowed to the page's users.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from . import figures
from .fields import FIELDS as FIELDS  # exports.py reads the kinds here
from .fields import FILTER_SQL, JOINS, SQL, expand, from_db, join_sql
from .keyset import Order, cursor_decode, cursor_encode
from .search import indexed_search, search_sql

Row = dict[str, Any]
USER_ID = re.compile(r"\baccounts_user\.id\b")
USERS_READ = re.compile(r'\baccounts_user\.|"accounts_user"')  # as written here, or by the ORM


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    first: bool  # no rows before these
    last: bool  # no rows after these
    order: Order
    matching: int | None = None  # the matching rows, where the page's pass counted them

    def boundary(self, row: Row) -> str:
        return cursor_encode([row[key] for key in self.order.keys])


def _query(
    now: datetime,
    fields: Sequence[str],
    *,
    show: str = "all",
    search: str = "",
    users: Sequence[int] | None = None,
    stored: figures.Split | None = None,
    gathered: bool = False,
) -> tuple[str, list[Any]]:
    """SELECT the named fields of the filtered system users (or of `users`), as `r` for
    an outer query; joining only what those fields, the filter and the search need.
    With `stored`: its stored forms of fields and filter, for all but its exceptions
    (reports.figures); `gathered`: the few users its search finds first (see _arms)."""
    forms = stored.fields if stored else {}
    with_figures = bool(stored and stored.joins_figures)
    where_sql, filter_join = FILTER_SQL[show]
    if stored and stored.where:
        where_sql, filter_join = stored.where, None
    needed = {FIELDS[name].join for name in fields if name not in forms} | {filter_join}
    select, params = expand(
        "SELECT " + ", ".join(f"{forms.get(name, FIELDS[name].sql)} AS {name}" for name in fields),
        now,
        users,
    )
    joins = ""
    if "person" in needed or (search.split() and not (stored and stored.search)):
        # SQLite has no statistics to see that there are far fewer users than persons:
        # CROSS JOIN is its way of being told to walk the users (PostgreSQL chooses itself)
        join = "CROSS JOIN" if connection.vendor == "sqlite" else "INNER JOIN"
        joins += f" {join} accounts_person ON accounts_person.id = accounts_user.person_id"
    for name in JOINS:
        if name in needed:
            condition, (subquery, subquery_params) = join_sql(name, now, users)
            joins += f" LEFT JOIN ({subquery}) {name} ON {condition}"
            params += subquery_params
    where = []
    if where_sql:
        filter_sql, filter_params = expand(where_sql, now, users)
        where.append(filter_sql)
        params += filter_params
    searched, search_params = search_sql(search, stored=bool(stored and stored.search))
    if searched:
        where.append(searched)
        params += search_params
    if users is not None and connection.vendor == "postgresql":  # one array (fields.named)
        where.append("accounts_user.id = ANY(%s::bigint[])")
        params.append(list(users))
    elif users is not None:
        where.append(f"accounts_user.id IN ({', '.join(['%s'] * len(users))})")
        params += list(users)
    if stored and stored.differ:  # a constant array: hashed, and estimated by its length
        where.append("accounts_user.id <> ALL(%s::bigint[])")
        params.append(stored.differ)
    body = joins + (" WHERE " + " AND ".join(where) if where else "")
    if with_figures:  # every user has one row of figures (kept by triggers), and only one:
        # where the statement reads nothing else of the users, their figures alone
        alone = [USER_ID.sub("figures.user_id", part) for part in (select, body)]
        if not USERS_READ.search("".join(alone)):
            return f"{alone[0]} FROM reports_userfigures figures{alone[1]}", params
    base = " FROM accounts_user"
    if gathered:  # each found user's row by its key (joined, PostgreSQL plans on its guess
        # of the users found, which overshoots for words that share trigrams with common
        # names, and hashes every user)
        base = (
            " FROM reports_userfigures figures CROSS JOIN LATERAL (SELECT * FROM accounts_user"
            " WHERE accounts_user.id = figures.user_id OFFSET 0) accounts_user"
        )
    elif with_figures:
        base += " INNER JOIN reports_userfigures figures ON figures.user_id = accounts_user.id"
    return select + base + body, params


def _arms(
    now: datetime, fields: Sequence[str], *, show: str, search: str, stored: figures.Split | None
) -> list[SQL]:
    """The queries whose rows together are the report's (see _query): one, or the
    stored forms for all but the exceptions and the live definition for those."""
    if stored is None:
        return [_query(now, fields, show=show, search=search)]
    gathered = stored.search and indexed_search(search, stored=True)
    sql, params = _query(now, fields, show=show, search=search, stored=stored, gathered=gathered)
    if gathered:
        # every match through the search index first (OFFSET 0 keeps the planner from
        # walking a sort's index instead, checking each row for the word)
        sql += " OFFSET 0"
    arms = [(sql, params)]
    if stored.differ:
        live, params = _query(now, fields, show=show, search=search, users=stored.differ)
        # planned on its own (OFFSET 0 keeps it from being merged into the outer query):
        # the few users by their ids, then sorted; merged, PostgreSQL may walk a sort's
        # index over every person looking for them
        arms.append((f"{live} OFFSET 0", params))
    return arms


def _row(fields: Sequence[str], values: Sequence[Any]) -> Row:
    return {
        name: from_db(FIELDS[name].kind if name in FIELDS else "int", value)
        for name, value in zip(fields, values, strict=True)
    }


def _reader(fields: Sequence[str]) -> Callable[[Sequence[Any]], Row]:
    """_row for these fields, made fast where the driver already gives the Python values
    (PostgreSQL: aware datetimes, ints, bools), as an export reads every row."""
    if connection.vendor == "postgresql":
        names = tuple(fields)
        return lambda values: dict(zip(names, values, strict=True))
    return lambda values: _row(fields, values)


def _fetch(sql: str, params: list[Any], fields: Sequence[str]) -> list[Row]:
    read = _reader(fields)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [read(row) for row in cursor.fetchall()]


def page(
    now: datetime,
    *,
    fields: Sequence[str],
    order: Order,
    show: str = "all",
    search: str = "",
    after: str | None = None,
    before: str | None = None,
    last: bool = False,
    size: int = 50,
    limit: int | None = None,
) -> Page:
    """One page of rows: the first, the one after/before a boundary, or the last; with
    `limit`, with the number of matching rows, counted at least up to `limit` + 1 (all
    of them where the page's own statement counts them: a selective search)."""
    reverse = last or before is not None
    boundary = cursor_decode(after or before or "", order) if (after or before) else None
    # every match is in this pass (where its statement has one arm: see _keys)
    counted = boundary is None and indexed_search(search, figures.applies(order.keys, show, search))
    found, matching = _keys(
        now,
        order,
        show=show,
        search=search,
        boundary=boundary,
        backwards=before is not None,
        reverse=reverse,
        size=size + 1,
        counted=counted,
        limit=limit,
    )
    more = len(found) > size
    rows = _rows([row["id"] for row in found[:size]], now, [*fields, *order.keys])
    if reverse:
        rows.reverse()
        return Page(rows, first=not more, last=before is None, order=order, matching=matching)
    return Page(rows, first=boundary is None, last=not more, order=order, matching=matching)


def _keys(
    now: datetime,
    order: Order,
    *,
    show: str,
    search: str,
    boundary: Sequence[Any] | None,
    size: int,
    backwards: bool = False,
    reverse: bool = False,
    counted: bool = False,
    limit: int | None = None,
) -> tuple[list[Row], int | None]:
    """The sort keys of the first `size` rows after `boundary` (before it, `backwards`),
    in this order (`reverse`: the other way round); and the number of matching rows:
    every one, counted in the same statement (`counted`: no boundary, and one arm holds
    them all), or else, with `limit`, up to `limit` + 1, read with the same stored forms
    and checked once for both (reports.figures.held); else None.

    Sorted first on, or filtered by, a stored figure (reports.figures): the first rows
    along its index, leaving out the users whose live figure may differ, and the first
    of those users by their live figures, then the first `size` of both."""

    def first(arms: list[SQL], whole: bool) -> list[Row]:
        ordered = f" ORDER BY {order.sql(reverse=reverse)} LIMIT {int(size)}"
        window = ", COUNT(*) OVER () AS matching" if whole else ""
        parts, params = [], []
        for inner, inner_params in arms:
            sql = f"SELECT *{window} FROM ({inner}) r"
            params += inner_params
            if boundary is not None:
                condition, condition_params = order.beyond(boundary, reverse=backwards)
                sql += f" WHERE {condition}"
                params += condition_params
            parts.append(sql + ordered)
        if len(parts) > 1:  # each arm walks its own index; then the first of both
            sql = "SELECT * FROM (" + " UNION ALL ".join(f"({part})" for part in parts)
            parts = [sql + ") r" + ordered]
        return _fetch(parts[0], params, [*order.keys, "matching"] if whole else order.keys)

    def read(stored: figures.Split | None) -> tuple[list[Row], int | None]:
        arms = _arms(now, order.keys, show=show, search=search, stored=stored)
        whole = counted and len(arms) == 1
        rows = first(arms, whole)
        if whole:
            return rows, rows[0]["matching"] if rows else 0
        if limit is None:
            return rows, None
        return rows, _count(_arms(now, ["id"], show=show, search=search, stored=stored), limit)

    for _attempt in range(3):
        stored = figures.split(now, order.keys, show, search)
        found = read(stored)
        if stored is None or figures.held(stored, now):
            return found
    # the window kept moving under this page: the live definition, always right
    return read(None)


def _rows(users: Sequence[int], now: datetime, fields: Sequence[str]) -> list[Row]:
    """Every field of these users, in this order."""
    if not users:
        return []
    fields = list(dict.fromkeys(["id", *fields]))
    by_id = {row["id"]: row for row in _fetch(*_query(now, fields, users=users), fields)}
    return [by_id[user] for user in users]


def _count(arms: list[SQL], limit: int) -> int:
    """The rows of the arms, up to `limit` + 1: more than `limit` is all a page says, so
    that a count never reads the whole table. Each arm is counted on its own (planned
    under one LIMIT, PostgreSQL hashes the stored figures of every user)."""
    counts = " + ".join(
        f"(SELECT COUNT(*) FROM ({sql} LIMIT {int(limit) + 1}) r)" for sql, _params in arms
    )
    params = [param for _sql, arm_params in arms for param in arm_params]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}", params)
        return min(int(cursor.fetchone()[0]), int(limit) + 1)
