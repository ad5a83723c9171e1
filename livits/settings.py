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
    # First: its changepassword and createsuperuser commands (audited) take the place of
    # django.contrib.auth's.
    "accounts",
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
    "django_tasks",
    "django_tasks_db",
    "audit",
    "mfa",
    "reports",
    "outbox",
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
    "livits.middleware.action_opened",
    "mfa.middleware.session_guard",
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
    # up to 20 s for another process's lock instead of failing with "database is
    # locked"; the server's own writers queue in the order they came (livits/sqlite:
    # SQLite's wait is no queue, and under a burst one writer starved past the timeout).
    DATABASES["default"]["ENGINE"] = "livits.sqlite"
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Tests: Django's default in-memory database, said explicitly, since test runners
    # recognise the SQLite engine by its stock name only (pytest-django's xdist suffix).
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
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
# Permissions and the session's user only: nobody is authenticated by a password alone
# (the login decision lives in mfa; see accounts/backends.py).
AUTHENTICATION_BACKENDS = ["accounts.backends.PermissionsOnlyBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# Length over composition, a blocklist, no forced periodic changes (NIST SP 800-63B).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Links that set a password (accounts.passwords): one the person asks for on the login
# page ("Wachtwoord vergeten") is valid this long, one a beheerder sends this long.
# PASSWORD_RESET_TIMEOUT is Django's outer bound for both.
PASSWORD_RESET_LINK_SECONDS = 60 * 60
PASSWORD_SET_LINK_SECONDS = 72 * 60 * 60
PASSWORD_RESET_TIMEOUT = max(PASSWORD_RESET_LINK_SECONDS, PASSWORD_SET_LINK_SECONDS)

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

# --- Outgoing mail ------------------------------------------------------------
# Every mail goes through the outbox (outbox/): written in the transaction of the change
# it reports, delivered by the worker (`manage.py db_worker`). Without EMAIL_HOST the
# worker prints mails on its console (development); with it, it speaks SMTP.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set EMAIL_USE_TLS (STARTTLS) or EMAIL_USE_SSL, not both.")
EMAIL_PORT = int(
    os.environ.get("EMAIL_PORT") or (465 if EMAIL_USE_SSL else 587 if EMAIL_USE_TLS else 25)
)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
# Seconds for each step of an SMTP conversation (connect, each command, the data).
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "livits@localhost")
# The outbox's delivery rules. A temporary failure (no connection, a timeout, a 4xx
# reply) is tried again after MAIL_RETRY_FIRST_SECONDS, doubling up to
# MAIL_RETRY_MAX_SECONDS, and marked failed only once the mail has waited
# MAIL_RETRY_HOURS; a 5xx reply to the recipient or the data marks it failed at once.
MAIL_RETRY_FIRST_SECONDS = 60
MAIL_RETRY_MAX_SECONDS = 3600
MAIL_RETRY_HOURS = 24
# A worker holds a mail for this long while it sends it. It outlasts every step of one
# SMTP conversation, so no second worker takes a mail that is still being sent.
MAIL_LEASE_SECONDS = 12 * EMAIL_TIMEOUT
# django-tasks (the backport of Django 6's django.tasks): tasks are rows in this
# database, taken by `manage.py db_worker`.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# --- Multi-factor authentication -------------------------------------------
# Every MFA knob is here, once; mfa/checks.py validates each of them at start-up
# (`manage.py check` names a wrong value and why).
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
# A browser in which a person signed in carries their mark (mfa/marks.py) this long,
# and has its own budget: after this many failures from it, that browser alone waits.
MFA_BROWSER_MARK_DAYS = 365
MFA_LOCK_AFTER_BROWSER = 5
# While MFA_LOCK_AFTER attempts of one name are being evaluated, a further one waits
# for its turn this long at most (then it is asked to try again; nothing is counted).
MFA_ATTEMPT_WAIT_SECONDS = 10
# Per client address (IPv4, or IPv6 /64): failed and refused logins allowed in one hour.
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
# Devices (authenticator apps) one person may link: at most 5, the slots the
# database has (mfa.models.MAX_DEVICES_CEILING).
MFA_MAX_DEVICES = 5
# Recovery codes in a new set: at most 10, the numbers the database has
# (mfa.models.RECOVERY_CODES_CEILING).
MFA_RECOVERY_CODES = 10
# TOTP steps of 30 s accepted either side of the current one, for clocks that drift:
# 0, 1 (RFC 6238 section 6 recommends at most one) or 2. The step (30 s) and the 6
# digits are not knobs: every linked app was set up with them (mfa/totp.py).
MFA_TOTP_WINDOW = 1
# The backoffice's address in every mail (links are never built from a request's Host
# header). The development default is where passkeys work too (localhost, not 127.0.0.1).
SITE_URL = os.environ.get("SITE_URL", f"http://localhost:{os.environ.get('PORT', '8000')}")
SITE_URL = SITE_URL.rstrip("/")
