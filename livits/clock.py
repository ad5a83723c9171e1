"""The time every request decides by: one function, so that tests can move the
server's clock (say, to the next 30-second TOTP step) instead of sleeping."""

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
