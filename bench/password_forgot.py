""" "Wachtwoord vergeten": does the answer's time say whether a name exists?

In one process, interleaved in a shuffled order, with DEBUG off, through the Django test client (all
middleware, no network): POST /password/forgot/ with the username of an existing person
(the baseline), an unknown username, the e-mail address of an existing person and an
unknown address. Every request has a name and a client address of its own, so that no
lock or address limit answers instead. The task that mails the link (accounts.tasks) is
enqueued in the database, as in production, and not run: its work happens after the
answer. Printed: the median server time of each, and its ratio to the known username.
Usage: .venv/bin/python bench/password_forgot.py [--requests N] [--database-url URL]
"""

import argparse
import os
import random
import time

from _django import print_table, start_django

KINDS = ("known username", "unknown username", "known e-mail", "unknown e-mail")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=60, help="requests per kind")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    start_django(args.database_url, "bench.settings_serving", "forgot.sqlite3")

    import statistics

    from django.db import connection
    from django.test import Client

    from accounts.models import Person, User

    run = f"{os.getpid()}x{int(time.time())}"
    names: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for index in range(args.requests):
        username = f"forgot{index}-{run}"
        email = f"{username}@example.org"
        person = Person.objects.create(first_name="Bench", last_name=username, email=email)
        User.objects.create_user(username, None, person=person)
        names["known username"].append(username)
        names["known e-mail"].append(email)
        names["unknown username"].append(f"nobody{index}-{run}")
        names["unknown e-mail"].append(f"nobody{index}-{run}@example.org")

    client = Client()
    client.get("/password/forgot/")  # warm up
    samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
    address = 0
    order = random.Random(7)
    for index in range(args.requests):
        for kind in order.sample(KINDS, len(KINDS)):  # no kind always follows another
            address += 1
            ip = f"10.{address // 65536 % 256}.{address // 256 % 256}.{address % 256}"
            start = time.perf_counter()
            response = client.post(
                "/password/forgot/", {"name": names[kind][index]}, REMOTE_ADDR=ip
            )
            samples[kind].append((time.perf_counter() - start) * 1000)
            assert b"password-asked" in response.content, (kind, response.status_code)
    medians = {kind: statistics.median(values) for kind, values in samples.items()}
    base = medians["known username"]
    rows = [
        (
            f"POST /password/forgot/, {kind}",
            medians[kind],
            "ms",
            None if kind == "known username" else "/ known username",
            None if kind == "known username" else medians[kind] / base,
        )
        for kind in KINDS
    ]
    print_table(
        f"bench/password_forgot.py: median server time, {args.requests} each "
        f"({connection.vendor}, DEBUG off)",
        rows,
    )


if __name__ == "__main__":
    main()
