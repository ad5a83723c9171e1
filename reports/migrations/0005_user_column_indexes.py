"""B-tree indexes in the order of the reports' sorts on accounts_user columns, on
PostgreSQL (SQLite has none), so that a page sorted on one walks an index instead of
sorting every system user.

A sort is on (column, id) both ways (reports.keyset.Order); a column that can be empty
puts the empty ones last either way, as (column IS NULL, column, id): ascending, and
descending with the column and id descending, one index each (each one read backwards
gives a page link back).
"""

from typing import Any

from django.db import migrations

FILLED = ("login_count", "is_active", "is_hidden")
NULLABLE = ("last_login", "mfa_created_at", "mfa_changed_at", "mfa_reminded_at")
INDEXES = {
    **{f"reports_user_{column}": f"({column}, id)" for column in FILLED},
    **{f"reports_user_{column}_up": f"(({column} IS NULL), {column}, id)" for column in NULLABLE},
    **{
        f"reports_user_{column}_down": f"(({column} IS NULL), {column} DESC, id DESC)"
        for column in NULLABLE
    },
}


def create(apps: Any, schema_editor: Any) -> None:
    _on_postgresql(
        schema_editor,
        [f"CREATE INDEX IF NOT EXISTS {name} ON accounts_user {key}" for name, key in INDEXES.items()],
    )


def drop(apps: Any, schema_editor: Any) -> None:
    _on_postgresql(schema_editor, [f"DROP INDEX IF EXISTS {name}" for name in INDEXES])


def _on_postgresql(schema_editor: Any, statements: list[str]) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for statement in statements:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("reports", "0004_bigram_indexes"), ("accounts", "0008_password_links")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
