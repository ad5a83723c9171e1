"""Mail to the person whose MFA changed: sent after the change commits, never for a
change that rolled back, and never failing the change it reports."""

from datetime import datetime

from django.core.mail import send_mail
from django.db import transaction
from django.utils import formats, timezone

from accounts.models import User


def notify(user: User, subject: str, body: str) -> None:
    email = user.person.email
    if email:
        transaction.on_commit(lambda: send_mail(subject, body, None, [email], fail_silently=True))


def local_moment(moment: datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")
