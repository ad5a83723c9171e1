"""Mail through the outbox against sending directly, to a real SMTP server on localhost
(aiosmtpd in this process), in the same run.

Baseline: Django's send_mail over its SMTP backend, one connection per mail, in the
caller. Measured: the same mails through the outbox, each queued in a transaction of
its own (as a change does) and delivered by django-tasks' db_worker (in this process,
one connection per mail); and the queueing alone, the part a request pays.
The worker keeps its database connection (DB_CONN_MAX_AGE=600, as docs/deployment.md
runs it): closing a SQLite connection checkpoints the WAL, which would be most of a
delivery's time. Each figure is the median of --repeat runs.
Usage: .venv/bin/python bench/mail.py [--mails N] [--repeat N] [--database-url URL]
"""

import argparse
import logging
import os
import socket
import statistics
import time

from _django import print_table, setup


class Sink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.count += 1
        return "250 Message accepted"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mails", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="default: a SQLite file under bench/.data")
    args = parser.parse_args()
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DB_CONN_MAX_AGE", "600")
    setup("mail.sqlite3")
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's line per QUIT

    from aiosmtpd.controller import Controller
    from django.conf import settings
    from django.core.mail import send_mail
    from django.core.management import call_command
    from django.db import connection, transaction
    from django_tasks_db.models import DBTaskResult

    from outbox.models import OutboxMail
    from outbox.services import mail_queue

    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    DBTaskResult.objects.all().delete()
    OutboxMail.objects.all().delete()
    body = "Uw app is gekoppeld aan Livits.\nWas u dit niet? Meld het direct.\n" * 5

    def per_second(function):
        start = time.perf_counter()
        function()
        return args.mails / (time.perf_counter() - start)

    def direct():
        for number in range(args.mails):
            send_mail(f"Livits {number}", body, None, [f"p{number}@example.org"])

    def queue():
        for number in range(args.mails):
            with transaction.atomic():
                mail_queue(to=f"p{number}@example.org", subject=f"Livits {number}", body=body)

    def deliver():
        call_command(
            "db_worker", batch=True, reload=False, startup_delay=False, interval=0, verbosity=0
        )

    rates: dict[str, list[float]] = {"direct": [], "outbox": [], "queue": [], "deliver": []}
    try:
        for _ in range(args.repeat):
            rates["direct"].append(per_second(direct))
            start = time.perf_counter()
            rates["queue"].append(per_second(queue))
            rates["deliver"].append(per_second(deliver))
            rates["outbox"].append(args.mails / (time.perf_counter() - start))
    finally:
        controller.stop()
    sent = OutboxMail.objects.filter(status="sent").count()
    if sink.count != 2 * args.mails * args.repeat or sent != args.mails * args.repeat:
        raise SystemExit(f"expected {args.mails * args.repeat} mails each way, got {sink.count}")
    direct_rate, outbox_rate, queue_rate, deliver_rate = (
        statistics.median(rates[name]) for name in ("direct", "outbox", "queue", "deliver")
    )
    baseline = "direct send_mail over SMTP"
    print_table(
        f"Mail to a local SMTP server, {args.mails} mails, {connection.vendor}",
        [
            (f"{baseline} (mails per second)", direct_rate, "/s", None, None),
            (
                "outbox: queue + db_worker delivery",
                outbox_rate,
                "/s",
                baseline,
                outbox_rate / direct_rate,
            ),
            (
                "  queueing alone (what a request pays)",
                queue_rate,
                "/s",
                baseline,
                queue_rate / direct_rate,
            ),
            (
                "  db_worker delivery alone",
                deliver_rate,
                "/s",
                baseline,
                deliver_rate / direct_rate,
            ),
        ],
    )
    DBTaskResult.objects.all().delete()  # the lease-end checks, not due for minutes


if __name__ == "__main__":
    main()
