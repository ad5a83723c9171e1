"""Keyset pages: an order over the report's fields, the rows beyond a boundary row,
and the boundary as the token of a page link. A page is found by its boundary row's
sort values, so the last page costs what the first costs."""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from .fields import FIELDS, SQL, to_db


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
                same, same_params = f"{column} = %s", [to_db(kind, value)]
            if later:
                clauses.append("(" + " AND ".join([*equal, f"({later})"]) + ")")
                params += equal_params + ([to_db(kind, value)] if value is not None else [])
            equal.append(same)
            equal_params += same_params
        condition = " OR ".join(clauses) or "1 = 0"
        first, value = self.keys[0], values[0]
        if value is not None and not FIELDS[first].nullable:
            # implied by the condition, but in a form an index on the first key can seek to:
            # a batch starts where the last one ended instead of skipping the rows before
            condition = f"r.{first} {'<=' if down else '>='} %s AND ({condition})"
            params = [to_db(FIELDS[first].kind, value), *params]
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
