"""The embedded default (`make run`: the threaded development server on SQLite) under
what a small association throws at it: many logins at once, never a 5xx."""

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mfa import totp
from tests.helpers import at_once
from tests.http_client import Client

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Gedeeld-wachtwoord-42"
USERS = 50
# One process sets the database up, seeds it and serves it, with its clock
# (livits.clock.now) stopped at MOMENT: a login that a busy machine keeps waiting is
# still decided within the step its code was made for.
MOMENT = datetime(2026, 11, 25, 10, 0, 15, tzinfo=UTC)
SERVE = """
import os
import sys
from datetime import datetime, timedelta
os.environ["DJANGO_SETTINGS_MODULE"] = "livits.settings"
import django
django.setup()
from django.contrib.auth.hashers import make_password
from django.core.management import call_command, execute_from_command_line
from accounts.models import Person, User
from livits import clock
from mfa import devices, totp
moment = datetime.fromisoformat("{moment}")
clock.now = lambda: moment
call_command("migrate", verbosity=0)
call_command("createcachetable")
past = moment - timedelta(minutes=5)
password = make_password("{password}")
for name in ["shared"] + [f"load{{i}}" for i in range({count})]:
    person = Person.objects.create(first_name=name, last_name="Load")
    user = User.objects.create(username=name, person=person, password=password)
    code = totp.code_at_step("{secret}", totp.step_at(past))
    devices.device_link(user=user, secret="{secret}", code=code, by=user, ip=None, now=past)
execute_from_command_line(["manage.py", "runserver", sys.argv[1], "--noreload"])
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory):
    database = tmp_path_factory.mktemp("embedded") / "db.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(DEBUG="1", DATABASE_URL=f"sqlite:///{database}")
    secret = totp.new_secret()
    serve = SERVE.format(password=PASSWORD, count=USERS, secret=secret, moment=MOMENT.isoformat())
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", serve, f"127.0.0.1:{port}"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600  # only against a hang: a busy machine starts slowly
    while True:
        try:
            if Client(port, scheme="http").get("/healthz")[0] == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline and server.poll() is None, "runserver did not start"
        time.sleep(0.3)
    yield port, secret
    server.terminate()
    server.wait(10)


def all_at_once(port, logins):
    """POST every (username, code) login at the same moment; their HTTP statuses. A busy
    machine may make them slow, never fail: the answer is awaited as long as a person would."""
    clients = [Client(port, scheme="http", timeout=600) for _ in logins]
    tokens = [client.login_form() for client in clients]

    def submit(index):
        username, code = logins[index]
        try:
            return clients[index].post_login(tokens[index], username, PASSWORD, code)[0]
        except OSError as error:
            return repr(error)

    return at_once(submit, len(clients))


def test_fifty_simultaneous_logins_all_succeed(dev_server):
    port, secret = dev_server
    code = totp.code_at_step(secret, totp.step_at(MOMENT))
    statuses = all_at_once(port, [(f"load{i}", code) for i in range(USERS)])
    assert statuses == [302] * USERS


def test_twelve_simultaneous_logins_with_one_code_let_exactly_one_in(dev_server):
    port, secret = dev_server
    code = totp.code_at_step(secret, totp.step_at(MOMENT) + 1)
    statuses = all_at_once(port, [("shared", code)] * 12)
    assert statuses.count(302) == 1 and statuses.count(200) == 11, statuses


def test_the_database_runs_in_wal_mode_with_a_busy_timeout(dev_server, tmp_path):
    probe = "from django.db import connection; c = connection.cursor(); " + "; ".join(
        f"print(c.execute('PRAGMA {pragma}').fetchone()[0])"
        for pragma in ("journal_mode", "synchronous", "busy_timeout")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'probe.sqlite3'}")
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "--no-imports", "-c", probe],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split()[-3:] == ["wal", "1", "20000"]  # synchronous=NORMAL is 1
