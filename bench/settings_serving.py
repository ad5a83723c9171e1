"""Settings for the benchmarks that serve the backoffice alone (bench/reports.py): the
production settings with DEBUG off, static files straight from the finders (no
`collectstatic` run needed)."""

from livits.settings import *  # noqa: F403

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
