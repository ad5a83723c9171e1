"""Reports at scale: 100,000 persons (or each size of --persons), a fifth system users
with devices and audit history.

On the database given (SQLite by default; PostgreSQL with --database-url), DEBUG off,
in-process through one reused test client handler; medians of --repeat runs.
Printed, each as a ratio against a baseline measured in the same run:
- every page (the last page, each sort both ways, each filter, a search) against the
  report's first page (goal: <= 1.5), each by name, and the slowest;
- the CSV and XLSX exports against COPY (the export's query) TO STDOUT on PostgreSQL, a
  fetch of that query's rows on SQLite (goals: <= 4, <= 8);
- the first byte of each export after the request (goal: within 0.2 s);
- with several --persons, the first page at each size against the first page at the
  smallest (goal: <= 1.5), each size in a process of its own, run one after the other;
- the memory of the serving process (the growth of its peak RSS, VmHWM, in a fresh child
  process) while it exports every row: at the end against halfway through (flat means
  about 1); beside it, the same meter on a process that keeps the rows in a list.
On PostgreSQL the tables are vacuumed and analysed after loading, as autovacuum would do.
Not seen here: the network, gunicorn, the browser's download; memory outside the process
(the database server's).
Usage: .venv/bin/python bench/reports.py [--persons N [N ...]] [--repeat N]
       [--only pages|exports] [--database-url URL]
       (with several sizes: a URL holding {persons}, e.g.
       postgres://postgres@127.0.0.1:5432/livits_reports_{persons})
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _django import print_table, production_environment, setup, timed

HERE = Path(__file__).resolve().parent
PAGE = "/reports/rechtenstructuur/{slug}/"
EXPORT = "/reports/rechtenstructuur/{slug}/export.{kind}"
SLUGS = ("personen-met-mfa", "systeemgebruikers-en-inlog-stats")
MEMORY_CHILD = """
import json, os, sys
sys.path.insert(0, {bench!r}); sys.path.insert(0, {root!r})
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings_serving"
from _django import setup
setup({database!r}, migrate=False)
from django.test import Client
from accounts.models import User
from livits import clock
from reports import keyset, streams
from reports.reports import REPORTS
client = Client()
client.force_login(User.objects.get(username="bench"))
def peak_kb():  # this process's own peak RSS (getrusage would carry over the parent's)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
def export(query, probe):  # progress: bytes sent
    sent = 0
    for chunk in client.get({url!r}, query).streaming_content:
        sent += len(chunk)
        probe.append((sent, peak_kb()))
def hold(query, probe):  # the same rows as the export, kept in a list; progress: rows
    report = REPORTS[{slug!r}]
    order = keyset.Order((*report.columns[1].order_by, "id"), False)
    kept = []
    for row in streams.every_row(clock.now(), fields=report.fields, order=order, **query):
        kept.append(row)
        if len(kept) % 500 == 0:
            probe.append((len(kept), peak_kb()))
    probe.append((len(kept), peak_kb()))
