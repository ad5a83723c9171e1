"""The rows of the Rechtenstructuur reports: one query per page or export.

Per-user figures come from grouped aggregates joined once (one pass over the
devices and the audit trail), not from a subquery per user; only the fields a
report shows are selected; pages are found by keyset (the boundary row's sort
values), so the last page costs what the first costs. A page is found on its sort
keys alone (joining only what the sort and the filter need), then its rows are read
with every field, the aggregates narrowed to the page's users.

Every rule in here is compiled from the ORM queryset that defines it, so it is
written once: an active device (Device.objects.active), "has MFA"
(has_factor_condition), a failed attempt (FAILURE_ACTIONS), a current lock.
"""

import base64
import binascii
import functools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Count, Max, QuerySet
from django.utils.dateparse import parse_datetime

from accounts.models import User
from audit.models import FAILURE_ACTIONS, AuditEvent
from mfa.factors import has_factor_condition
from mfa.models import Device, Passkey, RecoveryCode
from mfa.throttle import current_locks

FILTERS = (
    "all",
    "linked",
    "unlinked",
    "never_reminded",
    "via_admin",
    "with_passkey",
    "no_recovery",
)
Row = dict[str, Any]
SQL = tuple[str, list[Any]]
Narrowed = TypeVar("Narrowed", bound=QuerySet[Any])


def _compiled(queryset: QuerySet[Any]) -> SQL:
    sql, params = queryset.query.sql_with_params()
    return sql, list(params)


@dataclass(frozen=True)
class Field:
    sql: str  # over the tables accounts_user and accounts_person, and the joins below
    kind: str = "str"  # str, int, bool, datetime: how a value comes back and goes in
    join: str | None = None
    nullable: bool = False


FIELDS = {
    "id": Field("accounts_user.id", "int"),
    "username": Field("accounts_user.username"),
    "is_active": Field("accounts_user.is_active", "bool"),
    "is_hidden": Field("accounts_user.is_hidden", "bool"),
    "login_count": Field("accounts_user.login_count", "int"),
    "last_login": Field("accounts_user.last_login", "datetime", nullable=True),
    "mfa_created_at": Field("accounts_user.mfa_created_at", "datetime", nullable=True),
    "mfa_changed_at": Field("accounts_user.mfa_changed_at", "datetime", nullable=True),
    "mfa_reminded_at": Field("accounts_user.mfa_reminded_at", "datetime", nullable=True),
    "first_name": Field("accounts_person.first_name", join="person"),
    "infix": Field("accounts_person.infix", join="person"),
    "last_name": Field("accounts_person.last_name", join="person"),
    "device_count": Field("COALESCE(devices.n, 0)", "int", "devices"),
    "via_admin": Field("(COALESCE(via_admin.n, 0) > 0)", "bool", "via_admin"),
    # The end of the temporary access: none while one of them has no end.
    "via_admin_until": Field(
        "CASE WHEN via_admin.n = via_admin.ending THEN via_admin.last_end END",
        "datetime",
        "via_admin",
        nullable=True,
    ),
    "mfa_linked": Field("({has_mfa})", "bool"),
    "failures_30d": Field("COALESCE(failures.n, 0)", "int", "failures"),
    "locked_now": Field("(locked.key IS NOT NULL)", "bool", "locked"),
    "recovery_unused": Field("COALESCE(recovery.n, 0)", "int", "recovery"),
    "passkey_count": Field("COALESCE(passkeys.n, 0)", "int", "passkeys"),
}


def _join(name: str, now: datetime, users: Sequence[int] | None = None) -> tuple[str, SQL]:
    """The join condition and the grouped aggregate's SQL, compiled from its defining
    queryset; with `users`, narrowed to those users' rows."""

    def only(queryset: Narrowed, field: str = "user_id") -> Narrowed:
        return queryset if users is None else queryset.filter(**{f"{field}__in": users})

    active = only(Device.objects.active(now).order_by())
    if name == "devices":
        grouped = active.values("user_id").annotate(n=Count("pk"))
        return "devices.user_id = accounts_user.id", _compiled(grouped)
    if name == "via_admin":
        grouped = (
            active.via_admin()
            .values("user_id")
            .annotate(n=Count("pk"), ending=Count("expires_at"), last_end=Max("expires_at"))
        )
        return "via_admin.user_id = accounts_user.id", _compiled(grouped)
    if name == "failures":
        since = now - timedelta(days=30)
        failures = (
            only(AuditEvent.objects.filter(action__in=FAILURE_ACTIONS, at__gte=since), "subject_id")
            .filter(subject__isnull=False)
            .order_by()
            .values("subject_id")
            .annotate(n=Count("pk"))
        )
        return "failures.subject_id = accounts_user.id", _compiled(failures)
    if name == "passkeys":
        per_owner = only(Passkey.objects.order_by()).values("user_id").annotate(n=Count("pk"))
        return "passkeys.user_id = accounts_user.id", _compiled(per_owner)
    if name == "recovery":
        unused = only(RecoveryCode.objects.filter(used_at__isnull=True).order_by())
        per_user = unused.values("user_id").annotate(n=Count("pk"))
        return "recovery.user_id = accounts_user.id", _compiled(per_user)
    if name == "locked":  # few rows (current locks): never narrowed
        locked = current_locks(now).values("key")  # the name's lock (browsers have their own)
        return "locked.key = accounts_user.username_canonical", _compiled(locked)
    raise ValueError(name)


