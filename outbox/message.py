"""What a mail is made of, without a database: text that data cannot break into new lines,
the headers every mail carries, when to try again, and which SMTP failures are final.

Data (a name, a device name, a moment) goes into a mail only through `one_line`: a line
break in it cannot start a header, a paragraph or a line that looks like ours.
"""

import smtplib
import unicodedata
import uuid
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email

Failure = Literal["temporary", "permanent"]


def one_line(text: str) -> str:
    """`text` as one line: every line break and control character becomes a space."""
    kept = (" " if unicodedata.category(char) in {"Cc", "Zl", "Zp"} else char for char in text)
    return " ".join("".join(kept).split())


def mail_text(template: str, /, **values: object) -> str:
    """A plain-text body: `template` (ours, may hold line breaks) % `values` (data, each
    made one line; numbers stay numbers for %d)."""
    safe = {
        name: value if isinstance(value, int | float) else one_line(str(value))
        for name, value in values.items()
    }
    return (template % safe).replace("\r\n", "\n").replace("\r", "\n")


def address(value: str) -> str:
    """A recipient's address, or ValueError: never folded, an address is right or refused."""
    if value != value.strip() or any(unicodedata.category(char) == "Cc" for char in value):
        raise ValueError("a mail address holds no spaces around it and no control characters")
    try:
        validate_email(value)
    except ValidationError:
        raise ValueError(f"not a mail address: {value!r}") from None
    return value


def new_message_id() -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip("<> ") or "localhost"
    return f"<{uuid.uuid4().hex}@{domain}>"


def email_message(
    *, to: str, subject: str, body: str, message_id: str, date: datetime
) -> EmailMessage:
    """The message every attempt sends, byte for byte the same headers."""
    return EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={
            "Message-ID": message_id,
            "Date": format_datetime(date),
            # RFC 3834: no vacation or out-of-office replies to a machine's mail
            "Auto-Submitted": "auto-generated",
        },
    )


def retry_at(*, attempts: int, queued_at: datetime, now: datetime) -> datetime | None:
    """When to try again after `attempts` temporary failures, or None: give up. Backoff
    doubles from MAIL_RETRY_FIRST_SECONDS to at most MAIL_RETRY_MAX_SECONDS; no mail is
    given up before it has waited MAIL_RETRY_HOURS."""
    if now - queued_at >= timedelta(hours=settings.MAIL_RETRY_HOURS):
        return None
    exponent = min(max(attempts - 1, 0), 30)
    delay = min(settings.MAIL_RETRY_FIRST_SECONDS * 2**exponent, settings.MAIL_RETRY_MAX_SECONDS)
    return now + timedelta(seconds=delay)


def failure(error: Exception) -> Failure:
    """Permanent: a 5xx reply to the recipient or to the message's data. Everything else
    (no connection, a timeout, a 4xx, a refused login or sender: a setting to fix) is
    temporary."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in error.recipients.values()]
        return "permanent" if codes and all(500 <= code < 600 for code in codes) else "temporary"
    if isinstance(error, smtplib.SMTPDataError):
        return "permanent" if 500 <= error.smtp_code < 600 else "temporary"
    if isinstance(error, smtplib.SMTPException | OSError):
        return "temporary"
    return "permanent"  # not SMTP: our own error, which trying again will not mend
