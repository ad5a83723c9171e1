"""The outbox against a real SMTP server on localhost (tests/outbox/conftest.py)."""

from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from audit.models import AuditEvent
from audit.services import audit
from outbox import selectors
from outbox.message import mail_text
from outbox.models import OutboxMail
from outbox.services import Outcome, mail_deliver, mail_queue

TO = "rob@example.org"


def queue(now, **fields):
    fields = {"to": TO, "subject": "Livits: a device was linked", "body": "Hello", **fields}
    with transaction.atomic():
        return mail_queue(now=now, **fields)


def status(mail):
    mail.refresh_from_db()
    return mail.status


def test_a_mail_queued_while_the_server_is_down_arrives_once_it_is_up(
    db, smtp_settings, smtp_down, frozen_now
):
    mail = queue(frozen_now)
    assert mail_deliver(mail_id=mail.pk, now=frozen_now) is Outcome.RETRY
    mail.refresh_from_db()
    assert (mail.status, mail.next_attempt_at) == ("queued", frozen_now + timedelta(seconds=60))
    assert "ConnectionRefusedError" in mail.last_error
    assert mail_deliver(mail_id=mail.pk, now=frozen_now + timedelta(seconds=59)) is Outcome.SKIPPED

    smtp_down.start()
    assert mail_deliver(mail_id=mail.pk, now=frozen_now + timedelta(seconds=60)) is Outcome.SENT
    assert mail_deliver(mail_id=mail.pk, now=frozen_now + timedelta(days=2)) is Outcome.SKIPPED
    assert [m["Message-ID"] for m in smtp_down.messages] == [mail.message_id]
    assert status(mail) == "sent"


def test_a_421_then_250_arrives_once(db, smtp_settings, smtp, frozen_now):
    smtp.rcpt_replies.append("421 4.7.0 Try again later")
    mail = queue(frozen_now)
    assert mail_deliver(mail_id=mail.pk, now=frozen_now) is Outcome.RETRY
    assert smtp.messages == []
    assert mail_deliver(mail_id=mail.pk, now=frozen_now + timedelta(minutes=1)) is Outcome.SENT
    assert mail_deliver(mail_id=mail.pk, now=frozen_now + timedelta(minutes=9)) is Outcome.SKIPPED
    assert len(smtp.messages) == 1
    assert status(mail) == "sent"


def test_a_550_is_marked_failed_at_once_and_shown_to_beheerders(
    db, smtp_settings, smtp, frozen_now, capsys
):
    smtp.rcpt_replies.append("550 5.1.1 No such user")
    mail = queue(frozen_now)
    assert mail_deliver(mail_id=mail.pk, now=frozen_now) is Outcome.FAILED
    assert mail_deliver(mail_id=mail.pk, now=frozen_now + timedelta(hours=1)) is Outcome.SKIPPED
    assert smtp.messages == []
    assert status(mail) == "failed"
    assert selectors.mails_failed_count() == 1
    call_command("mfa", "mail", "--failed")
    listed = capsys.readouterr().out
    assert "Failed mails: 1" in listed
    assert TO in listed and "550" in listed


def test_temporary_failures_are_retried_with_backoff_for_24_hours_then_failed(
    db, smtp_settings, smtp_down, frozen_now
):
    mail = queue(frozen_now)
    moments = [frozen_now]
    while mail_deliver(mail_id=mail.pk, now=moments[-1]) is Outcome.RETRY:
        mail.refresh_from_db()
        moments.append(mail.next_attempt_at)
    delays = [(later - earlier).total_seconds() for earlier, later in pairwise(moments)]
    assert delays[:7] == [60, 120, 240, 480, 960, 1920, 3600]
    assert set(delays[7:]) == {3600}
    assert moments[-2] - frozen_now < timedelta(hours=24) <= moments[-1] - frozen_now
    assert status(mail) == "failed"
    assert selectors.mails_failed_count() == 1


def test_every_retry_is_enqueued_for_the_worker_at_its_moment(
    db, smtp_settings, smtp_down, frozen_now
):
    mail = queue(frozen_now)
    mail_deliver(mail_id=mail.pk, now=frozen_now)
    mail.refresh_from_db()
    run_after = sorted(
        task.run_after
        for task in DBTaskResult.objects.filter(status="READY", task_path__endswith="deliver")
    )
    lease_end = frozen_now + timedelta(seconds=360)
    assert mail.next_attempt_at in run_after and lease_end in run_after


