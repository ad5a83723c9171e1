from django.conf import settings
from django.db import models


class Report(models.Model):
    """No table: carries the permission to view the Rechtenstructuur reports."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_report", "Can view the Rechtenstructuur reports")]

    def __str__(self) -> str:
        return "Rechtenstructuur"


class UserFigures(models.Model):
    """Per-user figures that the reports sort on, stored so that a sort walks an index.

    Kept by triggers on PostgreSQL (migration 0003), in the transaction of every write to
    the users, devices and audit trail, whoever writes; SQLite keeps no rows here and
    sorts on the live aggregates. Neither is the report's figure itself, which time
    changes (reports.figures says how a page gets from these to those):
    - devices: every device of the user, expired or not;
    - failures: the failed attempts about the user at or after FailureWindow.start;
    - passkeys, recovery: the passkeys and the unused recovery codes, which time does not
      change: the report's figures themselves (migration 0006);
    - admin_devices: the devices a beheerder linked for the user, expired or not
      (migration 0007, which also indexes "has MFA" and "linked by a beheerder" as
      reports.figures writes them);
    - person_first_name, person_infix, person_last_name, search: the names of the
      user's person and the text the search reads (reports.search.STORED_SEARCH), kept
      by triggers on the users and persons (migration 0009), so that a page in name
      order, filtered or searched, reads the users' rows alone (a fifth of the persons).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    devices = models.IntegerField(default=0)
    failures = models.IntegerField(default=0)
    passkeys = models.IntegerField(db_default=0)  # the row is written by triggers
    recovery = models.IntegerField(db_default=0)
    admin_devices = models.IntegerField(db_default=0)
    person_first_name = models.CharField(max_length=100, db_default="")
    person_infix = models.CharField(max_length=20, db_default="")
    person_last_name = models.CharField(max_length=100, db_default="")
    search = models.TextField(db_default="")

    class Meta:
        default_permissions = ()
        indexes = [
            models.Index(fields=["devices", "user"], name="reports_figures_devices"),
            models.Index(fields=["failures", "user"], name="reports_figures_failures"),
            models.Index(fields=["passkeys", "user"], name="reports_figures_passkeys"),
            models.Index(fields=["recovery", "user"], name="reports_figures_recovery"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.devices} devices, {self.failures} failures"


class FailureWindow(models.Model):
    """One row: since when UserFigures.failures counts (PostgreSQL only)."""

    start = models.DateTimeField()

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"failures since {self.start:%Y-%m-%d}"
