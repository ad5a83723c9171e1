"""The stored per-user figures (reports.models.UserFigures) and the triggers that keep
them on PostgreSQL, filled from the data already there; SQLite gets the empty tables.

The triggers fire in the transaction of each write to accounts_user, mfa_device and
mfa_auditevent (COPY and bulk writes included), so the figures never drift from the
rows they count. The failed-attempt actions are reports.figures' rule as of this
migration (tests/reports checks they still are mfa.models.FAILURE_ACTIONS); partial
indexes find the users whose live figure may differ from the stored one.
"""

from datetime import UTC, datetime, time, timedelta
from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


FAILURES = (
    "login_failed",
    "login_no_device",
    "code_failed",
    "code_replayed",
    "passkey_failed",
    "passkey_cloned",
)


def failure(row: str = "") -> str:
    """SQL: the row (NEW, OLD, or none) is a failed attempt about a user."""
    actions = ", ".join(f"'{action}'" for action in FAILURES)
    prefix = f"{row}." if row else ""
    return f"{prefix}action IN ({actions}) AND {prefix}subject_id IS NOT NULL"


INDEXES = {
    "reports_device_temporary": "mfa_device (user_id) WHERE expires_at IS NOT NULL",
    "reports_audit_failures_at": f"mfa_auditevent (at) WHERE {failure()}",
}
TRIGGERS = f"""
CREATE FUNCTION reports_figures_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reports_userfigures (user_id, devices, failures) VALUES (NEW.id, 0, 0)
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER reports_figures_user AFTER INSERT ON accounts_user
    FOR EACH ROW EXECUTE FUNCTION reports_figures_user();

CREATE FUNCTION reports_figures_device() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE reports_userfigures SET devices = devices - 1 WHERE user_id = OLD.user_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE reports_userfigures SET devices = devices + 1 WHERE user_id = NEW.user_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER reports_figures_device_added AFTER INSERT ON mfa_device
    FOR EACH ROW EXECUTE FUNCTION reports_figures_device();
CREATE TRIGGER reports_figures_device_removed AFTER DELETE ON mfa_device
    FOR EACH ROW EXECUTE FUNCTION reports_figures_device();
CREATE TRIGGER reports_figures_device_moved AFTER UPDATE ON mfa_device
    FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION reports_figures_device();

-- A failure counts from the window's start; the window moves (reports.figures) while
-- holding a SHARE ROW EXCLUSIVE lock on mfa_auditevent, so no write runs beside it.
CREATE FUNCTION reports_figures_failure() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- no start (its row gone, as after manage.py flush): every failure counts
    since timestamptz := COALESCE((SELECT MAX(start) FROM reports_failurewindow), '-infinity');
BEGIN
    IF TG_OP <> 'INSERT' AND {failure("OLD")} AND OLD.at >= since THEN
        UPDATE reports_userfigures SET failures = failures - 1 WHERE user_id = OLD.subject_id;
    END IF;
    IF TG_OP <> 'DELETE' AND {failure("NEW")} AND NEW.at >= since THEN
        UPDATE reports_userfigures SET failures = failures + 1 WHERE user_id = NEW.subject_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER reports_figures_failure_added AFTER INSERT ON mfa_auditevent
    FOR EACH ROW WHEN ({failure("NEW")})
    EXECUTE FUNCTION reports_figures_failure();
CREATE TRIGGER reports_figures_failure_removed AFTER DELETE ON mfa_auditevent
    FOR EACH ROW WHEN ({failure("OLD")})
    EXECUTE FUNCTION reports_figures_failure();
CREATE TRIGGER reports_figures_failure_changed AFTER UPDATE ON mfa_auditevent
    FOR EACH ROW WHEN (OLD.subject_id IS DISTINCT FROM NEW.subject_id
        OR OLD.action <> NEW.action OR OLD.at <> NEW.at)
    EXECUTE FUNCTION reports_figures_failure();
"""
DROP = """
DROP TRIGGER IF EXISTS reports_figures_user ON accounts_user;
DROP TRIGGER IF EXISTS reports_figures_device_added ON mfa_device;
DROP TRIGGER IF EXISTS reports_figures_device_removed ON mfa_device;
DROP TRIGGER IF EXISTS reports_figures_device_moved ON mfa_device;
DROP TRIGGER IF EXISTS reports_figures_failure_added ON mfa_auditevent;
DROP TRIGGER IF EXISTS reports_figures_failure_removed ON mfa_auditevent;
DROP TRIGGER IF EXISTS reports_figures_failure_changed ON mfa_auditevent;
DROP FUNCTION IF EXISTS reports_figures_user();
DROP FUNCTION IF EXISTS reports_figures_device();
DROP FUNCTION IF EXISTS reports_figures_failure();
"""


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    # the window starts at the midnight (UTC) before 30 days ago: a page sees the day since
    since = timezone.now() - timedelta(days=30)
    start = datetime.combine(since.date(), time(), tzinfo=UTC)
    with schema_editor.connection.cursor() as cursor:
        # the triggers first: from here on no write to these tables commits beside us
        cursor.execute("LOCK TABLE accounts_user, mfa_device, mfa_auditevent IN SHARE MODE")
        for name, definition in INDEXES.items():
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")
        cursor.execute(TRIGGERS)
        cursor.execute("INSERT INTO reports_failurewindow (id, start) VALUES (1, %s)", [start])
        cursor.execute(
            "INSERT INTO reports_userfigures (user_id, devices, failures)"
            " SELECT u.id, COALESCE(d.n, 0), COALESCE(f.n, 0) FROM accounts_user u"
            " LEFT JOIN (SELECT user_id, COUNT(*) n FROM mfa_device GROUP BY user_id) d"
            " ON d.user_id = u.id"
            " LEFT JOIN (SELECT subject_id, COUNT(*) n FROM mfa_auditevent"
            f" WHERE {failure()} AND at >= %s GROUP BY subject_id) f ON f.subject_id = u.id",
            [start],
        )


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(DROP)
        for name in INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0008_password_links'),
        ('reports', '0002_search_indexes'),
        ('mfa', '0010_sessions'),
    ]

    operations = [
        migrations.CreateModel(
            name='FailureWindow',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('start', models.DateTimeField()),
            ],
            options={
                'default_permissions': (),
            },
        ),
        migrations.CreateModel(
            name='UserFigures',
            fields=[
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to=settings.AUTH_USER_MODEL)),
                ('devices', models.IntegerField(default=0)),
                ('failures', models.IntegerField(default=0)),
            ],
            options={
                'default_permissions': (),
                'indexes': [models.Index(fields=['devices', 'user'], name='reports_figures_devices'), models.Index(fields=['failures', 'user'], name='reports_figures_failures')],
            },
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
