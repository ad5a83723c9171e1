# AuditEvent lives in the audit app now (audit.0001_initial): leave the model out of
# this app's state, its table and rows stay where they are (no SQL).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("mfa", "0010_sessions"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
        ),
    ]
