"""Stored passkeys and unused recovery codes per system user (reports.models.UserFigures),
kept by triggers on PostgreSQL in the transaction of every write to mfa_passkey and
mfa_recoverycode, filled from the data already there; SQLite gets the empty columns.
"""

from typing import Any

from django.conf import settings
from django.db import migrations, models



# One function for both: TG_ARGV[0] is the column of reports_userfigures; a row counts
# unless it has a used_at that is filled (a recovery code used; a passkey has none).
TRIGGERS = """
CREATE FUNCTION reports_figures_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    change text := format('UPDATE reports_userfigures SET %1$I = %1$I + $1 WHERE user_id = $2',
        TG_ARGV[0]);
BEGIN
    IF TG_OP <> 'INSERT' AND to_jsonb(OLD) ->> 'used_at' IS NULL THEN
        EXECUTE change USING -1, OLD.user_id;
    END IF;
    IF TG_OP <> 'DELETE' AND to_jsonb(NEW) ->> 'used_at' IS NULL THEN
        EXECUTE change USING 1, NEW.user_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER reports_figures_passkey AFTER INSERT OR DELETE ON mfa_passkey
    FOR EACH ROW EXECUTE FUNCTION reports_figures_count('passkeys');
CREATE TRIGGER reports_figures_passkey_moved AFTER UPDATE ON mfa_passkey
    FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION reports_figures_count('passkeys');
CREATE TRIGGER reports_figures_recovery AFTER INSERT OR DELETE ON mfa_recoverycode
    FOR EACH ROW EXECUTE FUNCTION reports_figures_count('recovery');
CREATE TRIGGER reports_figures_recovery_changed AFTER UPDATE ON mfa_recoverycode
    FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id
        OR (OLD.used_at IS NULL) <> (NEW.used_at IS NULL))
    EXECUTE FUNCTION reports_figures_count('recovery');
"""
DROP = """
DROP TRIGGER IF EXISTS reports_figures_passkey ON mfa_passkey;
DROP TRIGGER IF EXISTS reports_figures_passkey_moved ON mfa_passkey;
DROP TRIGGER IF EXISTS reports_figures_recovery ON mfa_recoverycode;
DROP TRIGGER IF EXISTS reports_figures_recovery_changed ON mfa_recoverycode;
DROP FUNCTION IF EXISTS reports_figures_count();
"""

FILLED = {
    "passkeys": "SELECT user_id, COUNT(*) n FROM mfa_passkey GROUP BY user_id",
    "recovery": "SELECT user_id, COUNT(*) n FROM mfa_recoverycode WHERE used_at IS NULL"
    " GROUP BY user_id",
}


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        # the triggers first: from here on no write to these tables commits beside us
        cursor.execute("LOCK TABLE mfa_passkey, mfa_recoverycode IN SHARE MODE")
        cursor.execute(TRIGGERS)
        for column, counted in FILLED.items():
            cursor.execute(
                f"UPDATE reports_userfigures f SET {column} = c.n FROM ({counted}) c"
                " WHERE c.user_id = f.user_id"
            )


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(DROP)


class Migration(migrations.Migration):

    dependencies = [
        ('reports', '0005_user_column_indexes'),
        ('mfa', '0011_auditevent_to_audit'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='userfigures',
            name='passkeys',
            field=models.IntegerField(db_default=0),
        ),
        migrations.AddField(
            model_name='userfigures',
            name='recovery',
            field=models.IntegerField(db_default=0),
        ),
        migrations.AddIndex(
            model_name='userfigures',
            index=models.Index(fields=['passkeys', 'user'], name='reports_figures_passkeys'),
        ),
        migrations.AddIndex(
            model_name='userfigures',
            index=models.Index(fields=['recovery', 'user'], name='reports_figures_recovery'),
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
