from django.db import models
from django.db.models import Q


class OutboxMail(models.Model):
    """One mail to one recipient. Its Message-ID is fixed when it is queued, so every
    attempt sends the same message."""

    class Status(models.TextChoices):
        QUEUED = "queued"  # waiting for its next attempt at `next_attempt_at`
        SENDING = "sending"  # held by a worker until `lease_until`
        SENT = "sent"
        FAILED = "failed"

    event_key = models.CharField(max_length=200)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=500)
    body = models.TextField()
    message_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    queued_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["queued_at", "id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [
            # one event, one recipient: one mail
            models.UniqueConstraint(fields=["event_key", "to"], name="outbox_one_mail_per_event"),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "sending", "sent", "failed"]),
                name="outbox_status_known",
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(lease_until__isnull=False),
                name="outbox_sending_has_lease",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} to {self.to} ({self.status})"
