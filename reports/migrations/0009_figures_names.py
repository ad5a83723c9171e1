"""The names and the search text of each system user beside their stored figures
(reports.models.UserFigures), kept by triggers on accounts_user and accounts_person,
filled from the rows already there; and the indexes that the name sorts, a sparse
filter under a name sort, and the search walk there. SQLite gets the empty columns.
The names are person_*, not first_name etc.: statements of the code before this
migration name the persons' columns unqualified, and would find two of each (between
`migrate` and the workers' restart, or after a rollback of the code alone).

Migrations 0002 and 0004 index the persons' own names: a page in name order walks a
million persons to show fifty of their two hundred thousand users (one in five), and a
filter that a tenth of the users match, or a search, reads every person it passes. The
users' own rows in name order, with their figures and search text in the same row,
read what they show (reports.figures: the stored forms of the names; reports.search:
the stored search text).
"""

from typing import Any

from django.db import migrations, models

# reports.search.STORED_SEARCH: the name text of 0002 and the username, as one text
# (a search word holds no space, so it is in one of them or in neither).
SEARCH = "UPPER({p}.first_name || ' ' || {p}.infix || ' ' || {p}.last_name || ' ' || {u}.username)"
NAMED = (
    "person_first_name = {p}.first_name, person_infix = {p}.infix,"
    f" person_last_name = {{p}}.last_name, search = {SEARCH}"
)
FUNCTIONS = f"""
-- A new user's row, or a user given another person or username: the names of their
-- person, or none yet where that person is inserted later in the same transaction
-- (the key is checked at commit), whose insert then fills them. FOR SHARE: a rename of
-- that person under way is waited for and its names read, and a rename that comes
-- later waits for this write (whose user it then sees), so neither leaves the other's
-- old names or username behind.
CREATE OR REPLACE FUNCTION reports_figures_user() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    p accounts_person%ROWTYPE;
BEGIN
    SELECT * INTO p FROM accounts_person WHERE id = NEW.person_id FOR SHARE;
    INSERT INTO reports_userfigures (user_id, devices, failures, person_first_name,
        person_infix, person_last_name, search)
        VALUES (NEW.id, 0, 0, COALESCE(p.first_name, ''), COALESCE(p.infix, ''),
            COALESCE(p.last_name, ''), COALESCE({SEARCH.format(p="p", u="NEW")}, ''))
        ON CONFLICT (user_id) DO UPDATE SET person_first_name = EXCLUDED.person_first_name,
            person_infix = EXCLUDED.person_infix, person_last_name = EXCLUDED.person_last_name,
            search = EXCLUDED.search;
    RETURN NULL;
END $$;
CREATE TRIGGER reports_figures_user_named AFTER UPDATE ON accounts_user
    FOR EACH ROW WHEN (OLD.person_id IS DISTINCT FROM NEW.person_id
        OR OLD.username IS DISTINCT FROM NEW.username)
    EXECUTE FUNCTION reports_figures_user();

CREATE FUNCTION reports_figures_person() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE reports_userfigures SET {NAMED.format(p="NEW", u="u")}
        FROM accounts_user u WHERE u.person_id = NEW.id AND user_id = u.id;
    RETURN NULL;
END $$;
CREATE TRIGGER reports_figures_person AFTER UPDATE ON accounts_person
    FOR EACH ROW WHEN (OLD.first_name IS DISTINCT FROM NEW.first_name
        OR OLD.infix IS DISTINCT FROM NEW.infix OR OLD.last_name IS DISTINCT FROM NEW.last_name)
    EXECUTE FUNCTION reports_figures_person();

-- Persons inserted after their user (see reports_figures_user): once per statement, as
-- a bulk insert of persons is the common case and names no user yet.
CREATE FUNCTION reports_figures_persons_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE reports_userfigures SET {NAMED.format(p="p", u="u")}
        FROM added p JOIN accounts_user u ON u.person_id = p.id WHERE user_id = u.id;
    RETURN NULL;
END $$;
CREATE TRIGGER reports_figures_persons_added AFTER INSERT ON accounts_person
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT
    EXECUTE FUNCTION reports_figures_persons_added();
"""
# The function of migration 0003, for the way back.
USER_0003 = """
CREATE OR REPLACE FUNCTION reports_figures_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reports_userfigures (user_id, devices, failures) VALUES (NEW.id, 0, 0)
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS reports_figures_user_named ON accounts_user;
DROP TRIGGER IF EXISTS reports_figures_person ON accounts_person;
DROP TRIGGER IF EXISTS reports_figures_persons_added ON accounts_person;
DROP FUNCTION IF EXISTS reports_figures_person();
DROP FUNCTION IF EXISTS reports_figures_persons_added();
"""
SORT_NAME = "person_last_name, person_first_name, person_infix"
INFORMAL_NAME = "person_first_name, person_infix, person_last_name"
VIA_ADMIN = "admin_devices > 0"  # reports.figures: the stored form of the filter via_admin
INDEXES = {
    "reports_figures_sort_name": f"({SORT_NAME}, user_id)",
    "reports_figures_informal_name": f"({INFORMAL_NAME}, user_id)",
    "reports_figures_sort_name_admin": f"({SORT_NAME}, user_id) WHERE {VIA_ADMIN}",
    "reports_figures_informal_name_admin": f"({INFORMAL_NAME}, user_id) WHERE {VIA_ADMIN}",
    "reports_figures_search_trgm": "USING gin (search gin_trgm_ops)",
    "reports_figures_search_bigram": "USING gin (reports_bigrams(search))",
}


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        # the triggers first: from here on no name or username changes beside us
        cursor.execute("LOCK TABLE accounts_user, accounts_person IN SHARE MODE")
        cursor.execute(FUNCTIONS)
        cursor.execute(
            f"UPDATE reports_userfigures SET {NAMED.format(p='p', u='u')}"
            " FROM accounts_user u JOIN accounts_person p ON p.id = u.person_id"
            " WHERE u.id = user_id"
        )
        for name, definition in INDEXES.items():
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON reports_userfigures {definition}")


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(USER_0003)
        for name in INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("reports", "0008_nullable_sort_indexes")]

    operations = [
        migrations.AddField(
            model_name="userfigures",
            name="person_first_name",
            field=models.CharField(max_length=100, db_default=""),
        ),
        migrations.AddField(
            model_name="userfigures",
            name="person_infix",
            field=models.CharField(max_length=20, db_default=""),
        ),
        migrations.AddField(
            model_name="userfigures",
            name="person_last_name",
            field=models.CharField(max_length=100, db_default=""),
        ),
        migrations.AddField(
            model_name="userfigures",
            name="search",
            field=models.TextField(db_default=""),
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