JOINS = ("devices", "via_admin", "failures", "locked", "recovery", "passkeys")


def _has_mfa(now: datetime) -> SQL:
    """ "Has MFA" as a condition on the row of accounts_user: the WHERE clause that the ORM
    compiles for has_factor_condition, so that it is written once (mfa.factors)."""
    query = User.objects.filter(has_factor_condition(now)).query
    sql, params = query.where.as_sql(query.get_compiler(connection=connection), connection)
    return sql, list(params)


def _expand(sql: str, now: datetime) -> SQL:
    """`sql` with each {has_mfa} replaced by the condition, and the parameters it needs."""
    if "{has_mfa}" not in sql:
        return sql, []
    condition, params = _has_mfa(now)
    return sql.replace("{has_mfa}", condition), params * sql.count("{has_mfa}")


# --- Filters and search --------------------------------------------------------

FILTER_SQL = {
    "all": ("", None),
    "linked": ("{has_mfa}", None),
    "unlinked": ("NOT {has_mfa}", None),
    "never_reminded": (
        "NOT {has_mfa} AND accounts_user.mfa_reminded_at IS NULL",
        None,
    ),
    "via_admin": ("via_admin.n > 0", "via_admin"),
    "no_recovery": ("recovery.n IS NULL", "recovery"),
    "with_passkey": ("passkeys.n > 0", "passkeys"),
}
SEARCHED = ("accounts_person.first_name", "accounts_person.infix", "accounts_person.last_name")
# PostgreSQL: the normalised texts that reports/migrations/0002 indexes with pg_trgm.
SEARCH_TEXT = {
    "name": "UPPER(first_name || ' ' || infix || ' ' || last_name)",
    "username": "UPPER(username)",
}
TRIGRAM = 3  # a word shorter than this has no trigram: no index can find it
# A word that the planner expects in more than this share of the persons is checked on
# the rows as the page walks its order: the page fills long before the walk gets far,
# while collecting every match through the index first would read them all.
DENSE = 0.02


