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
from typing import cast

import pytest
from cryptography.fernet import Fernet

from tests.http_client import Client

__all__ = ["Client"]  # the production tests take it from here

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


def stretch_the_lock(query, key):
    """The fifth failure waits only 2^0 s, less than a loaded machine may take to ask the
    next question: stretch the wait to what later failures reach, so that "inside the
    wait" does not race the clock."""
    rows = query(
        "UPDATE mfa_loginthrottle SET locked_until = now() + interval '5 minutes' "
        "WHERE key = %s AND locked_until IS NOT NULL RETURNING failures",
        key,
    )
    assert len(rows) == 1, f"{key} was not locked"


def _require(condition, reason):
    if condition:
        return
    if os.environ.get("LIVITS_REQUIRE_PRODUCTION_TESTS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


class Forwarder:
    """A TCP relay (in front of PostgreSQL or Redis) that the test can cut, as if the server
    went away; it listens on `listen` (an address of this network namespace)."""

    def __init__(self, target, listen="127.0.0.1"):
        self.target = target
        self.port = free_port()
        self.up = threading.Event()
        self.up.set()
        self._connections = []
        self._lock = threading.Lock()
        self._server = socket.create_server((listen, self.port))
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
                    data = cast(socket.socket, key.fileobj).recv(65536)
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


# The database, the cache table, the static files and the seed in one process of
# manage.py (not one per command: each would start Django again).
SEED = """
from datetime import timedelta
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
call_command("createcachetable")
call_command("collectstatic", interactive=False, verbosity=0)
from django.utils import timezone
from accounts.models import Person, User
from mfa import devices, totp
from mfa.models import TrustedLocation
secret = "{secret}"
past = timezone.now() - timedelta(minutes=5)
for name in ("race", "throttled", "proxied", "redis", "pgdown", "lockrace", "sinterklaas"):
    person = Person.objects.create(first_name=name.title(), last_name="Productie")
    user = User.objects.create_user(name, "{password}", person=person)
    code = totp.code_at_step(secret, totp.step_at(past))
    devices.device_link(user=user, secret=secret, code=code, by=user, ip=None, now=past)
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
    subprocess.run(
        manage + ["shell", "--no-imports", "-c", SEED.format(secret=secret, password=PASSWORD)],
        env=env,
        check=True,
        cwd=ROOT,
    )
    port = free_port()  # chosen just before gunicorn binds it, so nothing else takes it first
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
        assert gunicorn.poll() is None, _errors(gunicorn)
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


# --- Two app hosts behind a real nginx ------------------------------------------------

NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream livits {{ server {a}:8000; server {b}:8000; }}
    server {{
        listen 127.0.0.1:{port};
        proxy_set_header Host $http_host;
        # overwrite, never append what the client sent (docs/deployment.md)
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto https;
        add_header X-Upstream $upstream_addr always;  # which host answered (tests only)
        location / {{ proxy_pass http://livits; }}
        location /hosts/a/ {{ proxy_pass http://{a}:8000/; }}  # one host, for the tests
        location /hosts/b/ {{ proxy_pass http://{b}:8000/; }}
    }}
}}
"""


SBIN_PATH = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"  # nginx and ip live there


def _run(*command):
    return subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "PATH": SBIN_PATH}
    )


