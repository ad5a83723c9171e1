"""What the session records cost (mfa.sessions): SQL statements of a login and of
authenticated pages, with the records against without them, in one run.

Baseline ("before"): the same code with the session record, the activity stamp and the
new-browser mail switched off (mfa.middleware's calls made no-ops). Measured through the
Django test client (all middleware, no network), DEBUG off, on the database in use:
- a login from a browser that carries the person's mark, and from a new browser;
- 20 page requests within one minute (home), then one a minute later.
BEGIN/COMMIT/SAVEPOINT are not counted. Writes are INSERT/UPDATE/DELETE statements.
Usage: .venv/bin/python bench/sessions.py [--database-url URL]
"""

import argparse
import os
from datetime import timedelta
from unittest import mock

from _django import print_table, start_django, statements

PASSWORD = "Bench-wachtwoord-2026"
WRITES = ("INSERT", "UPDATE", "DELETE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    start_django(args.database_url, "bench.settings_serving", "sessions.sqlite3")
    import logging

    logging.getLogger("livits.audit").setLevel(logging.WARNING)  # the JSON lines: not here

    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Person, User
    from livits import clock
    from mfa import devices, middleware, sessions, totp

    start = clock.now().replace(microsecond=0)
    moment = [start]
    run = f"{os.getpid()}"

    def count(call):  # (statements, writes)
        with CaptureQueriesContext(connection) as queries:
            call()
        sql = statements(queries)
        return len(sql), sum(statement.startswith(WRITES) for statement in sql)

    def person(name):
        user = User.objects.create_user(
            f"{name}-{run}",
            PASSWORD,
            person=Person.objects.create(first_name=name, last_name="B", email="b@example.org"),
        )
        secret = totp.new_secret()
        past = moment[0] - timedelta(minutes=2)
        devices.device_link(
            user=user,
            secret=secret,
            code=totp.code_at_step(secret, totp.step_at(past)),
            by=user,
            ip=None,
            now=past,
        )
        return user, secret

    def login(client, user, secret):
        moment[0] += timedelta(seconds=31)  # a fresh TOTP step for every login
        code = totp.code_at_step(secret, totp.step_at(moment[0]))
        response = client.post(
            "/login/",
            {"username": user.username, "password": PASSWORD, "code": code},
            headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0"},
        )
        assert response.status_code == 302, response.status_code

    def figures(label):
        user, secret = person(label)
        browser = Client(REMOTE_ADDR="198.51.100.7")
        new_browser = count(lambda: login(browser, user, secret))
        browser.post("/logout/")
        marked = count(lambda: login(browser, user, secret))
        pages = count(lambda: [browser.get("/") for _ in range(20)])
        moment[0] += timedelta(seconds=61)
        later = count(lambda: browser.get("/"))
        return {
            "login, new browser: statements": new_browser[0],
            "login, marked browser: statements": marked[0],
            "20 pages in one minute: statements": pages[0],
            "20 pages in one minute: writes": pages[1],
            "1 page a minute later: statements": later[0],
            "1 page a minute later: writes": later[1],
        }

    with (
        mock.patch.object(clock, "now", lambda: moment[0]),
        override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]),
    ):
        with (
            mock.patch.object(middleware, "_record", lambda *a, **k: None),
            mock.patch.object(middleware, "new_browser_notify", lambda *a, **k: None),
            mock.patch.object(sessions, "activity_record", lambda *a, **k: None),
        ):
            before = figures("before")
        after = figures("after")
    rows: list[tuple[str, float, str, str | None, float | None]] = []
    for name, value in after.items():
        base = before[name]
        rows.append((f"{name}, before", float(base), "n", None, None))
        ratio = value / base if base else None
        rows.append((f"{name}, with records", float(value), "n", f"{name}, before", ratio))
    print_table("Session records: SQL statements, before and with (same run)", rows)


if __name__ == "__main__":
    main()
