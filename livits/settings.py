"""Settings for the Livits backoffice, read from the environment.

Development needs nothing: `make run` and `make test` export DEBUG=1, which
allows a built-in development secret and a SQLite file in the project folder.
With DEBUG off, SECRET_KEY and ALLOWED_HOSTS must come from the environment.
"""

import os
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from xstatic.pkg import bootstrap as xstatic_bootstrap  # type: ignore[import-untyped]

BASE_DIR = Path(__file__).resolve().parent.parent

# Generic classes of Django (ModelForm[Person], ModelAdmin[User]) for type checking.
django_stubs_ext.monkeypatch()


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "development-only-secret-key-never-use-in-production-3f9c2a7e"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
if not ALLOWED_HOSTS and not DEBUG:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "livits",  # before WhiteNoise: its runserver (livits/management) wraps WhiteNoise's
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "accounts",
    "mfa",
    "reports",
]

MIDDLEWARE = [
    "livits.middleware.proxy_headers",
    "livits.middleware.security_headers",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "mfa.middleware.go_live_guard",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "livits.urls"
WSGI_APPLICATION = "livits.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "mfa.context_processors.rollout",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # PostgreSQL's JIT compiler spent most of a report's time compiling (bench/reports.py);
    # an export's one sorted pass at a million persons needs nodes of up to ~21 MB (sorts
    # of ~12 MB, hashes of ~21 MB with the default hash_mem_multiplier 2), which spilled
    # to disk at the default 4 MB (docs/deployment.md); kept connections are checked
    # before use, so a restarted server costs one error less.
    DATABASES["default"]["OPTIONS"] = {"options": "-c jit=off -c work_mem=32MB"}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default under concurrent requests: readers never wait for the
    # writer (WAL), every transaction takes the write lock when it begins
    # (IMMEDIATE, so none has to upgrade a read lock and fail), and a writer waits
    # up to 20 s for the lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that is gone must cost a request little: sessions fall back to
            # the database (livits/sessions.py) and /healthz reports it.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    SESSION_ENGINE = "livits.sessions"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "livits_cache",
        }
    }

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", "Nederlands"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# One date format per language (livits/formats/<language>/formats.py).
FORMAT_MODULE_PATH = ["livits.formats"]
TIME_ZONE = "Europe/Amsterdam"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static", ("bootstrap", xstatic_bootstrap.BASE_DIR)]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Production serves hashed, compressed files from `collectstatic`;
    # development and tests serve straight from the finders.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(8 * 3600)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Production is served over HTTPS only (behind a TLS-terminating proxy, see
# docs/deployment.md). SECURE_HTTPS=0 serves plain HTTP, e.g. `make serve-prod`
# on a laptop; never in production.
SECURE_HTTPS = env_bool("SECURE_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
LANGUAGE_COOKIE_SECURE = SECURE_HTTPS
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = SECURE_HTTPS
SECURE_HSTS_SECONDS = 365 * 24 * 3600 if SECURE_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HTTPS
SECURE_HSTS_PRELOAD = SECURE_HTTPS
# Only a trusted reverse proxy may say that the original request was HTTPS.
SECURE_PROXY_SSL_HEADER = None  # set below, with MFA_TRUSTED_PROXIES
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "livits@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# --- Multi-factor authentication -------------------------------------------
# The name authenticator apps show for this installation (MFA-instellingen can
# override it per installation).
MFA_ISSUER = os.environ.get("MFA_ISSUER", "Livits")
# Fernet keys for TOTP secrets at rest: the first encrypts, all decrypt. Rotate
# by putting a new key first, then `python manage.py mfa reencrypt`.
MFA_ENCRYPTION_KEYS = env_list("MFA_ENCRYPTION_KEYS")
if not MFA_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured("MFA_ENCRYPTION_KEYS must be set when DEBUG is off.")
# Reverse proxies (CIDRs) whose X-Forwarded-For is believed; empty: none.
MFA_TRUSTED_PROXIES = env_list("MFA_TRUSTED_PROXIES")
if MFA_TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Per account: after this many consecutive failures, each attempt waits
# 2^(n - MFA_LOCK_AFTER) seconds, at most MFA_LOCK_MAX_SECONDS.
MFA_LOCK_AFTER = 5
MFA_LOCK_MAX_SECONDS = 15 * 60
# An attempt that reached the lock is evaluated alone; should its request die
# half-way, the account name is free again after this many seconds.
MFA_ATTEMPT_SECONDS = 60
# Per client IP: failed logins allowed in one hour.
MFA_IP_FAILURES_PER_HOUR = 100
# How long a re-entered password and code allow linking or removing a device.
MFA_STEP_UP_SECONDS = 5 * 60
# Passkeys (WebAuthn): the relying party is the site's domain (an IP address such as
# 127.0.0.1 is not a valid RP ID), and the origins the browser may sign for. Passkeys
# are off until a beheerder allows them on MFA-instellingen.
MFA_WEBAUTHN_RP_ID = os.environ.get("MFA_WEBAUTHN_RP_ID", "localhost")
MFA_WEBAUTHN_ORIGINS = env_list(
    "MFA_WEBAUTHN_ORIGINS", f"http://localhost:{os.environ.get('PORT', '8000')}"
)
# A WebAuthn challenge is used once, within this many seconds.
MFA_WEBAUTHN_CHALLENGE_SECONDS = 5 * 60
# A person is reminded to link an app at most once in this many hours.
MFA_REMINDER_INTERVAL_HOURS = 24
# In the last days before a planned go-live the banner cannot be hidden.
MFA_BANNER_FIXED_DAYS = 7
# The backoffice's address in mails sent from the shell (`mfa remind`); mails sent
# from a page use the address the page was opened at.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