def test_the_same_event_for_the_same_recipient_is_one_mail(db, smtp_settings, smtp, frozen_now):
    first = queue(frozen_now, event_key="device_linked:7")
    again = queue(frozen_now, event_key="device_linked:7")
    other = queue(frozen_now, event_key="device_linked:7", to="ann@example.org")
    assert again.pk == first.pk != other.pk
    for mail in (first, again, other):
        mail_deliver(mail_id=mail.pk, now=frozen_now)
    assert sorted(r for rs in smtp.recipients for r in rs) == ["ann@example.org", TO]


def test_headers_present_and_line_breaks_in_data_add_no_header_and_no_line(
    db, smtp_settings, smtp, frozen_now
):
    name = "Phone\r\nBcc: mallory@example.org\n\nClick https://evil.example"
    body = mail_text("Device %(name)s was linked.\nNot you? Tell us.", name=name)
    mail = queue(frozen_now, subject=f"Linked: {name}", body=body)
    assert mail_deliver(mail_id=mail.pk, now=frozen_now) is Outcome.SENT
    [received] = smtp.messages
    assert received["Message-ID"] == mail.message_id
    assert received["Date"] == "Wed, 25 Nov 2026 10:00:15 +0000"
    assert received["Auto-Submitted"] == "auto-generated"
    assert received["Bcc"] is None
    assert smtp.recipients == [[TO]]
    assert (
        received["Subject"] == "Linked: Phone Bcc: mallory@example.org Click https://evil.example"
    )
    assert received.get_payload(decode=True).decode().splitlines() == [
        "Device Phone Bcc: mallory@example.org Click https://evil.example was linked.",
        "Not you? Tell us.",
    ]


@pytest.mark.parametrize(
    "to", ["rob@example.org\r\nBcc: mallory@example.org", "rob@example.org\n", "not an address"]
)
def test_an_address_that_is_not_one_is_never_sent_to_and_shown_as_failed(
    db, smtp_settings, smtp, frozen_now, to
):
    mail = queue(frozen_now, to=to)
    assert (mail.status, mail.last_error) == ("failed", "not a mail address")
    assert "\n" not in mail.to and "\r" not in mail.to
    assert not DBTaskResult.objects.exists()
    assert mail_deliver(mail_id=mail.pk, now=frozen_now) is Outcome.SKIPPED
    assert smtp.messages == []
    assert selectors.mails_failed_count() == 1


def run_worker():
    """`manage.py db_worker` in this process, until no task is ready."""
    call_command(
        "db_worker", batch=True, reload=False, startup_delay=False, interval=0, verbosity=0
    )


def change_with_mail(user, *, fail):
    with transaction.atomic():
        audit(action=AuditEvent.Action.DEVICE_LINKED, subject=user)
        mail_queue(to=user.person.email, subject="Livits: a device was linked", body="Hello")
        if fail:
            raise RuntimeError("the change fails after its audit record")


def test_a_rolled_back_change_sends_nothing_and_a_committed_one_sends(
    transactional_db, smtp_settings, smtp, system_user
):
    with pytest.raises(RuntimeError):
        change_with_mail(system_user, fail=True)
    assert not OutboxMail.objects.exists() and not DBTaskResult.objects.exists()
    run_worker()
    assert smtp.messages == []

    change_with_mail(system_user, fail=False)
    run_worker()
    assert [m["To"] for m in smtp.messages] == ["rob@example.org"]
    assert OutboxMail.objects.get().status == "sent"


OVERTAKE: list[tuple[int, datetime]] = []  # a second worker that takes the mail mid-send
DELIVERED: list[EmailMessage] = []


class OvertakenBackend(BaseEmailBackend):
    """A send that outlives its lease: meanwhile a second worker takes the mail and sends
    it, then the first one's send times out."""

    def send_messages(self, email_messages):
        if OVERTAKE:
            mail_id, moment = OVERTAKE.pop()
            assert mail_deliver(mail_id=mail_id, now=moment) is Outcome.SENT
            raise TimeoutError("the first worker's send timed out")
        DELIVERED.extend(email_messages)
        return len(email_messages)


def test_an_attempt_that_outlived_its_lease_does_not_overwrite_the_next_ones_outcome(
    db, settings, frozen_now
):
    settings.EMAIL_BACKEND = f"{__name__}.OvertakenBackend"
    DELIVERED.clear()
    mail = queue(frozen_now)
    OVERTAKE.append((mail.pk, frozen_now + timedelta(seconds=settings.MAIL_LEASE_SECONDS)))
    assert mail_deliver(mail_id=mail.pk, now=frozen_now) is Outcome.SKIPPED
    mail.refresh_from_db()
    assert (mail.status, mail.attempts, mail.last_error) == ("sent", 2, "")
    assert mail_deliver(mail_id=mail.pk, now=frozen_now + timedelta(hours=2)) is Outcome.SKIPPED
    assert len(DELIVERED) == 1
