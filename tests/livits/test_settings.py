"""Production settings: refuse to start half-configured, pass `check --deploy` clean."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.db import OperationalError
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "k" * 10 + "Q7w!x2#LmZ9pR4tV8yB1nC6dF3gH5jK0sA+eU_iO-" * 2,
    "ALLOWED_HOSTS": "livits.example.org",
    "MFA_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "DATABASE_URL": "sqlite:////tmp/livits-deploy-check.sqlite3",
}


def manage(*args, **env):
    environment = {
        k: v for k, v in os.environ.items() if k not in PRODUCTION and not k.startswith("DJANGO_")
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_check_deploy_passes_without_warnings_in_production():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_proxy_ssl_header_only_with_trusted_proxies():
    code = "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)"
    assert manage("shell", "-c", code, **PRODUCTION).stdout.splitlines()[-1] == "None"
    behind_proxy = manage("shell", "-c", code, MFA_TRUSTED_PROXIES="10.0.0.0/8", **PRODUCTION)
    assert behind_proxy.stdout.splitlines()[-1] == "('HTTP_X_FORWARDED_PROTO', 'https')"


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "MFA_ENCRYPTION_KEYS"])
def test_debug_off_refuses_to_start_without(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = manage("check", **env)
    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr


def test_every_page_has_a_strict_content_security_policy(client, db):
    policy = client.get(reverse("accounts:login"))["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'self'" in policy
    assert "unsafe-inline" not in policy and "http" not in policy
    assert client.get("/nope/")["Content-Security-Policy"] == policy


def test_no_page_has_inline_script_or_style(admin_client, linked_user):
    for url in (
        "/",
        reverse("accounts:person_list"),
        reverse("mfa:enrol"),
        reverse("mfa:settings"),
    ):
        html = admin_client.get(url).content.decode()
        assert "<script>" not in html and "<style" not in html and " style=" not in html
        assert "onclick" not in html


def test_login_padlock_and_link_pages_are_not_cached(admin_client, client, system_user):
    assert "no-store" in client.get(reverse("accounts:login"))["Cache-Control"]
    assert "no-store" in admin_client.get(reverse("mfa:enrol"))["Cache-Control"]
    link = admin_client.get(reverse("mfa:admin_link", args=[system_user.person.pk]))
    assert "no-store" in link["Cache-Control"]


def test_healthz(client, db, settings):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.content == b"ok\n"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    from django.core.cache import caches

    caches._settings = None  # type: ignore[attr-defined]  # Django's own reset of CACHES
    response = client.get("/healthz")
    assert response.status_code == 503 and response.content == b"unavailable\n"


@pytest.mark.parametrize(
    ("error", "status", "page"),
    [
        (
            OperationalError("connection to server at 10.0.0.1 failed"),
            503,
            b"Even niet beschikbaar",
        ),
        (ValueError("secret detail at 10.0.0.1"), 500, b"Er ging iets mis"),
    ],
)
def test_failures_give_the_house_page_without_detail(client, db, monkeypatch, error, status, page):
    """A database that cannot be reached is a 503; anything else a 500. Neither says more."""

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr("accounts.views.render", broken)
    client.raise_request_exception = False
    response = client.get(reverse("accounts:login"))
    assert response.status_code == status
    assert page in response.content
    assert (
        b"10.0.0.1" not in response.content
        and type(error).__name__.encode() not in response.content
    )
