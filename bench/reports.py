"""Reports at scale: 100,000 persons, 20,000 system users with devices and audit history.

Prints the server time of the first page of each report and of each export, and the
peak memory of the exports, as ratios against a plain SELECT of the same rows
measured in the same run. Usage: .venv/bin/python bench/reports.py [--persons N]
"""

import argparse
import gc
import io
import tracemalloc

from _django import print_table, setup, timed


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    setup(f"reports-{args.persons}.sqlite3")

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from accounts.models import User

    call_command("demo_data", persons=args.persons, stdout=io.StringIO())
    admin = User.objects.filter(is_superuser=True, username="bench").first()
    if admin is None:
        admin = User.objects.create_superuser("bench", "bench-password-not-used")
    client = Client()
    client.force_login(admin)

    columns = (
        "u.id, u.username, p.first_name, p.infix, p.last_name, u.mfa_created_at, "
        "u.mfa_changed_at, u.last_login, u.is_hidden"
    )
    base_sql = (
        f"SELECT {columns} FROM accounts_user u JOIN accounts_person p ON p.id = u.person_id "
        "ORDER BY p.last_name, p.first_name, p.infix, u.id"
    )

    def select(limit=None):
        with connection.cursor() as cursor:
            cursor.execute(base_sql + (f" LIMIT {limit}" if limit else ""))
            return cursor.fetchall()

    def get(url, **params):
        response = client.get(url, params)
        assert response.status_code == 200, response.status_code
        if response.streaming:
            for _chunk in response.streaming_content:
                pass
        return response

    def peak_mb(function):
        gc.collect()
        tracemalloc.start()
        function()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak / 2**20

    users = User.objects.count()
    print(f"Data set: {users} system users (DATABASE: {connection.vendor})")
    rows = []
    for slug in ("personen-met-mfa", "systeemgebruikers-en-inlog-stats"):
        page_url = reverse("reports:report", args=[slug])
        get(page_url)  # warm up
        page_base = timed(lambda: select(50), args.repeat)
        page = timed(lambda url=page_url: get(url), args.repeat)
        rows.append((f"{slug}: first page", page, "ms", "SELECT 50 rows", page / page_base))
        for kind in ("csv", "xlsx"):
            url = reverse("reports:export", args=[slug, kind])
            base = timed(select, max(1, args.repeat // 2))
            export = timed(lambda url=url: get(url), max(1, args.repeat // 2))
            rows.append((f"{slug}: export {kind}", export, "ms", "SELECT all rows", export / base))
            base_memory = peak_mb(select)
            memory = peak_mb(lambda url=url: get(url))
            rows.append(
                (
                    f"{slug}: export {kind} peak memory",
                    memory,
                    "MB",
                    "SELECT all rows",
                    memory / base_memory,
                )
            )
    print_table("bench/reports.py: server side, medians", rows)


if __name__ == "__main__":
    main()
