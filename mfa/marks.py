"""Browser marks: OWASP's device cookies against lock-out as a weapon.

After any successful sign-in the browser gets a mark of that person: a DeviceMark
record, named in a signed, HttpOnly cookie. One cookie holds the marks of the few
people who sign in on that browser (a shared office PC). At a login the mark of the
named person counts only if its record still exists (the person can forget it); then
the attempt is counted in that browser's own budget (mfa/throttle.py), so failures sent
from anywhere else can never lock the owner's marked browser.
"""

import secrets
from collections.abc import Mapping
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

from accounts.models import User

from .models import DeviceMark
from .throttle import throttle_key

COOKIE = "livits_browser"
_SALT = "livits.mfa.browser-mark"
# A shared browser keeps the marks of its most recent users.
MAX_MARKS_PER_BROWSER = 10
USER_AGENT_LENGTH = DeviceMark._meta.get_field("user_agent").max_length or 300

# canonical username -> (mark id, token)
Marks = Mapping[str, tuple[int, str]]


def _max_age() -> int:
    return settings.MFA_BROWSER_MARK_DAYS * 24 * 3600


def cookie_marks(request: HttpRequest) -> dict[str, tuple[int, str]]:
    """The marks this browser carries; none when the cookie is absent, old or forged."""
    raw = request.COOKIES.get(COOKIE)
    if not raw:
        return {}
    try:
        entries = signing.loads(raw, salt=_SALT, max_age=_max_age())
    except signing.BadSignature:
        return {}
    marks: dict[str, tuple[int, str]] = {}
    if not isinstance(entries, list):
        return marks
    for entry in entries[:MAX_MARKS_PER_BROWSER]:
        if (
            isinstance(entry, list)
            and len(entry) == 3
            and isinstance(entry[0], str)
            and isinstance(entry[1], int)
            and isinstance(entry[2], str)
        ):
            marks[entry[0]] = (entry[1], entry[2])
    return marks


def mark_of(marks: Marks, key: str) -> DeviceMark | None:
    """The person's mark that this browser carries, if its record still exists."""
    entry = marks.get(key)
    if entry is None:
        return None
    mark_id, token = entry
    return DeviceMark.objects.filter(
        pk=mark_id, token=token, user__in=User.objects.named(key)
    ).first()


def mark_seen(*, user: User, mark: DeviceMark | None, user_agent: str, now: datetime) -> DeviceMark:
    """After a successful sign-in: the browser's mark of `user`, made when it had none."""
    if mark is not None and mark.user_id == user.pk:
        DeviceMark.objects.filter(pk=mark.pk).update(last_seen_at=now)
        mark.last_seen_at = now
        return mark
    return DeviceMark.objects.create(
        user=user,
        token=secrets.token_urlsafe(32),
        user_agent=user_agent[:USER_AGENT_LENGTH],
        first_seen_at=now,
        last_seen_at=now,
    )


def cookie_keep(response: HttpResponse, request: HttpRequest, user: User, mark: DeviceMark) -> None:
    """Write the browser's cookie with `user`'s mark first (most recent first)."""
    marks = cookie_marks(request)
    name = throttle_key(user.username)
    marks.pop(name, None)
    entries: list[list[object]] = [[name, mark.pk, mark.token]]
    entries += [[name, pk, token] for name, (pk, token) in marks.items()]
    response.set_cookie(
        COOKIE,
        signing.dumps(entries[:MAX_MARKS_PER_BROWSER], salt=_SALT, compress=True),
        max_age=_max_age(),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
