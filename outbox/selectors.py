from django.db.models import QuerySet

from .models import OutboxMail


def mails_failed() -> QuerySet[OutboxMail]:
    """Mails the outbox gave up on, newest first: what a beheerder should look at."""
    return OutboxMail.objects.filter(status=OutboxMail.Status.FAILED).order_by("-finished_at")


def mails_failed_count() -> int:
    return mails_failed().count()
