"""The production shape, for real: gunicorn with 4 workers on PostgreSQL and Redis,
DEBUG off, behind a (simulated) trusted reverse proxy at 127.0.0.1.

Needs the local PostgreSQL (127.0.0.1:5432) and the redis-server binary. Without
them these tests are skipped, unless LIVITS_REQUIRE_PRODUCTION_TESTS=1 (as .ci/run
sets), which turns the skip into a failure.
"""

import contextlib
import os
import secrets
import selectors
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.http_client import Client

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Productie-wachtwoord-42"
PG = ("127.0.0.1", 5432)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/production/" in str(item.fspath):
            item.add_marker(pytest.mark.production)


def _require(condition, reason):
    if condition:
        return
    if os.environ.get("LIVITS_REQUIRE_PRODUCTION_TESTS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


class Forwarder:
    """A TCP relay in front of PostgreSQL that the test can cut, as if the server went away."""

    def __init__(self, target):
        self.target = target
        self.port = free_port()
        self.up = threading.Event()
        self.up.set()
        self._connections = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a, b):
        selector = selectors.DefaultSelector()
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        try:
            while True:
                for key, _ in selector.select(timeout=1):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            for sock in (a, b):
                sock.close()

    def cut(self):
        """Refuse new connections and break the open ones."""
        self.up.clear()
        with self._lock:
            for sock in self._connections:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._connections.clear()

    def restore(self):
        self.up.set()

    def close(self):
        self._stop = True
        self.cut()
        self._server.close()


SEED = """
from datetime import timedelta
from django.utils import timezone
from accounts.models import Person, User
from mfa import services, totp
from mfa.models import TrustedLocation
secret = "{secret}"
past = timezone.now() - timedelta(minutes=5)
for name in ("race", "throttled", "proxied", "redis", "pgdown", "lockrace", "sinterklaas"):
    person = Person.objects.create(first_name=name.title(), last_name="Productie")
    user = User.objects.create_user(name, "{password}", person=person)
    code = totp.code_at_step(secret, totp.step_at(past))
    services.device_link(user=user, secret=secret, code=code, by=user, ip=None, now=past)
TrustedLocation.objects.create(name="Kantoor", network="203.0.113.0/24")
"""


@pytest.fixture(scope="session")
def production(tmp_path_factory):
    _require(shutil.which("redis-server"), "redis-server is not installed")
    try:
        socket.create_connection(PG, timeout=2).close()
    except OSError:
        _require(False, "PostgreSQL does not answer at 127.0.0.1:5432")
    import psycopg

    database = f"livits_prod_{os.getpid()}"
    admin = psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
    admin.execute(f'CREATE DATABASE "{database}"')

    redis_port = free_port()
    redis = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    forwarder = Forwarder(PG)
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "MFA_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{forwarder.port}/{database}",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "MFA_TRUSTED_PROXIES": "127.0.0.1/32",
        "SECURE_HTTPS": "1",
        "STATIC_ROOT": str(tmp_path_factory.mktemp("static")),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (
        ["migrate", "--noinput", "-v0"],
        ["createcachetable"],
        ["collectstatic", "--noinput", "-v0"],
    ):
        subprocess.run(manage + command, env=env, check=True, cwd=ROOT)
    subprocess.run(
        manage + ["shell", "-c", SEED.format(secret=secret, password=PASSWORD)],
        env=env,
        check=True,
        cwd=ROOT,
    )
    gunicorn = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "livits.wsgi",
            "-w",
            "4",
            "-b",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "2",
            "--no-control-socket",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if Client(port).get("/healthz")[0] == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, "gunicorn did not come up"
        assert gunicorn.poll() is None, gunicorn.stderr.read()
        time.sleep(0.3)

    def query(sql, *params):
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}") as connection:
            return connection.execute(sql, params).fetchall()

    yield {
        "port": port,
        "secret": secret,
        "redis": redis,
        "forwarder": forwarder,
        "query": query,
        "gunicorn": gunicorn,
    }

    gunicorn.terminate()
    gunicorn.wait(10)
    redis.terminate()
    redis.wait(10)
    forwarder.close()
    admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    admin.close()
