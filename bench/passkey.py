"""A passkey sign-in against a password + access code sign-in, server side, same run.

In one process, interleaved, through one reused Django test client handler (all
middleware, no network), with the production hasher (Argon2):
- code: GET /login/ + POST username, password and access code;
- passkey: POST the options + POST the signed assertion ("Inloggen met passkey").
The assertion is signed by a software authenticator between the two requests; that
time (the browser's and the device's) is not counted. The passkey path checks no
password, so it should cost a fraction of the code path.
Usage: .venv/bin/python bench/passkey.py [--logins N]
"""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _django import print_table, setup  # noqa: E402

PASSWORD = "Bench-wachtwoord-2026"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logins", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("MFA_WEBAUTHN_ORIGINS", "http://localhost:8000")
    (Path(__file__).resolve().parent / ".data" / "passkey.sqlite3").unlink(missing_ok=True)
    setup("passkey.sqlite3")

    from django.contrib.auth.hashers import make_password
    from django.test import Client
    from django.utils import timezone

    from accounts.models import Person, User
    from mfa import devices, passkeys, totp
    from mfa.models import MfaSettings
    from tests.webauthn_soft import SoftAuthenticator

    MfaSettings.objects.update_or_create(pk=1, defaults={"passkeys_allowed": True})
    password = make_password(PASSWORD)
    authenticator = SoftAuthenticator(origin="http://localhost:8000")
    secret = totp.new_secret()
    users = []
    for number in range(args.logins + 1):
        person = Person.objects.create(first_name="Bench", last_name=str(number))
        user = User.objects.create(username=f"pk{number}", person=person, password=password)
        past = timezone.now() - timedelta(minutes=2)
        devices.device_link(
            user=user,
            secret=secret,
            code=totp.code_at_step(secret, totp.step_at(past)),
            by=user,
            ip=None,
            now=past,
        )
        options, challenge = passkeys.passkey_register_options(user=user, now=timezone.now())
        passkeys.passkey_add(
            user=user,
            credential=authenticator.create(options),
            challenge=challenge,
            name="Bench",
            ip=None,
            now=timezone.now(),
        )
        users.append((user, list(authenticator.credentials)[-1]))

    client = Client(REMOTE_ADDR="198.51.100.7")  # one handler for every request

    def with_code(user):
        client.cookies.clear()
        start = time.perf_counter()
        client.get("/login/")
        code = totp.code_at_step(secret, totp.step_at(timezone.now()))
        response = client.post(
            "/login/", {"username": user.username, "password": PASSWORD, "code": code}
        )
        elapsed = time.perf_counter() - start
        assert response.status_code == 302, response.content[:300]
        return elapsed

    def with_passkey(credential_id):
        client.cookies.clear()
        start = time.perf_counter()
        options = client.post("/mfa/passkey-login/options/").json()["options"]
        server = time.perf_counter() - start
        assertion = authenticator.get(options, credential_id=credential_id)  # the device
        start = time.perf_counter()
        response = client.post(
            "/mfa/passkey-login/", json.dumps({"credential": assertion}), "application/json"
        )
        server += time.perf_counter() - start
        assert response.status_code == 200, response.content[:300]
        return server

    with_code(users[-1][0])  # warm up both paths once
    with_passkey(users[-1][1])
    code_ms: list[float] = []
    passkey_ms: list[float] = []
    for number, (user, credential_id) in enumerate(users[:-1]):
        pair = [
            ("code", lambda u=user: with_code(u)),
            ("passkey", lambda c=credential_id: with_passkey(c)),
        ]
        for name, run in pair if number % 2 else reversed(pair):
            (code_ms if name == "code" else passkey_ms).append(run() * 1000)
    code, passkey = statistics.median(code_ms), statistics.median(passkey_ms)
    rows = [
        ("sign-in with password + access code", code, "ms", None, None),
        (
            "sign-in with a passkey (options + assertion)",
            passkey,
            "ms",
            "password + code",
            passkey / code,
        ),
    ]
    print_table(f"bench/passkey.py: median server time of one sign-in, {args.logins} each", rows)


if __name__ == "__main__":
    main()
