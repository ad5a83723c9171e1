"""Start Django for a benchmark: development settings, a benchmark database."""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data"
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def production_environment():
    """DEBUG off, as the production shape runs (secrets made up for this run only)."""
    import secrets

    from cryptography.fernet import Fernet

    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("MFA_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
    os.environ.setdefault("SECURE_HTTPS", "0")


def ensure_database(url):
    """Create the PostgreSQL database that `url` names, when it does not exist yet."""
    if not url.startswith(("postgres://", "postgresql://")):
        return
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    server = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(server, autocommit=True) as connection:
        known = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if known.fetchone() is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def start_django(database_url, settings_module, database_name):
    """Django in the production shape (production_environment) with `settings_module`, on
    the database `database_url` names (--database-url), or else on a fresh SQLite file
    `database_name` under bench/.data."""
    production_environment()
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        (DATA / database_name).unlink(missing_ok=True)
    setup(database_name)


def statements(queries):
    """The SQL a CaptureQueriesContext saw, without BEGIN/COMMIT/SAVEPOINT/RELEASE."""
    return [
        query["sql"]
        for query in queries.captured_queries
        if not query["sql"].lstrip().upper().startswith(TRANSACTION_CONTROL)
    ]


def setup(database_name, migrate=True):
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livits.settings")
    os.environ.setdefault("DEBUG", "1")
    DATA.mkdir(exist_ok=True)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{DATA / database_name}")
    ensure_database(os.environ["DATABASE_URL"])
    import warnings

    import django

    # whitenoise notes that nothing was collected: benchmarks serve no static files
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host and in-memory mail
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("createcachetable", verbosity=0)


def timed(function, repeat):
    """Median wall time of `function` in milliseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def print_table(title, rows):
    """rows: (name, value, unit, baseline name or None, ratio or None).

    With BENCH_ROWS set (bench/run_all.py), the rows are also appended to that file.
    """
    if os.environ.get("BENCH_ROWS"):
        with open(os.environ["BENCH_ROWS"], "a", encoding="utf-8") as handle:
            for name, value, unit, baseline, ratio in rows:
                ratio_text = "" if ratio is None else f"{ratio:.3f}"
                handle.write(f"{name}\t{value:.1f}\t{unit}\t{baseline or ''}\t{ratio_text}\n")
    print(f"\n{title}")
    print(f"{'measure':60} {'value':>12}  {'ratio':>8}  against")
    for name, value, unit, baseline, ratio in rows:
        ratio_text = f"{ratio:8.2f}" if ratio is not None else " " * 8
        print(f"{name:60} {value:10.1f} {unit:2}  {ratio_text}  {baseline or ''}")
