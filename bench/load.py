"""Bounded login load against `make serve-prod` (gunicorn, 4 workers, PostgreSQL, Redis).

Starts the production shape on a free loopback port, seeds one user with a linked
device per login, runs a fixed number of complete logins (GET the form, POST
username + password + code) from a fixed number of client threads, then stops
the server. Baseline, measured in the same run: the hash-bound limit, i.e. the
CPUs the workers can use divided by the time of one password check.
Usage: .venv/bin/python bench/load.py [--logins N] [--clients N]
"""

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _django import print_table  # noqa: E402

from tests.http_client import Client  # noqa: E402

WORKERS = int(os.environ.get("WEB_CONCURRENCY", "4"))  # as make serve-prod starts them
PASSWORD = "Load-bench-wachtwoord-2026"
SEED = """
from datetime import timedelta
from django.contrib.auth.hashers import make_password
from django.utils import timezone
from accounts.models import Person, User
from mfa import services, totp
from mfa.models import Device, LoginThrottle
secret = "{secret}"
past = timezone.now() - timedelta(minutes=10)
password = make_password("{password}")
LoginThrottle.objects.filter(key__startswith="load-").delete()
for i in range({count}):
    name = f"load-{{i}}"
    user = User.objects.filter(username=name).first()
    if user is None:
        person = Person.objects.create(first_name="Load", last_name=str(i))
        user = User.objects.create(username=name, person=person, password=password)
    Device.objects.filter(user=user).delete()
    code = totp.code_at_step(secret, totp.step_at(past))
    services.device_link(user=user, secret=secret, code=code, by=user, ip=None, now=past)
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hash_seconds(repeat=15):
    """Median CPU time of one password check with the production hasher, in this run.

    CPU time, not wall time: Argon2 with Django's parallelism of 8 spreads one check
    over every core, so its wall time alone would overstate what the cores can do.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livits.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    from django.contrib.auth.hashers import check_password, make_password

    encoded = make_password(PASSWORD)
    samples = []
    for _ in range(repeat):
        start = time.process_time()
        check_password(PASSWORD, encoded)
        samples.append(time.process_time() - start)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logins", type=int, default=120)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()

    port = free_port()
    server = subprocess.Popen(
        ["make", "-s", "serve-prod", f"PORT={port}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if Client(port, scheme="http").get("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit("make serve-prod did not come up (PostgreSQL and Redis running?)")
            time.sleep(0.5)

        from mfa import totp

        secret = totp.new_secret()
        env = dict(os.environ, DEBUG="0", SECURE_HTTPS="0", ALLOWED_HOSTS="127.0.0.1")
        env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/livits")
        env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
        for line in (ROOT / ".prod-local.env").read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value
        seed = SEED.format(secret=secret, password=PASSWORD, count=args.logins)
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", seed],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

        code = totp.code_at_step(secret, totp.step_at(time.time()))
        queue = list(range(args.logins))
        lock = threading.Lock()
        latencies, errors = [], []

        def client_loop(index):
            while True:
                with lock:
                    if not queue:
                        return
                    i = queue.pop()
                client = Client(port, client_ip=f"198.51.{index}.{i % 250 + 1}", scheme="http")
                start = time.perf_counter()
                try:
                    status, _headers, _body = client.login(f"load-{i}", PASSWORD, code)
                except OSError as error:
                    status = repr(error)
                elapsed = time.perf_counter() - start
                with lock:
                    (latencies if status == 302 else errors).append(
                        elapsed if status == 302 else status
                    )

        start, client_cpu = time.perf_counter(), time.process_time()
        threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
        client_cores = (time.process_time() - client_cpu) / wall
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)

    one_hash = hash_seconds()
    cpus = min(WORKERS, os.cpu_count() or 1)
    limit = cpus / one_hash
    achieved = len(latencies) / wall
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else 0
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else 0
    rows = [
        ("one password check (Argon2), CPU time", one_hash * 1000, "ms", None, None),
        (f"hash-bound limit ({cpus} CPUs / one check)", limit, "/s", None, None),
        ("logins with MFA per second", achieved, "/s", "hash-bound limit", achieved / limit),
        ("login latency p50 (GET form + POST)", p50, "ms", None, None),
        ("login latency p99", p99, "ms", None, None),
        ("errors", len(errors), "", None, None),
        ("cores used by this load generator itself", client_cores, "", None, None),
    ]
    print_table(
        f"bench/load.py: {args.logins} logins, {args.clients} clients, gunicorn x{WORKERS}", rows
    )
    if errors:
        print("errors:", errors[:5])


if __name__ == "__main__":
    main()