class Host:
    """An app host: a network namespace of its own, joined to this one by a veth pair,
    running gunicorn; it reaches PostgreSQL and Redis through relays the test can cut."""

    def __init__(self, name, subnet):
        self.name = name
        self.outside = f"{subnet}.1"  # this namespace's end: where nginx comes from
        self.inside = f"{subnet}.2"  # the host's address, where gunicorn listens
        self.stranger = f"{subnet}.3"  # an address next to nginx's, but not nginx
        self.gunicorn = None
        self.stopping = False

    def create(self):
        outer, inner = f"{self.name}o", f"{self.name}i"
        inside = ["ip", "netns", "exec", self.name]
        for command in (
            ["ip", "netns", "add", self.name],
            ["ip", "link", "add", outer, "type", "veth", "peer", "name", inner],
            ["ip", "link", "set", inner, "netns", self.name],
            ["ip", "addr", "add", f"{self.outside}/24", "dev", outer],
            ["ip", "addr", "add", f"{self.stranger}/24", "dev", outer],
            ["ip", "link", "set", outer, "up"],
            [*inside, "ip", "addr", "add", f"{self.inside}/24", "dev", inner],
            [*inside, "ip", "link", "set", inner, "up"],
            [*inside, "ip", "link", "set", "lo", "up"],
        ):
            result = _run(*command)
            if result.returncode:
                raise OSError(f"{' '.join(command)}: {result.stderr.strip()}")

    def destroy(self):
        _run("ip", "netns", "del", self.name)
        _run("ip", "link", "del", f"{self.name}o")

    def start(self, env):
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self.gunicorn = subprocess.Popen(
            [shutil.which("ip", path=SBIN_PATH), "netns", "exec", self.name, gunicorn]
            + ["livits.wsgi", "-w", "2"]
            + ["-b", f"{self.inside}:8000", "--graceful-timeout", "2", "--no-control-socket"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stop(self):
        """Ask gunicorn to stop (its graceful shutdown takes up to --graceful-timeout)."""
        if self.gunicorn and self.gunicorn.poll() is None and not self.stopping:
            self.gunicorn.terminate()
            self.stopping = True

    def stopped(self):
        self.stop()
        if self.gunicorn:
            self.gunicorn.wait(10)


def _errors(process):
    """What a server that stopped said on its standard error."""
    return process.stderr.read() if process and process.stderr else ""


def _stopped(process):
    if process.poll() is None:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="session")
def two_hosts(tmp_path_factory):
    """Debian's nginx (127.0.0.1) in front of two gunicorn hosts, each in a network
    namespace of its own, sharing PostgreSQL and a Redis through relays the test can cut;
    MFA_TRUSTED_PROXIES holds nginx's addresses only. The office is 127.0.0.2/32."""
    import psycopg

    _require(shutil.which("redis-server"), "redis-server is not installed")
    nginx_binary = shutil.which("nginx", path=SBIN_PATH)
    _require(nginx_binary, "nginx is not installed (the Debian package nginx)")
    assert nginx_binary is not None
    _require(
        os.geteuid() == 0
        and shutil.which("ip", path=SBIN_PATH)
        and _run("ip", "netns", "list").returncode == 0,
        "network namespaces cannot be made here (this needs root and iproute2's ip)",
    )
    try:
        socket.create_connection(PG, timeout=2).close()
    except OSError:
        _require(False, "PostgreSQL does not answer at 127.0.0.1:5432")
    tmp = tmp_path_factory.mktemp("two-hosts")
    tag, subnet = os.getpid() % 10000, 10 + os.getpid() % 240
    hosts = [Host(f"lv{tag}a", f"10.{subnet}.1"), Host(f"lv{tag}b", f"10.{subnet}.2")]
    with contextlib.ExitStack() as cleanup:
        for host in hosts:
            cleanup.callback(host.destroy)
            try:
                host.create()
            except OSError as error:
                _require(False, f"network namespaces cannot be made here: {error}")
        database = f"livits_hosts_{os.getpid()}"
        admin = psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True)
        cleanup.callback(admin.close)
        admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
        admin.execute(f'CREATE DATABASE "{database}"')
        cleanup.callback(admin.execute, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        redis_port = free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        cleanup.callback(_stopped, redis)
        relays = {}
        for host in hosts:
            for service, target in (("pg", PG), ("redis", ("127.0.0.1", redis_port))):
                relays[(host.name, service)] = Forwarder(target, listen=host.outside)
                cleanup.callback(relays[(host.name, service)].close)
        secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        base = {
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "MFA_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "MFA_TRUSTED_PROXIES": ",".join(f"{host.outside}/32" for host in hosts),
            "SECURE_HTTPS": "1",
            "STATIC_ROOT": str(tmp / "static"),
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "DB_CONN_MAX_AGE": "60",
        }
        local = {
            **base,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        }
        manage = [sys.executable, str(ROOT / "manage.py")]
        seed = SEED.replace(
            '("race", "throttled", "proxied", "redis", "pgdown", "lockrace", "sinterklaas")',
            '("race", "throttled", "office")',
        ).replace('network="203.0.113.0/24"', 'network="127.0.0.2/32"')
        subprocess.run(
            manage + ["shell", "--no-imports", "-c", seed.format(secret=secret, password=PASSWORD)],
            env=local,
            check=True,
            cwd=ROOT,
        )
        for host in hosts:
            relay = {service: relays[(host.name, service)].port for service in ("pg", "redis")}
            host.start(
                {
                    **base,
                    "DATABASE_URL": f"postgres://postgres@{host.outside}:{relay['pg']}/{database}",
                    "REDIS_URL": f"redis://{host.outside}:{relay['redis']}/0",
                }
            )
            cleanup.callback(host.stopped)
        for host in hosts:  # both shut down at once, not one after the other
            cleanup.callback(host.stop)
        port = free_port()
        (tmp / "nginx.conf").write_text(
            NGINX_CONF.format(tmp=tmp, port=port, a=hosts[0].inside, b=hosts[1].inside)
        )
        nginx = subprocess.Popen(
            [nginx_binary, "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        cleanup.callback(_stopped, nginx)
        deadline = time.monotonic() + 45
        while not all(_healthy(port, f"/hosts/{letter}/healthz") for letter in "ab"):
            for process in (nginx, *[host.gunicorn for host in hosts]):
                assert process is not None and process.poll() is None, _errors(process)
            assert time.monotonic() < deadline, "the hosts did not come up behind nginx"
            time.sleep(0.3)

        def query(sql, *params):
            url = f"postgresql://postgres@127.0.0.1:5432/{database}"
            with psycopg.connect(url) as connection:
                return connection.execute(sql, params).fetchall()

        yield {"port": port, "secret": secret, "hosts": hosts, "relays": relays, "query": query}


def _healthy(port, path):
    try:
        return Client(port).get(path)[0] == 200
    except OSError:
        return False
