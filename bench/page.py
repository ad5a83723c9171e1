"""An authenticated page: our middleware stack against stock Django's, same view, one process.

Both clients request the same URL of ours (the Rechtenstructuur index: login and
permission required) as the same logged-in user, in this one process, on one database;
they differ only in the middleware the request passes through:
- ours: livits/settings.py MIDDLEWARE (proxy headers, security headers, WhiteNoise,
  locale, the go-live guard, beside Django's own);
- stock: the list `django-admin startproject` writes (security, sessions, common, CSRF,
  authentication, messages, clickjacking).
Printed: the median time per request of each, in alternating rounds, and ours against
stock (goal <= 1.1); the same for this process's CPU time, which other work on the machine
moves much less than the wall time (on SQLite it includes the database's work; a
PostgreSQL server's is not in it); the SQL statements of one request of each (BEGIN/COMMIT not
counted). DEBUG off, on a fresh database. Not seen here: the network and the web server.
Usage: .venv/bin/python bench/page.py [--requests N] [--rounds N] [--database-url URL]
"""

import argparse
import os
import statistics
import time

from _django import print_table, start_django, statements

STOCK_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200, help="per client and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    start_django(args.database_url, "bench.settings_serving", "page.sqlite3")

    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings
    from django.urls import reverse

    from accounts.models import User

    user = User.objects.create_superuser(f"bench-{os.getpid()}", "bench-password-not-used")
    url = reverse("reports:index")
    ours, stock = Client(), Client()
    for client in (ours, stock):
        client.force_login(user)
    ours.handler.load_middleware()
    with override_settings(MIDDLEWARE=STOCK_MIDDLEWARE):
        stock.handler.load_middleware()  # kept by this client's handler from now on
    assert list(settings.MIDDLEWARE) != STOCK_MIDDLEWARE

    def per_request_ms(client):
        """(wall time, this process's CPU time) per request, in milliseconds."""
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(args.requests):
            response = client.get(url)
            assert response.status_code == 200, response.status_code
        return (
            (time.perf_counter() - wall) * 1000 / args.requests,
            (time.process_time() - cpu) * 1000 / args.requests,
        )

    for client in (ours, stock):  # warm up: templates, translations, the first queries
        per_request_ms(client)
    samples: dict[str, list[tuple[float, float]]] = {"ours": [], "stock": []}
    for round_number in range(args.rounds):
        order = ("ours", "stock") if round_number % 2 == 0 else ("stock", "ours")
        for name in order:
            samples[name].append(per_request_ms(ours if name == "ours" else stock))
    wall = {name: statistics.median(s[0] for s in values) for name, values in samples.items()}
    cpu = {name: statistics.median(s[1] for s in values) for name, values in samples.items()}
    sql = {}
    for name, client in (("ours", ours), ("stock", stock)):
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        sql[name] = len(statements(queries))
    print_table(
        f"bench/page.py: {url}, medians of {args.rounds} rounds of {args.requests} requests",
        [
            ("stock Django middleware, same view", wall["stock"], "ms", None, None),
            (
                "our middleware stack (goal <= 1.1)",
                wall["ours"],
                "ms",
                "stock",
                wall["ours"] / wall["stock"],
            ),
            ("CPU time of this process, stock", cpu["stock"], "ms", None, None),
            (
                "CPU time of this process, ours",
                cpu["ours"],
                "ms",
                "stock",
                cpu["ours"] / cpu["stock"],
            ),
            ("SQL statements per page, stock", sql["stock"], "", None, None),
            ("SQL statements per page, ours", sql["ours"], "", "stock", sql["ours"] / sql["stock"]),
        ],
    )


if __name__ == "__main__":
    main()
