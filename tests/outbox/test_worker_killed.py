"""A worker killed (SIGKILL) after the SMTP server received a mail's data and before the
worker marked it sent: the mail goes out once more, and only once. The worker is the real
`manage.py db_worker`, in a process of its own on a database of its own (a SQLite file, or
a PostgreSQL database next to the test database)."""

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def database_url(tmp_path):
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'worker.sqlite3'}"
        return
    params = connection.settings_dict
    name = f"{params['NAME']}_worker"
    server = f"postgresql://{params['USER']}@{params['HOST']}:{params['PORT'] or 5432}/postgres"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield f"postgres://{params['USER']}@{params['HOST']}:{params['PORT'] or 5432}/{name}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def environment(database_url, smtp):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "EMAIL_"))}
    env.update(
        DEBUG="1", DATABASE_URL=database_url, EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp.port)
    )
    return env


def manage(env, *args):
    return [sys.executable, str(ROOT / "manage.py"), *args]


def shell(env, code):
    """Run `code` in `manage.py shell`; its last printed line, read as JSON."""
    result = subprocess.run(
        manage(env, "shell", "-c", code), env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


STATE = """
import json
from django_tasks_db.models import DBTaskResult
from outbox.models import OutboxMail
mail = OutboxMail.objects.get()
checks = [t.run_after.isoformat() for t in DBTaskResult.objects.filter(status="READY")]
print(json.dumps({"status": mail.status, "attempts": mail.attempts, "checks": checks,
    "lease_until": mail.lease_until and mail.lease_until.isoformat()}))
"""
DELIVER_AT_LEASE_END = """
import json
from datetime import timedelta
from outbox.models import OutboxMail
from outbox.services import mail_deliver
mail = OutboxMail.objects.get()
early = mail_deliver(mail_id=mail.pk, now=mail.lease_until - timedelta(microseconds=1))
at_end = mail_deliver(mail_id=mail.pk, now=mail.lease_until)
later = mail_deliver(mail_id=mail.pk, now=mail.lease_until + timedelta(days=1))
print(json.dumps([early.value, at_end.value, later.value]))
"""


def test_a_worker_killed_between_sending_and_marking_sends_the_mail_at_most_once_more(
    database_url, smtp
):
    env = environment(database_url, smtp)
    shell(  # the database and the mail in one process
        env,
        "from django.core.management import call_command; "
        "call_command('migrate', verbosity=0); "
        "from outbox.services import mail_queue; "
        "mail_queue(to='rob@example.org', subject='Livits: a device was linked', body='Hi'); "
        "print(1)",
    )
    smtp.hold = threading.Event()
    worker = subprocess.Popen(
        manage(env, "db_worker", "--batch", "--no-reload", "--no-startup-delay", "-v0"),
        env=env,
        cwd=ROOT,
    )
    try:
        assert smtp.received.wait(120), "the worker never delivered the data"
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(60) == -signal.SIGKILL
    finally:
        worker.kill()
        smtp.hold.set()

    state = shell(env, STATE)
    assert (state["status"], state["attempts"]) == ("sending", 1)
    assert state["lease_until"] in state["checks"]  # the check that takes the mail again

    assert shell(env, DELIVER_AT_LEASE_END) == ["skipped", "sent", "skipped"]
    assert len(smtp.messages) == 2
    assert smtp.messages[0].as_bytes() == smtp.messages[1].as_bytes()
    assert shell(env, STATE)["status"] == "sent"
