"""The sessions a person has open: recorded at every sign-in, seen and ended by the person
(the "Sessies en browsers" page) and their beheerder (the CRM user tab).

The rule this module owns: a session record exists while its session may be open. It
is written when the session opens (mfa.middleware.sign_in) and deleted wherever the
session ends: logout, the end of one session here, and the end of all of a person's
sessions (mfa.factors.sessions_end_all, which also raises the session epoch; the
person's, the beheerder's and the command's ends of all sessions are mfa.sessions_end's).

The session key is a bearer secret. The record finds the current session by the key's
SHA-256 and keeps the key itself encrypted (mfa.crypto), only to delete the session from
Django's session store: database row and Redis cache entry alike, so that no cached
copy lives on on another worker or host. Ending one session refuses to go on when the
cache cannot be reached, rather than leave a copy there that would come back.

Last activity is written at most once a minute per session, never on every request: a
worker remembers when it last asked (no query in between), and the UPDATE's own
condition lets one write per minute through, whichever worker asks.
"""

import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import import_module

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.db import transaction
from django.http import HttpRequest
from ua_parser import parse

from accounts.models import User
from audit.models import AuditEvent
from audit.services import audit

from . import crypto
from .errors import MfaError
from .models import DeviceMark, UserSession

logger = logging.getLogger("livits.sessions")
Action = AuditEvent.Action
SEEN_EVERY = timedelta(minutes=1)
# When this worker last asked to record a session's activity (digest -> moment).
_asked: dict[str, datetime] = {}
_ASKED_MAX = 10_000


