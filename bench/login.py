"""One complete login, server side: ours against stock Django and django-two-factor-auth.

In one process, interleaved, through Django's test client (all middleware, no network):
- ours: GET /login/ + one POST (username, password, access code), from an untrusted IP;
- stock: Django's LoginView, GET + POST (username, password; no second factor);
- theirs: django-two-factor-auth's login wizard, GET + POST (password) + POST (TOTP code).
Every login uses its own user and device, so no code is ever refused as a replay.
Usage: .venv/bin/python bench/login.py [--logins N]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings_bench"

from _django import print_table, setup  # noqa: E402

ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"
PBKDF2 = "django.contrib.auth.hashers.PBKDF2PasswordHasher"  # Django's out-of-the-box default
PASSWORD = "Bench-wachtwoord-2026"
ALGORITHMS = {ARGON2: "argon2", PBKDF2: "pbkdf2_sha256"}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logins", type=int, default=15, help="logins per variant")
    args = parser.parse_args()
    database = Path(__file__).resolve().parent / ".data" / "login.sqlite3"
    database.unlink(missing_ok=True)
    setup("login.sqlite3")

    from django.contrib.auth.hashers import make_password
    from django.test import Client, override_settings
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import Person, User
    from mfa import services, totp

    def make_user(name, hasher):
        person = Person.objects.create(first_name=name, last_name="Bench")
        user = User.objects.create_user(name, None, person=person)
        user.password = make_password(PASSWORD, hasher=ALGORITHMS[hasher])
        user.save(update_fields=["password"])
        return user

    def ours(user, secret):
        client = Client(REMOTE_ADDR="198.51.100.7")
        start = time.perf_counter()
        client.get("/login/")
        code = totp.code_at_step(secret, totp.step_at(timezone.now()))
        response = client.post(
            "/login/", {"username": user.username, "password": PASSWORD, "code": code}
        )
        elapsed = time.perf_counter() - start
        assert response.status_code == 302, response.content[:300]
        return elapsed, 1

    def stock(user, _secret):
        client = Client()
        start = time.perf_counter()
        client.get("/stock/login/")
        response = client.post("/stock/login/", {"username": user.username, "password": PASSWORD})
        elapsed = time.perf_counter() - start
        assert response.status_code == 302, response.content[:300]
        return elapsed, 1

    def theirs(user, secret):
        client = Client()
        start = time.perf_counter()
        client.get("/account/login/")
        client.post(
            "/account/login/",
            {
                "login_view-current_step": "auth",
                "auth-username": user.username,
                "auth-password": PASSWORD,
            },
        )
        code = totp.code_at_step(secret, totp.step_at(timezone.now()))
        response = client.post(
            "/account/login/", {"login_view-current_step": "token", "token-otp_token": code}
        )
        elapsed = time.perf_counter() - start
        assert response.status_code == 302, response.content[:300]
        return elapsed, 2

    def prepare(kind, index, hasher):
        user = make_user(f"{kind}-{ALGORITHMS[hasher]}-{index}", hasher)
        secret = totp.new_secret()
        if kind == "ours":
            past = timezone.now() - timezone.timedelta(minutes=2)
            code = totp.code_at_step(secret, totp.step_at(past))
            services.device_link(user=user, secret=secret, code=code, by=user, ip=None, now=past)
        elif kind == "theirs":
            import base64

            key = base64.b32decode(secret).hex()
            TOTPDevice.objects.create(user=user, name="default", key=key, confirmed=True)
        return user, secret

    runners = {"ours": ours, "stock": stock, "theirs": theirs}
    # (variant, kind, hasher): "same" uses Argon2 for everyone; "default" gives each
    # project the first hasher it ships with (ours: Argon2, Django's: PBKDF2).
    variants = [
        ("ours", "ours", ARGON2),
        ("stock", "stock", ARGON2),
        ("theirs", "theirs", ARGON2),
        ("theirs-default-hasher", "theirs", PBKDF2),
    ]
    prepared = {
        name: [prepare(kind, i, hasher) for i in range(args.logins)]
        for name, kind, hasher in variants
    }
    for kind, runner in runners.items():  # warm up every path once
        runner(*prepare(kind, "warm-up", ARGON2))

    samples = {name: [] for name, *_ in variants}
    trips = {}
    for i in range(args.logins):
        order = variants[i % len(variants) :] + variants[: i % len(variants)]
        for name, kind, hasher in order:
            hashers = [hasher, ARGON2, PBKDF2] if hasher == PBKDF2 else [ARGON2, PBKDF2]
            with override_settings(PASSWORD_HASHERS=hashers):
                elapsed, posts = runners[kind](*prepared[name][i])
            samples[name].append(elapsed * 1000)
            trips[name] = posts

    median = {name: statistics.median(values) for name, values in samples.items()}
    rows = [
        ("ours: complete login (password + code)", median["ours"], "ms", None, None),
        (
            "stock LoginView (password only), Argon2",
            median["stock"],
            "ms",
            "ours / stock",
            median["ours"] / median["stock"],
        ),
        (
            "django-two-factor-auth, Argon2",
            median["theirs"],
            "ms",
            "ours / theirs",
            median["ours"] / median["theirs"],
        ),
        (
            "django-two-factor-auth, its default PBKDF2",
            median["theirs-default-hasher"],
            "ms",
            "ours (Argon2) / theirs (PBKDF2)",
            median["ours"] / median["theirs-default-hasher"],
        ),
    ]
    print_table(f"bench/login.py: median server time of one login, {args.logins} each", rows)
    print(
        f"POST round trips per login: ours {trips['ours']}, stock {trips['stock']}, "
        f"django-two-factor-auth {trips['theirs']}"
    )


if __name__ == "__main__":
    main()
