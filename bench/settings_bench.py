"""Settings for bench/login.py: the backoffice plus django-two-factor-auth and a stock
Django LoginView, side by side in one process, with the same middleware."""

from bench.settings_serving import *  # noqa: F403
from livits.settings import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "formtools",
    "two_factor",
]
MIDDLEWARE = [
    *MIDDLEWARE[: MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1],
    "django_otp.middleware.OTPMiddleware",
    *MIDDLEWARE[MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1 :],
]
ROOT_URLCONF = "bench.urls_bench"
# bench/login.py picks the hasher per login; MD5 measures the work outside the hash.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]
LOGIN_URL = "two_factor:login"
# The baselines are stock Django's and django-two-factor-auth's logins, which authenticate
# with a password through ModelBackend; ours never does (accounts/backends.py), and is
# measured through its own view, which calls no backend.
AUTHENTICATION_BACKENDS = [
    "accounts.backends.PermissionsOnlyBackend",
    "django.contrib.auth.backends.ModelBackend",
]