def key_digest(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()


@lru_cache(maxsize=512)
def browser_words(user_agent: str) -> str:
    """The browser and platform in words ("Firefox 128 · Windows 10"); "" when unknown."""
    result = parse(user_agent[:1000])
    parts = []
    if result.user_agent and result.user_agent.family != "Other":
        parts.append(" ".join(p for p in (result.user_agent.family, result.user_agent.major) if p))
    if result.os and result.os.family != "Other":
        parts.append(" ".join(p for p in (result.os.family, result.os.major) if p))
    return " · ".join(parts)[:200]


def session_record(
    *,
    user: User,
    session_key: str,
    method: str,
    via_admin: bool,
    user_agent: str,
    ip: str | None,
    signed_in_at: datetime,
    now: datetime,
) -> UserSession:
    """Record the session `session_key` that just opened (a new key: one INSERT)."""
    digest = key_digest(session_key)
    record = UserSession.objects.create(
        key_digest=digest,
        user=user,
        key_encrypted=crypto.encrypt(session_key),
        method=method,
        via_admin=via_admin,
        browser=browser_words(user_agent),
        ip=ip,
        signed_in_at=signed_in_at,
        last_seen_at=now,
    )
    _asked[digest] = now  # just written: this worker need not ask for a minute
    return record


def session_rekey(*, old_key: str | None, new_key: str) -> bool:
    """The session got a new key (Django's cycle_key): its record follows. False when
    there was no record of the old key."""
    if not old_key:
        return False
    return bool(
        UserSession.objects.filter(key_digest=key_digest(old_key)).update(
            key_digest=key_digest(new_key), key_encrypted=crypto.encrypt(new_key)
        )
    )


def activity_record(session_key: str, now: datetime) -> None:
    """Last activity, at most one write a minute per session (see the module docstring)."""
    digest = key_digest(session_key)
    asked = _asked.get(digest)
    if asked is not None and timedelta(0) <= now - asked < SEEN_EVERY:
        return
    if len(_asked) >= _ASKED_MAX:
        _asked.clear()
    _asked[digest] = now
    UserSession.objects.filter(key_digest=digest, last_seen_at__lte=now - SEEN_EVERY).update(
        last_seen_at=now
    )


def sessions_open(user: User, now: datetime, current_key: str | None = None) -> list[UserSession]:
    """The person's sessions that are open at `now` (the session store still holds them
    and they have not expired), the current one marked `is_current`."""
    records = list(UserSession.objects.filter(user=user))
    keys = {record.pk: _key(record) for record in records}
    live = set(
        Session.objects.filter(
            session_key__in=[key for key in keys.values() if key], expire_date__gt=now
        ).values_list("session_key", flat=True)
    )
    current = key_digest(current_key) if current_key else None
    shown = []
    for record in records:
        if keys[record.pk] in live:
            record.is_current = record.key_digest == current
            shown.append(record)
    return shown


def _key(record: UserSession) -> str | None:
    try:
        return crypto.decrypt(record.key_encrypted)
    except InvalidToken:  # encrypted under a key since retired: the session is long gone
        return None


def _store_delete(keys: Iterable[str], *, strict: bool) -> None:
    """Delete sessions from Django's session store: the database row and, with
    cached_db in production, the cache entry. `strict`: a cache that cannot be reached
    raises instead of being skipped."""
    engine = import_module(settings.SESSION_ENGINE)
    for key in keys:
        store = engine.SessionStore(key)
        prefix = getattr(store, "cache_key_prefix", None)
        if strict and prefix is not None:
            caches[settings.SESSION_CACHE_ALIAS].delete(prefix + key)
        store.delete(key)


def records_end(user: User, *, spare_temporary: bool = False) -> int:
    """End the recorded sessions of `user` (called by mfa.factors.sessions_end_all, in its
    transaction): records deleted now, the sessions deleted from the store once the change
    commits. The session epoch already ends them all; this clears them from the lists and
    the store. `spare_temporary`: sessions signed in with a beheerder's app go on."""
    records = UserSession.objects.filter(user=user)
    if spare_temporary:
        records = records.exclude(via_admin=True)
    keys = [key for key in map(_key, records) if key]
    deleted, _rows = records.delete()
    if keys:
        transaction.on_commit(lambda: _store_delete(keys, strict=False))
    return deleted


def session_end_one(*, record: UserSession, by: User, ip: str | None, now: datetime) -> None:
    """End one session now, on every worker and host (the person's own, or a beheerder's
    act). Refused (MfaError "sessions_unavailable") when the session cache is away."""
    key = _key(record)
    try:
        if key:
            _store_delete([key], strict=True)
    except Exception as error:  # noqa: BLE001 - any cache failure: nothing may be left behind
        logger.warning("session cache unavailable: session not ended")
        raise MfaError("sessions_unavailable") from error
    with transaction.atomic():
        if not UserSession.objects.filter(pk=record.pk).delete()[0]:
            return  # ended meanwhile
        reason = "ended_by_person" if by.pk == record.user_id else "ended_by_admin"
        data = {"reason": reason, "browser": record.browser, "address": record.ip or ""}
        audit(action=Action.SESSION_ENDED, subject=record.user, actor=by, ip=ip, data=data, at=now)


def session_logout(request: HttpRequest) -> None:
    """Log this session out (Django's logout), its record with it."""
    key = request.session.session_key
    if key:
        UserSession.objects.filter(key_digest=key_digest(key)).delete()
    logout(request)


def mark_forget(*, mark: DeviceMark, by: User, ip: str | None, now: datetime) -> bool:
    """Forget one of the person's browser marks (mfa.marks): that browser counts as one
    the person never used, at the next login and in the throttle. False: gone already.

    No step-up: forgetting only takes away (the browser loses its own lock budget and is
    announced as new at its next sign-in), it grants nothing; and a person who lost a
    laptop should not need their phone at hand to forget it. Audited."""
    with transaction.atomic():
        if not DeviceMark.objects.filter(pk=mark.pk, user=by).delete()[0]:
            return False
        data = {"browser": browser_words(mark.user_agent)}
        audit(action=Action.BROWSER_FORGOTTEN, subject=by, actor=by, ip=ip, data=data, at=now)
    return True


def marks_of(user: User) -> list[DeviceMark]:
    """The browsers carrying the person's mark, most recently seen first, in words."""
    marks = list(DeviceMark.objects.filter(user=user))
    for mark in marks:
        mark.browser = browser_words(mark.user_agent)  # type: ignore[attr-defined]
    return marks
