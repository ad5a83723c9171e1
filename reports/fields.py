"""What the Rechtenstructuur reports can show and filter on, as SQL over one system user.

A field is an expression over accounts_user, accounts_person and the grouped
aggregates joined to them; a filter is a condition over the same. Per-user figures
come from grouped aggregates joined once (one pass over the devices and the audit
trail), not from a subquery per user. Every rule in here is compiled from the ORM
queryset that defines it, so it is written once: an active device
(Device.objects.active), "has MFA" (has_factor_condition), a failed attempt
(FAILURE_ACTIONS), a current lock.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Count, Max, QuerySet
from django.db.models.expressions import RawSQL
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
SQL = tuple[str, list[Any]]
Narrowed = TypeVar("Narrowed", bound=QuerySet[Any])


def compiled(queryset: QuerySet[Any]) -> SQL:
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


def named(users: Sequence[int]) -> Sequence[int] | RawSQL:
    """The right side of an __in lookup for these users: on PostgreSQL one array
    parameter, whatever their number (the exceptions of reports.figures can be
    thousands, each of them a parameter to compose and a constant to plan otherwise)."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT UNNEST(%s::bigint[])", [list(users)])
    return users


def join_sql(name: str, now: datetime, users: Sequence[int] | None = None) -> tuple[str, SQL]:
    """The join condition and the grouped aggregate's SQL, compiled from its defining
    queryset; with `users`, narrowed to those users' rows."""

    def only(queryset: Narrowed, field: str = "user_id") -> Narrowed:
        return queryset if users is None else queryset.filter(**{f"{field}__in": named(users)})

    active = only(Device.objects.active(now).order_by())
    if name == "devices":
        grouped = active.values("user_id").annotate(n=Count("pk"))
        return "devices.user_id = accounts_user.id", compiled(grouped)
    if name == "via_admin":
        grouped = (
            active.via_admin()
            .values("user_id")
            .annotate(n=Count("pk"), ending=Count("expires_at"), last_end=Max("expires_at"))
        )
        return "via_admin.user_id = accounts_user.id", compiled(grouped)
    if name == "failures":
        since = now - timedelta(days=30)
        failures = (
            only(AuditEvent.objects.filter(action__in=FAILURE_ACTIONS, at__gte=since), "subject_id")
            .filter(subject__isnull=False)
            .order_by()
            .values("subject_id")
            .annotate(n=Count("pk"))
        )
        return "failures.subject_id = accounts_user.id", compiled(failures)
    if name == "passkeys":
        per_owner = only(Passkey.objects.order_by()).values("user_id").annotate(n=Count("pk"))
        return "passkeys.user_id = accounts_user.id", compiled(per_owner)
    if name == "recovery":
        unused = only(RecoveryCode.objects.filter(used_at__isnull=True).order_by())
        per_user = unused.values("user_id").annotate(n=Count("pk"))
        return "recovery.user_id = accounts_user.id", compiled(per_user)
    if name == "locked":  # few rows (current locks): never narrowed
        locked = current_locks(now).values("key")  # the name's lock (browsers have their own)
        return "locked.key = accounts_user.username_canonical", compiled(locked)
    raise ValueError(name)


JOINS = ("devices", "via_admin", "failures", "locked", "recovery", "passkeys")


def _has_mfa(now: datetime, users: Sequence[int] | None) -> SQL:
    """ "Has MFA" as a condition on the row of accounts_user: the WHERE clause that the ORM
    compiles for has_factor_condition, so that it is written once (mfa.factors); with
    `users`, reading only those users' factors."""
    among = None if users is None else named(users)
    query = User.objects.filter(has_factor_condition(now, among=among)).query
    sql, params = query.where.as_sql(query.get_compiler(connection=connection), connection)
    return sql, list(params)


def expand(sql: str, now: datetime, users: Sequence[int] | None = None) -> SQL:
    """`sql` with each {has_mfa} replaced by the condition (asked of `users` alone, when
    given), and the parameters it needs."""
    if "{has_mfa}" not in sql:
        return sql, []
    condition, params = _has_mfa(now, users)
    return sql.replace("{has_mfa}", condition), params * sql.count("{has_mfa}")


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


def from_db(kind: str, value: Any) -> Any:
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


def to_db(kind: str, value: Any) -> Any:
    if kind == "datetime" and value is not None:
        return connection.ops.adapt_datetimefield_value(value)
    return value
