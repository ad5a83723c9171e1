"""Logins per second under load, on the production shape: gunicorn (a worker per core by
default, like `make serve-prod`), DEBUG off, PostgreSQL and Redis.

Three figures, measured in this run on this machine:
- ours: complete logins (GET the form, POST username + password + access code);
- stock: Django's own LoginView (password only) on the very same gunicorn, settings
  and database, rendering the same page (bench/urls_bench.py);
- the ceiling: as many processes as workers doing nothing but Argon2 password checks.
Ours and stock run in alternating rounds; latencies are of one complete login.
Not seen here: the network (loopback), a reverse proxy, TLS.
Usage: .venv/bin/python bench/load.py [--logins N] [--clients N] [--workers N]
                                      [--port N] [--database-url URL] [--redis-url URL]
"""

import argparse
import multiprocessing
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _django import ensure_database, print_table  # noqa: E402

from mfa import totp  # noqa: E402
from tests.http_client import Client  # noqa: E402

PASSWORD = "Load-bench-wachtwoord-2026"
SEED = """
from datetime import timedelta
from django.contrib.auth.hashers import make_password
from django.utils import timezone
from accounts.models import Person, User
from mfa import devices, totp
from mfa.models import Device, LoginThrottle
secret = "{secret}"
past = timezone.now() - timedelta(minutes=10)
password = make_password("{password}")
LoginThrottle.objects.all().delete()
for kind in ("ours", "stock"):
    for i in range({count}):
        name = f"{{kind}}-{{i}}"
        user = User.objects.filter(username=name).first()
        if user is None:
            person = Person.objects.create(first_name=kind, last_name=str(i))
            user = User.objects.create(username=name, person=person, password=password)
        User.objects.filter(pk=user.pk).update(password=password)
        Device.objects.filter(user=user).delete()
        if kind == "ours":
            code = totp.code_at_step(secret, totp.step_at(past))
            devices.device_link(user=user, secret=secret, code=code, by=user, ip=None, now=past)
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _argon2_worker(seconds, encoded, counter):
    import django

    django.setup()
    from django.contrib.auth.hashers import check_password

    done, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        check_password(PASSWORD, encoded)
        done += 1
    with counter.get_lock():
        counter.value += done


def argon2_ceiling(processes, seconds=8.0):
    """Password checks per second by `processes` processes doing nothing else."""
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password

    encoded = make_password(PASSWORD)
    counter = multiprocessing.Value("i", 0)
    workers = [
        multiprocessing.Process(target=_argon2_worker, args=(seconds, encoded, counter))
        for _ in range(processes)
    ]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return counter.value / (time.perf_counter() - start)


def run_logins(port, kind, names, secret, clients):
    """Complete logins of `names` from `clients` threads: (wall seconds, latencies, errors).

    Each login types the code of the moment it is sent (a code computed once for the run
    expires on a slow machine, and the run would measure refusals)."""
    queue, lock = list(names), threading.Lock()
    latencies: list[float] = []
    errors: list[int | str] = []
    path = "/login/" if kind == "ours" else "/stock/login/"

    def client_loop(index):
        while True:
            with lock:
                if not queue:
                    return
                name = queue.pop()
            client = Client(port, client_ip=f"198.51.{index}.{len(queue) % 250 + 1}", scheme="http")
            start = time.perf_counter()
            try:
                token = client.login_form(path)
                code = totp.code_at_step(secret, totp.step_at(time.time()))
                status = client.post_login(
                    token, name, PASSWORD, code if kind == "ours" else None, path=path
                )[0]
            except OSError as error:
                status = repr(error)
            elapsed = time.perf_counter() - start
            with lock:
                if status == 302:
                    latencies.append(elapsed)
                else:
                    errors.append(status)

    start = time.perf_counter()
    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, latencies, errors


def percentile(values, share):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * share))] * 1000 if values else 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logins", type=int, default=120, help="per variant")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 0)) or os.cpu_count()
    )
    parser.add_argument("--port", type=int, default=0, help="default: a free one")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/livits_bench_load"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/3")
    args = parser.parse_args()
    port = args.port or free_port()
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings_bench",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        MFA_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_HTTPS="0",
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        DB_CONN_MAX_AGE="60",
    )
    os.environ.update(env)
    ensure_database(args.database_url)
    secret = totp.new_secret()
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "createcachetable"], cwd=ROOT, env=env, check=True)
    seed = SEED.format(secret=secret, password=PASSWORD, count=args.logins)
    subprocess.run(
        [*manage, "shell", "-c", seed], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )

    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "livits.wsgi",
            "-w",
            str(args.workers),
            "-b",
            f"127.0.0.1:{port}",
            "--no-control-socket",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if Client(port, scheme="http").get("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit("gunicorn did not come up (PostgreSQL and Redis running?)")
            time.sleep(0.3)
        half = args.logins // 2
        results: dict[str, list[Any]] = {"ours": [0.0, [], []], "stock": [0.0, [], []]}
        client_cpu = time.process_time()
        for round_number in range(2):  # ours, stock, ours, stock
            for kind in ("ours", "stock") if round_number == 0 else ("stock", "ours"):
                names = [
                    f"{kind}-{i}" for i in range(round_number * half, (round_number + 1) * half)
                ]
                wall, latencies, errors = run_logins(port, kind, names, secret, args.clients)
                results[kind][0] += wall
                results[kind][1] += latencies
                results[kind][2] += errors
        client_cores = (time.process_time() - client_cpu) / (
            results["ours"][0] + results["stock"][0]
        )
    finally:
        server.terminate()
        server.wait(30)

    ceiling = argon2_ceiling(args.workers)
    ours_rate = len(results["ours"][1]) / results["ours"][0]
    stock_rate = len(results["stock"][1]) / results["stock"][0]
    rows = [
        (f"ceiling: Argon2 checks/s by {args.workers} processes", ceiling, "/s", None, None),
        (
            "stock LoginView logins/s (password only)",
            stock_rate,
            "/s",
            "ceiling",
            stock_rate / ceiling,
        ),
        (
            "ours: logins with MFA per second (goal >= 0.97 of stock)",
            ours_rate,
            "/s",
            "stock",
            ours_rate / stock_rate,
        ),
        (
            "ours against the ceiling (goal >= 0.90)",
            ours_rate,
            "/s",
            "ceiling",
            ours_rate / ceiling,
        ),
    ]
    for kind in ("ours", "stock"):
        latencies = results[kind][1]
        rows.append(
            (f"{kind}: latency p50 (GET form + POST)", percentile(latencies, 0.5), "ms", None, None)
        )
        rows.append((f"{kind}: latency p95", percentile(latencies, 0.95), "ms", None, None))
        rows.append((f"{kind}: latency p99", percentile(latencies, 0.99), "ms", None, None))
        rows.append((f"{kind}: errors", len(results[kind][2]), "", None, None))
    rows.append(("cores used by this load generator itself", client_cores, "", None, None))
    print_table(
        f"bench/load.py: {args.logins} logins each, {args.clients} clients, "
        f"gunicorn x{args.workers}",
        rows,
    )
    failed = {kind: results[kind][2] for kind in ("ours", "stock") if results[kind][2]}
    if failed:  # a refused login is no login: the rates above would measure failures
        for kind, errors in failed.items():
            print(f"{kind}: {len(errors)} logins failed, e.g. {errors[:5]}", file=sys.stderr)
        sys.exit("bench/load.py: logins failed, the figures above do not count")


if __name__ == "__main__":
    main()
