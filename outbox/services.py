"""Queueing and delivering mail. The rule this module owns: a mail is written in the
transaction of the change it reports, and is sent by one worker at a time.

Delivery of one mail (`mail_deliver`):
1. claim it with one conditional UPDATE (queued and due, or sending with an expired lease)
   that sets a lease and counts the attempt; the same transaction enqueues a check at the
   lease's end, which takes the mail again should this worker die while sending;
2. send it over SMTP with the Message-ID fixed when it was queued;
3. mark the outcome, on condition that the lease is still this attempt's.

A worker that dies between the server's acceptance of the data (step 2) and step 3 leaves
a mail the check sends again: the one duplicate SMTP cannot rule out (docs/deployment.md).
"""

import logging
from datetime import datetime, timedelta
from enum import Enum

from django.conf import settings
from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from livits import clock

from . import message
from .models import OutboxMail

logger = logging.getLogger("livits.outbox")
Status = OutboxMail.Status


class Outcome(Enum):
    SENT = "sent"
    RETRY = "retry"  # a temporary failure: queued for a later attempt
    FAILED = "failed"
    SKIPPED = "skipped"  # not due, already done, or held by another worker


def mail_queue(
    *,
    to: str,
    subject: str,
    body: str,
    event_key: str | None = None,
    now: datetime | None = None,
) -> OutboxMail:
    """Write a mail to `to` and enqueue its delivery, in the caller's transaction: a change
    rolled back sends nothing. One mail per (event_key, to): queueing the same event for
    the same recipient again returns the mail already queued. Without `event_key`, every
    call is an event of its own. An address that is not one (a line break in it, say) is
    never sent to: its mail is recorded as failed at once, for the beheerders to see,
    and the caller's change goes on."""
    now = now or clock.now()
    fields: dict[str, object] = {"subject": message.one_line(subject)[:500], "body": body}
    try:
        recipient = message.address(to)
    except ValueError:
        recipient = message.one_line(to)[:254]
        fields.update(status=Status.FAILED, finished_at=now, last_error="not a mail address")
    key = {"to": recipient, "event_key": event_key or f"once:{message.new_message_id()}"}
    with transaction.atomic():
        try:
            with transaction.atomic():
                mail = OutboxMail.objects.create(
                    **key,
                    **fields,
                    message_id=message.new_message_id(),
                    queued_at=now,
                    next_attempt_at=now,
                )
        except IntegrityError:
            return OutboxMail.objects.get(**key)
        if mail.status == Status.QUEUED:
            _enqueue(mail.pk, at=None)
    return mail


def _enqueue(mail_id: int, *, at: datetime | None) -> None:
    from .tasks import deliver  # the task module imports this one

    (deliver.using(run_after=at) if at else deliver).enqueue(mail_id=mail_id)


def _due(now: datetime) -> Q:
    return Q(status=Status.QUEUED, next_attempt_at__lte=now) | Q(
        status=Status.SENDING, lease_until__lte=now
    )


def mail_deliver(*, mail_id: int, now: datetime) -> Outcome:
    """One attempt to deliver mail `mail_id`, if it is due at `now` (module docstring)."""
    lease_until = now + timedelta(seconds=settings.MAIL_LEASE_SECONDS)
    with transaction.atomic():
        claimed = OutboxMail.objects.filter(_due(now), pk=mail_id).update(
            status=Status.SENDING, lease_until=lease_until, attempts=F("attempts") + 1
        )
        if not claimed:
            return Outcome.SKIPPED
        _enqueue(mail_id, at=lease_until)
    mail = OutboxMail.objects.get(pk=mail_id)
    try:
        get_connection(fail_silently=False).send_messages(
            [
                message.email_message(
                    to=mail.to,
                    subject=mail.subject,
                    body=mail.body,
                    message_id=mail.message_id,
                    date=mail.queued_at,
                )
            ]
        )
    except Exception as error:
        return _failed(mail, error, now=now)
    _mark(mail, status=Status.SENT, finished_at=now, last_error="")
    return Outcome.SENT


def _failed(mail: OutboxMail, error: Exception, *, now: datetime) -> Outcome:
    reason = f"{type(error).__name__}: {error}"[:500]
    retry = None
    if message.failure(error) == "temporary":
        retry = message.retry_at(attempts=mail.attempts, queued_at=mail.queued_at, now=now)
    outcome: dict[str, object] = (
        {"status": Status.FAILED, "finished_at": now}
        if retry is None
        else {"status": Status.QUEUED, "next_attempt_at": retry}
    )
    with transaction.atomic():
        if not _mark(mail, last_error=reason, **outcome):
            return Outcome.SKIPPED  # this attempt outlived its lease: another has the mail
        if retry is not None:
            _enqueue(mail.pk, at=retry)
            return Outcome.RETRY
    logger.warning("mail %s to %s failed: %s", mail.message_id, mail.to, reason)
    return Outcome.FAILED


def _mark(mail: OutboxMail, **fields: object) -> bool:
    """Record an attempt's outcome, if the mail is still held by this attempt."""
    return bool(
        OutboxMail.objects.filter(pk=mail.pk, status=Status.SENDING, attempts=mail.attempts).update(
            lease_until=None, **fields
        )
    )


def mail_requeue(*, now: datetime) -> int:
    """Enqueue delivery again for every mail not yet sent or failed, each at the moment it
    is due. For a worker killed after taking a task but before claiming its mail; run it
    before the worker starts. Mails already enqueued are skipped by their claim."""
    count = 0
    with transaction.atomic():
        for pk, status, next_attempt_at, lease_until in OutboxMail.objects.filter(
            status__in=[Status.QUEUED, Status.SENDING]
        ).values_list("pk", "status", "next_attempt_at", "lease_until"):
            due = lease_until if status == Status.SENDING and lease_until else next_attempt_at
            _enqueue(pk, at=due if due > now else None)
            count += 1
    return count
