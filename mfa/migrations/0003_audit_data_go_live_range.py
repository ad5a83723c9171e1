"""Audit details become data (rendered in the reader's language); go-live gets bounds.

Existing details are kept as they were written ({"text": ...}). A go-live stored
outside 2000-01-01 .. 2100-01-01 (a typing error such as year 1) is moved to the
nearest bound, which keeps its meaning (live since long ago / not live for long),
printed and recorded in the audit trail.
"""

import datetime
import sys

from django.db import migrations, models

EARLIEST = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
LATEST = datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC)


def details_to_data(apps, schema_editor):
    AuditEvent = apps.get_model("mfa", "AuditEvent")
    for event in AuditEvent.objects.exclude(detail="").only("pk", "detail").iterator():
        AuditEvent.objects.filter(pk=event.pk).update(data={"text": event.detail})


def data_to_details(apps, schema_editor):
    AuditEvent = apps.get_model("mfa", "AuditEvent")
    for event in AuditEvent.objects.only("pk", "data").iterator():
        AuditEvent.objects.filter(pk=event.pk).update(detail=str(event.data.get("text", ""))[:300])


def go_live_into_range(apps, schema_editor):
    # Compared and replaced in SQL: a year-1 timestamp cannot even be read into Python.
    MfaSettings = apps.get_model("mfa", "MfaSettings")
    AuditEvent = apps.get_model("mfa", "AuditEvent")
    for moved_to, rows in (
        (EARLIEST, MfaSettings.objects.filter(go_live_at__lt=EARLIEST)),
        (LATEST - datetime.timedelta(minutes=1), MfaSettings.objects.filter(go_live_at__gte=LATEST)),
    ):
        if rows.update(go_live_at=moved_to):
            text = f"go-live out of range, moved to {moved_to.isoformat()} by migration"
            sys.stdout.write(f"\n  MFA: {text}\n")
            AuditEvent.objects.create(action="go_live_changed", data={"text": text})


class Migration(migrations.Migration):
    dependencies = [("mfa", "0002_mfasettings_row")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="data",
            field=models.JSONField(blank=True, default=dict, verbose_name="detail"),
        ),
        migrations.RunPython(details_to_data, data_to_details),
        migrations.RemoveField(model_name="auditevent", name="detail"),
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("device_linked", "Device linked"),
                    ("device_removed", "Device removed"),
                    ("device_renamed", "Device renamed"),
                    ("device_expired", "Temporary access expired"),
                    ("unlinked_all", "MFA unlinked"),
                    ("login_code", "Logged in with access code"),
                    ("login_trusted", "Logged in from trusted location"),
                    ("login_without_device", "Logged in without MFA (before go-live)"),
                    ("login_failed", "Failed login"),
                    ("login_no_device", "Login refused: no MFA linked"),
                    ("code_failed", "Wrong access code"),
                    ("code_replayed", "Access code used again"),
                    ("locked", "Account locked"),
                    ("lock_cleared", "Lock cleared"),
                    ("session_ended", "Session ended at go-live"),
                    ("go_live_changed", "Go-live changed"),
                    ("trusted_location_changed", "Trusted locations changed"),
                    ("issuer_changed", "Issuer name changed"),
                    ("keys_rotated", "Secrets re-encrypted"),
                    ("user_deleted", "System user deleted"),
                ],
                max_length=40,
                verbose_name="event",
            ),
        ),
        migrations.RunPython(go_live_into_range, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="mfasettings",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("go_live_at__isnull", True),
                    models.Q(("go_live_at__gte", EARLIEST), ("go_live_at__lt", LATEST)),
                    _connector="OR",
                ),
                name="mfa_settings_go_live_in_range",
            ),
        ),
    ]
