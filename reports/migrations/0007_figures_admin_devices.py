"""Stored devices linked by a beheerder per system user (reports.models.UserFigures),
kept by the device trigger of migration 0003 (now also when a device's beheerder
changes, as when that beheerder's account is deleted), filled from the devices there;
and the indexes that the sorts on MFA_gekoppeld and Via_beheerder and the filters on
them walk (reports.figures: LINKED and the stored form of via_admin, the same
expressions). SQLite gets the empty column.
"""

from typing import Any

from django.db import migrations, models

# A device counts for admin_devices as Device.via_admin says (mfa.models).
VIA_ADMIN = "{row}.linked_by_id IS NOT NULL AND {row}.linked_by_id <> {row}.user_id"


def device_function(admin: bool) -> str:
    """The device trigger's function, counting the beheerder's devices or (as in 0003) not."""

    def change(sign: str, row: str) -> str:
        admin_change = (
            f", admin_devices = admin_devices {sign} ({VIA_ADMIN.format(row=row)})::int"
            if admin
            else ""
        )
        return (
            f"UPDATE reports_userfigures SET devices = devices {sign} 1{admin_change}"
            f" WHERE user_id = {row}.user_id;"
        )

    return f"""
CREATE OR REPLACE FUNCTION reports_figures_device() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        {change("-", "OLD")}
    END IF;
    IF TG_OP <> 'DELETE' THEN
        {change("+", "NEW")}
    END IF;
    RETURN NULL;
END $$;
"""


def moved_trigger(when: str) -> str:
    return f"""
DROP TRIGGER IF EXISTS reports_figures_device_moved ON mfa_device;
CREATE TRIGGER reports_figures_device_moved AFTER UPDATE ON mfa_device
    FOR EACH ROW WHEN ({when})
    EXECUTE FUNCTION reports_figures_device();
"""


MOVED = "OLD.user_id IS DISTINCT FROM NEW.user_id"
MOVED_OR_BEHEERDER = f"{MOVED} OR OLD.linked_by_id IS DISTINCT FROM NEW.linked_by_id"
INDEXES = {
    "reports_figures_app": "((devices > 0), user_id)",
    "reports_figures_linked": "((devices > 0 OR passkeys > 0), user_id)",
    "reports_figures_via_admin": "((admin_devices > 0), user_id)",
}


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        # the trigger first: from here on no write to the devices commits beside us
        cursor.execute("LOCK TABLE mfa_device IN SHARE MODE")
        cursor.execute(device_function(admin=True) + moved_trigger(MOVED_OR_BEHEERDER))
        cursor.execute(
            "UPDATE reports_userfigures f SET admin_devices = c.n FROM (SELECT user_id,"
            f" COUNT(*) n FROM mfa_device d WHERE {VIA_ADMIN.format(row='d')} GROUP BY user_id) c"
            " WHERE c.user_id = f.user_id"
        )
        for name, columns in INDEXES.items():
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON reports_userfigures {columns}")


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(device_function(admin=False) + moved_trigger(MOVED))
        for name in INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ("reports", "0006_figures_passkeys_recovery"),
    ]

    operations = [
        migrations.AddField(
            model_name="userfigures",
            name="admin_devices",
            field=models.IntegerField(db_default=0),
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
