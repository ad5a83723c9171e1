"""The indexes of the descending sorts on accounts_user columns that can be empty, in
the form reports.keyset now writes that order: ("is filled" descending, column
descending, id descending), every term one way, so that a page deep in the order
seeks its first row by a row comparison instead of reading the rows before it (the
index of migration 0005, ("is empty", column descending, id descending), mixed two
ways). PostgreSQL only, like 0005.
"""

from typing import Any

from django.db import migrations

NULLABLE = ("last_login", "mfa_created_at", "mfa_changed_at", "mfa_reminded_at")
OLD = {f"reports_user_{column}_down": f"(({column} IS NULL), {column} DESC, id DESC)" for column in NULLABLE}
NEW = {
    f"reports_user_{column}_desc": f"(({column} IS NOT NULL) DESC, {column} DESC, id DESC)"
    for column in NULLABLE
}


def _swap(schema_editor: Any, create: dict[str, str], drop: dict[str, str]) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, key in create.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON accounts_user {key}")
    for name in drop:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def forwards(apps: Any, schema_editor: Any) -> None:
    _swap(schema_editor, NEW, OLD)


def backwards(apps: Any, schema_editor: Any) -> None:
    _swap(schema_editor, OLD, NEW)


class Migration(migrations.Migration):
    dependencies = [("reports", "0007_figures_admin_devices")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
