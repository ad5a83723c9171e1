from django.db import models


class Report(models.Model):
    """No table: carries the permission to view the Rechtenstructuur reports."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_report", "Can view the Rechtenstructuur reports")]

    def __str__(self) -> str:
        return "Rechtenstructuur"
