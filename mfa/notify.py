"""Mail to the person whose MFA or account changed: written to the outbox in the
transaction of the change (outbox.services.mail_queue), so a change rolled back sends
nothing and a committed change always has its mail; the outbox's worker delivers it.
Names in it stay on one line (accounts.text.one_line)."""

from datetime import datetime

from django.utils import formats, timezone

from accounts.models import User
from accounts.text import one_line
from outbox.services import mail_queue


def notify(user: User, subject: str, body: str, *, now: datetime | None = None) -> None:
    """Queue `subject` and `body` (plain text, built from data) for the person."""
    email = user.person.email
    if email:
        mail_queue(to=email, subject=one_line(subject), body=one_line(body), now=now)


def local_moment(moment: datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")
