"""Bigram indexes for the reports' two-letter search words on PostgreSQL; SQLite has none.

pg_trgm finds no trigram in a word of two letters, so its indexes cannot find one:
these GIN indexes hold every pair of adjacent characters of the same normalised texts
(reports.search.SEARCH_TEXT), through an immutable function, so a two-letter word
that few persons have is looked up instead of checked on every row. And a B-tree
index in the order of the column Informele_naam (first name, infix, last name), which
the persons' own index (last name first) does not give.
"""

from typing import Any

from django.db import migrations

FUNCTION = (
    "CREATE OR REPLACE FUNCTION reports_bigrams(t text) RETURNS text[]"
    " LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS"
    " $$ SELECT ARRAY(SELECT DISTINCT substr(t, i, 2) FROM generate_series(1, length(t) - 1) i) $$"
)
NAME_TEXT = "UPPER(first_name || ' ' || infix || ' ' || last_name)"
INDEXES = {
    "reports_person_name_bigram": f"accounts_person USING gin (reports_bigrams({NAME_TEXT}))",
    "reports_user_username_bigram": "accounts_user USING gin (reports_bigrams(UPPER(username)))",
    "reports_person_informal_name": "accounts_person (first_name, infix, last_name)",
}


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FUNCTION)
        for name, definition in INDEXES.items():
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
        cursor.execute("DROP FUNCTION IF EXISTS reports_bigrams(text)")


class Migration(migrations.Migration):
    dependencies = [("reports", "0003_figures")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
