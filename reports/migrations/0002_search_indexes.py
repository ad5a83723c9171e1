"""Trigram indexes for the reports' search on PostgreSQL (pg_trgm); SQLite has none.

The search reads the names as one normalised text, UPPER(first_name || ' ' || infix ||
' ' || last_name), and UPPER(username): these expression indexes hold exactly that,
so there is no copy of the names to keep up to date. Created with the extension
pg_trgm, which the migration creates when it may and otherwise asks for by name.
"""

from typing import Any

from django.db import DatabaseError, migrations, transaction

EXTENSION_MISSING = (
    "The reports' search needs the PostgreSQL extension pg_trgm, which this database user "
    "may not create. Run, as a superuser of the database: CREATE EXTENSION pg_trgm;"
)
# The expressions of reports.search.SEARCH_TEXT, which tests/reports checks.
NAME_TEXT = "UPPER(first_name || ' ' || infix || ' ' || last_name)"
INDEXES = {
    "reports_person_name_trgm": f"accounts_person USING gin (({NAME_TEXT}) gin_trgm_ops)",
    "reports_user_username_trgm": "accounts_user USING gin ((UPPER(username)) gin_trgm_ops)",
}


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    connection = schema_editor.connection
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as error:
        raise RuntimeError(EXTENSION_MISSING) from error
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is None:
            raise RuntimeError(EXTENSION_MISSING)
        for name, definition in INDEXES.items():
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("accounts", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