work = hold if {hold!r} else export
work({warmup!r}, [])  # every code path once, on a few rows
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # the peak (VmHWM) starts again from the RSS of now
probe = [(0, peak_kb())]
work({{}}, probe)
# VmHWM can fall back when memory is returned without an unmap: keep the running maximum
total = probe[-1][0]
end = max(kb for _progress, kb in probe)
half = max(kb for progress, kb in probe if progress <= total / 2)
print(json.dumps({{"end": end - probe[0][1], "half": half - probe[0][1]}}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, nargs="+", default=[100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="default: a SQLite file under bench/.data")
    parser.add_argument(
        "--only",
        choices=("pages", "exports"),
        help="measure only these (the first page either way: the sizes' baseline)",
    )
    parser.add_argument("--result", help=argparse.SUPPRESS)  # a size's first page, as JSON
    args = parser.parse_args()
    if len(args.persons) > 1:
        return sizes(args)
    args.persons = args.persons[0]
    if args.database_url:
        args.database_url = args.database_url.format(persons=args.persons)
    production_environment()
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings_serving"
    database = f"reports-{args.persons}.sqlite3"
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    setup(database)

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts.models import Person, User
    from reports.fields import FILTERS
    from reports.reports import REPORTS

    if Person.objects.count() < args.persons:
        call_command("demo_data", persons=args.persons, stdout=open(os.devnull, "w"))  # noqa: SIM115
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")  # as autovacuum keeps a loaded table
    admin = User.objects.filter(username="bench").first() or User.objects.create_superuser(
        "bench", "bench-password-not-used"
    )
    client = Client()
    client.force_login(admin)

    from livits import clock
    from reports import keyset, selectors

    def same_query(report):
        """COPY (the export's query) TO STDOUT; on SQLite, its rows fetched."""
        order = keyset.Order((*report.columns[1].order_by, "id"), False)
        fields = list(dict.fromkeys([*report.fields, *order.keys]))
        inner, params = selectors._query(clock.now(), fields)
        sql = f"SELECT * FROM ({inner}) r ORDER BY {order.sql()}"
        with connection.cursor() as cursor:
            if connection.vendor != "postgresql":
                cursor.execute(sql, params)
                cursor.fetchall()
                return
            with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT", params) as copy:
                for _data in copy:
                    pass

    def get(url, query=None):
        response = client.get(url, query or {})
        assert response.status_code == 200, (url, query, response.status_code)
        if response.streaming:
            for _chunk in response:  # a streaming response yields its content
                pass

    def first_byte_ms(url):
        start = time.perf_counter()
        response = client.get(url)
        chunks = iter(response)
        while not next(chunks):
            pass
        elapsed = (time.perf_counter() - start) * 1000
        for _chunk in chunks:
            pass
        return elapsed

    users = User.objects.count()
    print(f"Data set: {users} system users, {Person.objects.count()} persons ({connection.vendor})")
    rows: list[tuple[str, float, str, str | None, float | None]] = []
    for slug in SLUGS:
        report = REPORTS[slug]
        url = PAGE.format(slug=slug)
        get(url)  # warm up
        first = timed(lambda url=url: get(url), args.repeat)
        rows.append((f"{slug}: first page", first, "ms", None, None))
        variants = [("last page", {"last": "1"})]
        variants += [
            (f"search '{word}'", {"q": word})
            for word in ("de", "zz", "demo12", "jansen12", "bakker", "bakker12")
        ]
        variants += [(f"filter {key}", {"show": key}) for key in FILTERS if key != "all"]
        variants += [
            (f"sort {column.header} {direction}", {"sort": column.header, "dir": direction})
            for column in report.columns
            for direction in ("asc", "desc")
        ]
        if args.only == "exports":
            variants = []
        worst = (0.0, "")
        for name, query in variants:
            ms = timed(lambda url=url, query=query: get(url, query), args.repeat)
            rows.append((f"{slug}: {name}", ms, "ms", "first page", ms / first))
            if not name.startswith("search"):
                worst = max(worst, (ms, name))
        if variants:
            rows.append(
                (
                    f"{slug}: slowest filter or sort ({worst[1]}), goal <= 1.5",
                    worst[0],
                    "ms",
                    "first page",
                    worst[0] / first,
                )
            )
        if slug == SLUGS[0] and args.result:
            Path(args.result).write_text(json.dumps({"first": first}))
        if args.only == "pages":
            continue
        copy = timed(lambda report=report: same_query(report), args.repeat)
        baseline = "COPY of its query" if connection.vendor == "postgresql" else "its query"
        for kind, goal in (("csv", 4), ("xlsx", 8)):
            export = EXPORT.format(slug=slug, kind=kind)
            ms = timed(lambda export=export: get(export), args.repeat)
            rows.append((f"{slug}: export {kind}, goal <= {goal}", ms, "ms", baseline, ms / copy))
            first_byte = statistics.median(first_byte_ms(export) for _ in range(args.repeat))
            rows.append(
                (f"{slug}: {kind} first byte, goal <= 200 ms", first_byte, "ms", None, None)
            )
    if args.only != "pages":
        rows += memory_rows(database, users)
    print_table(
        f"bench/reports.py: server side, medians of {args.repeat} ({connection.vendor})", rows
    )


def sizes(args):
    """Each size in a process of its own; then each first page against the smallest's."""
    import tempfile

    firsts = {}
    for persons in sorted(args.persons):
        with tempfile.NamedTemporaryFile(suffix=".json") as result:
            command = [sys.executable, __file__, "--persons", str(persons)]
            command += ["--repeat", str(args.repeat), "--result", result.name]
            if args.database_url:
                command += ["--database-url", args.database_url]
            if args.only:
                command += ["--only", args.only]
            subprocess.run(command, check=True)
            firsts[persons] = json.loads(Path(result.name).read_text())["first"]
    smallest = min(firsts)
    print_table(
        f"bench/reports.py: first page by size, medians of {args.repeat}",
        [
            (
                f"{SLUGS[0]}: first page, {persons} persons, goal <= 1.5",
                ms,
                "ms",
                f"{smallest} persons",
                ms / firsts[smallest],
            )
            for persons, ms in firsts.items()
        ],
    )


MEMORY_WARMUP = "demo10"  # a few rows: every code path runs once before the meter starts


def memory_rows(database, rows):
    """Growth of the peak RSS of a fresh serving process while it exports every row: at the
    end against halfway through (by bytes sent); beside it, the same meter on a process that
    keeps those rows in a list (halfway by rows)."""
    env = dict(os.environ, BENCH_ROWS="")
    table = []
    for kind, label in (("csv", "exported, csv"), ("xlsx", "exported, xlsx"), (None, "held")):
        code = MEMORY_CHILD.format(
            bench=str(HERE),
            root=str(HERE.parent),
            database=database,
            slug=SLUGS[0],
            url=EXPORT.format(slug=SLUGS[0], kind=kind or "csv"),
            hold=kind is None,
            warmup={"q": MEMORY_WARMUP} if kind else {"search": MEMORY_WARMUP},
        )
        output = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout
        growth = json.loads(output.strip().splitlines()[-1])
        goal = "flat: about 1" if kind else "what growing with the rows looks like"
        table.append(
            (
                f"RSS growth, {rows} rows {label} ({goal})",
                growth["end"] / 1024,
                "MB",
                "halfway through",
                growth["end"] / max(growth["half"], 1),
            )
        )
    return table


if __name__ == "__main__":
    main()