@functools.lru_cache(maxsize=512)
def _dense(pattern: str) -> bool:
    """Whether PostgreSQL's statistics put `pattern` (a LIKE pattern of the name text) in
    more than DENSE of the persons. Only a plan depends on it, never a result, so a
    decision may outlive changes of the data (kept per process)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'accounts_person'::regclass")
        persons = float(cursor.fetchone()[0])
        cursor.execute(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM accounts_person"
            f" WHERE {SEARCH_TEXT['name']} LIKE UPPER(%s)",
            [pattern],
        )
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return persons > 0 and plan[0]["Plan"]["Plan Rows"] > DENSE * persons


def _indexed(word: str) -> bool:
    """Whether a search word finds its users through the trigram indexes (see _search)."""
    if connection.vendor != "postgresql" or len(word) < TRIGRAM:
        return False
    return not _dense(f"%{connection.ops.prep_for_like_query(word)}%")


def indexed_search(search: str) -> bool:
    """Whether a search gathers its few matches through an index before the page is
    sorted: then counting them costs nothing more in the same pass."""
    return any(_indexed(word) for word in search.split())


def _search(search: str) -> SQL:
    """Every word in a name part or the username: Django's icontains on this database.

    On PostgreSQL a word of three or more characters that the statistics expect in few
    persons finds its users through the trigram indexes first (a selective search then
    reads what it shows); a shorter word, or one expected in many persons, is checked on
    the rows as the page walks its order (the page fills after a few rows, and no index
    helps a two-letter word). SQLite checks every word on the rows.
    """
    clauses, params = [], []
    column_sql = connection.ops.lookup_cast("icontains")
    operator = connection.operators["icontains"] % "%s"  # type: ignore[attr-defined]
    columns = (*SEARCHED, "accounts_user.username")
    for word in search.split():
        pattern = f"%{connection.ops.prep_for_like_query(word)}%"
        if _indexed(word):
            clauses.append(
                "accounts_user.id IN ("
                "SELECT found.id FROM accounts_user found INNER JOIN accounts_person named"
                " ON named.id = found.person_id"
                f" WHERE {SEARCH_TEXT['name']} LIKE UPPER(%s)"  # person columns only
                f" UNION ALL SELECT id FROM accounts_user WHERE {SEARCH_TEXT['username']}"
                " LIKE UPPER(%s))"
            )
            params += [pattern, pattern]
            continue
        if connection.vendor == "postgresql":  # the same texts: their statistics guide the plan
            clauses.append(
                f"({SEARCH_TEXT['name']} LIKE UPPER(%s)"
                f" OR {SEARCH_TEXT['username']} LIKE UPPER(%s))"
            )
            params += [pattern, pattern]
            continue
        clauses.append("(" + " OR ".join(f"{column_sql % c} {operator}" for c in columns) + ")")
        params += [pattern] * len(columns)
    return " AND ".join(clauses), params


# --- Values in and out --------------------------------------------------------


def _from_db(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    if kind == "datetime":  # SQLite: naive UTC, as text or (a plain column) a datetime
        moment = parse_datetime(value) if isinstance(value, str) else value
        return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment
    return value


def _to_db(kind: str, value: Any) -> Any:
    if kind == "datetime" and value is not None:
        return connection.ops.adapt_datetimefield_value(value)
    return value


# --- Keyset pages -------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    keys: tuple[str, ...]  # field names, ending with "id"
    descending: bool

    def sql(self, reverse: bool = False) -> str:
        """ORDER BY: NULLs last in the direction shown (so first when paging backwards)."""
        down = self.descending != reverse
        terms = []
        for key in self.keys:
            if FIELDS[key].nullable:
                terms.append(f"r.{key} IS NULL {'DESC' if reverse else 'ASC'}")
            terms.append(f"r.{key} {'DESC' if down else 'ASC'}")
        return ", ".join(terms)

    def beyond(self, values: Sequence[Any], reverse: bool = False) -> SQL:
        """Rows strictly after `values` (before them with `reverse`) in this order."""
        down = self.descending != reverse
        clauses: list[str] = []
        params: list[Any] = []
        equal: list[str] = []
        equal_params: list[Any] = []
        for key, value in zip(self.keys, values, strict=True):
            column, kind = f"r.{key}", FIELDS[key].kind
            if value is None:
                later = "" if not reverse else f"{column} IS NOT NULL"
                same, same_params = f"{column} IS NULL", []
            else:
                later = f"{column} {'<' if down else '>'} %s"
                later += "" if reverse else f" OR {column} IS NULL"
                same, same_params = f"{column} = %s", [_to_db(kind, value)]
            if later:
                clauses.append("(" + " AND ".join([*equal, f"({later})"]) + ")")
                params += equal_params + ([_to_db(kind, value)] if value is not None else [])
            equal.append(same)
            equal_params += same_params
        condition = " OR ".join(clauses) or "1 = 0"
        first, value = self.keys[0], values[0]
        if value is not None and not FIELDS[first].nullable:
            # implied by the condition, but in a form an index on the first key can seek to:
            # a batch starts where the last one ended instead of skipping the rows before
            condition = f"r.{first} {'<=' if down else '>='} %s AND ({condition})"
            params = [_to_db(FIELDS[first].kind, value), *params]
        return condition, params


def cursor_encode(values: Sequence[Any]) -> str:
    plain = [value.isoformat() if isinstance(value, datetime) else value for value in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def cursor_decode(token: str, order: Order) -> list[Any] | None:
    """The boundary values of a page link, or None when the token is not one of ours."""
    try:
        plain = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(plain, list) or len(plain) != len(order.keys):
        return None
    values: list[Any] = []
    for key, value in zip(order.keys, plain, strict=True):
        kind = FIELDS[key].kind
        expected = {"str": str, "int": int, "bool": bool, "datetime": str}[kind]
        if value is None and not FIELDS[key].nullable:
            return None
        if value is not None and type(value) is not expected:
            return None
        if kind == "datetime" and isinstance(value, str):
            value = parse_datetime(value)
            if value is None or value.tzinfo is None:
                return None
        values.append(value)
    return values


# --- The query ------------------------------------------------------------------


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
) -> tuple[str, list[Any]]:
    """SELECT the named fields of the filtered system users (or of `users`), as `r` for an
    outer query; joining only what those fields, the filter and the search need."""
    needed = {FIELDS[name].join for name in fields} | {FILTER_SQL[show][1]}
    sql, params = _expand(
        "SELECT "
        + ", ".join(f"{FIELDS[name].sql} AS {name}" for name in fields)
        + " FROM accounts_user",
        now,
    )
    if "person" in needed or search.split():
        # SQLite has no statistics to see that there are far fewer users than persons:
        # CROSS JOIN is its way of being told to walk the users (PostgreSQL chooses itself)
        join = "CROSS JOIN" if connection.vendor == "sqlite" else "INNER JOIN"
        sql += f" {join} accounts_person ON accounts_person.id = accounts_user.person_id"
    for name in JOINS:
        if name in needed:
            condition, (subquery, subquery_params) = _join(name, now, users)
            sql += f" LEFT JOIN ({subquery}) {name} ON {condition}"
            params += subquery_params
    where = []
    if FILTER_SQL[show][0]:
        filter_sql, filter_params = _expand(FILTER_SQL[show][0], now)
        where.append(filter_sql)
        params += filter_params
    search_sql, search_params = _search(search)
    if search_sql:
        where.append(search_sql)
        params += search_params
    if users is not None:
        where.append(f"accounts_user.id IN ({', '.join(['%s'] * len(users))})")
        params += list(users)
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql, params


def _row(fields: Sequence[str], values: Sequence[Any]) -> Row:
    return {
        name: _from_db(FIELDS[name].kind if name in FIELDS else "int", value)
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
) -> Page:
    """One page of rows: the first, the one after/before a boundary, or the last."""
    reverse = last or before is not None
    boundary = cursor_decode(after or before or "", order) if (after or before) else None
    counted = boundary is None and indexed_search(search)  # every match is in this pass
    found = _keys(
        now,
        order,
        show=show,
        search=search,
        boundary=boundary,
        backwards=before is not None,
        reverse=reverse,
        size=size + 1,
        counted=counted,
    )
    more = len(found) > size
    matching = found[0]["matching"] if counted and found else 0 if counted else None
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
) -> list[Row]:
    """The sort keys of the first `size` rows after `boundary` (before it, `backwards`),
    in this order (`reverse`: the other way round); `counted`: with the number of rows
    beyond the boundary as "matching" on each."""
    inner, params = _query(now, order.keys, show=show, search=search)
    window = ", COUNT(*) OVER () AS matching" if counted else ""
    sql = f"SELECT *{window} FROM ({inner}) r"
    if boundary is not None:
        condition, condition_params = order.beyond(boundary, reverse=backwards)
        sql += f" WHERE {condition}"
        params = params + condition_params
    sql += f" ORDER BY {order.sql(reverse=reverse)} LIMIT {int(size)}"
    return _fetch(sql, params, [*order.keys, "matching"] if counted else order.keys)


def _rows(users: Sequence[int], now: datetime, fields: Sequence[str]) -> list[Row]:
    """Every field of these users, in this order."""
    if not users:
        return []
    fields = list(dict.fromkeys(["id", *fields]))
    by_id = {row["id"]: row for row in _fetch(*_query(now, fields, users=users), fields)}
    return [by_id[user] for user in users]


def count(now: datetime, *, show: str = "all", search: str = "", limit: int) -> int:
    """The number of matching rows, counted up to `limit` + 1: more than `limit` is all a
    page says, so that a count never reads the whole table."""
    inner, params = _query(now, ["id"], show=show, search=search)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({inner} LIMIT {int(limit) + 1}) r", params)
        return int(cursor.fetchone()[0])


EXPORT_FIRST = 500  # rows read like a page, so that an export starts at once


def every_row(
    now: datetime, *, fields: Sequence[str], order: Order, show: str = "all", search: str = ""
) -> Iterator[Row]:
    """All rows in order: the first ones read like a page (their keys along the sort, then
    their rows), the rest after them in one sorted pass through a server-side cursor.

    Reading every batch like a page costs an index probe per person walked (at a million
    persons, about four times the one pass, whose aggregates are hash joins); the one
    pass alone sorts everything before its first row (seconds at a million persons)."""
    fields = list(dict.fromkeys([*fields, *order.keys]))
    found = _keys(now, order, show=show, search=search, boundary=None, size=EXPORT_FIRST)
    yield from _rows([row["id"] for row in found], now, fields)
    if len(found) < EXPORT_FIRST:
        return
    inner, params = _query(now, fields, show=show, search=search)
    condition, condition_params = order.beyond([found[-1][key] for key in order.keys])
    with connection.chunked_cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM ({inner}) r WHERE {condition} ORDER BY {order.sql()}",
            params + condition_params,
        )
        read = _reader(fields)
        while batch := cursor.fetchmany(2000):
            yield from map(read, batch)
