"""Keyset pages: an order over the report's fields, the rows beyond a boundary row,
and the boundary as the token of a page link. A page is found by its boundary row's
sort values, so the last page costs what the first costs."""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from .fields import FIELDS, SQL, to_db


@dataclass(frozen=True)
class Order:
    keys: tuple[str, ...]  # field names, ending with "id"
    descending: bool

    def sql(self, reverse: bool = False) -> str:
        """ORDER BY: NULLs last in the direction shown (so first when paging backwards).

        Every term of an order runs one way (see `_filled`), so that one index in its
        order serves it, read forwards or backwards (migrations 0005 and 0008)."""
        down = self.descending != reverse
        terms = []
        for key in self.keys:
            if FIELDS[key].nullable:
                terms.append(f"{self._filled(key)} {'DESC' if down else 'ASC'}")
            terms.append(f"r.{key} {'DESC' if down else 'ASC'}")
        return ", ".join(terms)

    def _filled(self, key: str) -> str:
        """Whether a nullable key is filled, as a term that puts the empty ones last in
        this order: ascending, "is empty" ascending; descending, "is filled" descending."""
        return f"(r.{key} IS NOT NULL)" if self.descending else f"(r.{key} IS NULL)"

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
                later += "" if reverse or not FIELDS[key].nullable else f" OR {column} IS NULL"
                same, same_params = f"{column} = %s", [to_db(kind, value)]
            if later:
                clauses.append("(" + " AND ".join([*equal, f"({later})"]) + ")")
                params += equal_params + ([to_db(kind, value)] if value is not None else [])
            equal.append(same)
            equal_params += same_params
        condition = " OR ".join(clauses) or "1 = 0"
        first, value = self.keys[0], values[0]
        if value is not None:
            # implied by the condition, but in a form an index on the first key can seek to:
            # a page or batch starts where the last one ended instead of skipping the rows
            # before; for a nullable key, the pair (its "filled" term, the key) in the
            # index's order, which the empty ones pass only where they lie ahead
            later = "<=" if down else ">="
            seek, seek_params = f"r.{first}", [to_db(FIELDS[first].kind, value)]
            if FIELDS[first].nullable:
                seek = f"({self._filled(first)}, r.{first})"
                seek_params.insert(0, self.descending)  # this value's "filled" term
                later += " (%s, %s)"
            else:
                later += " %s"
            condition = f"{seek} {later} AND ({condition})"
            params = [*seek_params, *params]
        elif not reverse:  # among the empty ones, which come last: the index seeks to them
            # (written as an inequality, which PostgreSQL keeps on the index's first term;
            # "= false" it would rewrite into the key's own IS NULL)
            later = "<=" if self.descending else ">="
            condition = f"{self._filled(first)} {later} %s AND ({condition})"
            params = [not self.descending, *params]
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
        if isinstance(value, str) and ("\x00" in value or not _encodable(value)):
            return None  # no text column holds it (PostgreSQL: no NUL, only UTF-8)
        if kind == "datetime" and isinstance(value, str):
            value = parse_datetime(value)
            if value is None or value.tzinfo is None:
                return None
            try:  # in UTC, as the database compares it: no year beyond 1..9999 there
                value = value.astimezone(UTC)
            except OverflowError:
                return None
        values.append(value)
    return values


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate, which JSON's \u escapes can carry
        return False
    return True
