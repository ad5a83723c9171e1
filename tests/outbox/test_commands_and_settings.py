import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from livits import clock
from outbox.models import OutboxMail
from outbox.services import mail_deliver, mail_queue

ROOT = Path(__file__).resolve().parents[2]


def test_mfa_mail_counts_the_mails_per_status(db, frozen_now, capsys):
    with transaction.atomic():
        mail_queue(to="rob@example.org", subject="One", body="1", now=frozen_now)
        mail_queue(to="ann@example.org", subject="Two", body="2", now=frozen_now)
    call_command("mfa", "mail")
    assert capsys.readouterr().out.split("\n")[:4] == [
        "Queued: 2",
        "Sending: 0",
        "Sent: 0",
        "Failed: 0",
    ]


def test_requeue_enqueues_every_pending_mail_at_the_moment_it_is_due(
    db, frozen_now, settings, capsys, monkeypatch
):
    monkeypatch.setattr(clock, "now", lambda: frozen_now)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with transaction.atomic():
        held = mail_queue(to="rob@example.org", subject="Held", body="1", now=frozen_now)
        waiting = mail_queue(to="ann@example.org", subject="Waits", body="2", now=frozen_now)
        done = mail_queue(to="bob@example.org", subject="Sent", body="3", now=frozen_now)
    assert mail_deliver(mail_id=done.pk, now=frozen_now).value == "sent"
    lease_until = frozen_now + timedelta(minutes=6)
    OutboxMail.objects.filter(pk=held.pk).update(status="sending", lease_until=lease_until)
    DBTaskResult.objects.all().delete()  # a worker died after taking the tasks

    call_command("mfa", "mail", "--requeue")
    assert "Requeued 2 pending mail(s)." in capsys.readouterr().out
    tasks = {t.args_kwargs["kwargs"]["mail_id"]: t for t in DBTaskResult.objects.all()}
    assert set(tasks) == {held.pk, waiting.pk}
    assert tasks[held.pk].run_after == lease_until


def settings_value(name, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "EMAIL_"))}
    environment.update(DEBUG="1", **env)
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "shell",
            "-c",
            f"from django.conf import settings; print(settings.{name})",
        ],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip().splitlines()[-1] if result.returncode == 0 else result.stderr


def test_mail_goes_to_the_console_until_an_smtp_host_is_set():
    assert settings_value("EMAIL_BACKEND") == "django.core.mail.backends.console.EmailBackend"
    assert (
        settings_value("EMAIL_BACKEND", EMAIL_HOST="smtp.example.org")
        == "django.core.mail.backends.smtp.EmailBackend"
    )


@pytest.mark.parametrize(
    ("env", "port"),
    [
        ({}, "25"),
        ({"EMAIL_USE_TLS": "1"}, "587"),
        ({"EMAIL_USE_SSL": "1"}, "465"),
        ({"EMAIL_USE_TLS": "1", "EMAIL_PORT": "2525"}, "2525"),
    ],
)
def test_the_smtp_port_follows_the_encryption(env, port):
    assert settings_value("EMAIL_PORT", EMAIL_HOST="smtp.example.org", **env) == port


def test_tls_and_ssl_together_are_refused():
    refused = settings_value("EMAIL_PORT", EMAIL_USE_TLS="1", EMAIL_USE_SSL="1")
    assert "EMAIL_USE_TLS (STARTTLS) or EMAIL_USE_SSL, not both" in refused


def test_mfa_settings_counts_the_mails_that_could_not_be_delivered(admin_client, frozen_now):
    from django.urls import reverse

    from outbox.models import OutboxMail
    from outbox.services import mail_queue

    mail_queue(to="one line\r\nBcc: x@example.org", subject="s", body="b", now=frozen_now)
    assert OutboxMail.objects.get().status == OutboxMail.Status.FAILED
    html = admin_client.get(reverse("mfa:settings")).content.decode()
    assert 'data-testid="mails-failed"' in html and "1 mail aan een persoon" in html
