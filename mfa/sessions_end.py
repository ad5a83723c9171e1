"""Ending all of a person's sessions, or all but the current one, by the person, a
beheerder or the break-glass command: the session epoch (mfa.factors.sessions_end_all)
with the audit record and, for a beheerder's act, the mail to the person."""

from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext

from accounts.models import User
from audit.models import AuditEvent

from . import factors
from .notify import local_moment, notify

Action = AuditEvent.Action


def sessions_end_others(*, user: User, by: User, ip: str | None, now: datetime) -> None:
    """The person ends every session but the one they act from: all end (the session
    epoch), and the view keeps its own (mfa.middleware.session_keep)."""
    with transaction.atomic():
        factors.sessions_end_all(
            user=user,
            by=by,
            ip=ip,
            now=now,
            reason="ended_by_person",
            action=Action.OTHER_SESSIONS_ENDED,
        )


def sessions_end_by_admin(*, user: User, by: User, ip: str | None, now: datetime) -> None:
    """A beheerder ends every session of `user` ("Alle sessies beëindigen"); the person
    gets a mail."""
    with transaction.atomic():
        factors.sessions_end_all(user=user, by=by, ip=ip, now=now, reason="ended_by_admin")
        notify(
            user,
            gettext("Livits: you were signed out everywhere"),
            gettext(
                "An administrator ended all your sessions on %(when)s: you are signed out in "
                "every browser. Sign in again to continue. Did you not expect this? Contact "
                "your administrator."
            )
            % {"when": local_moment(now)},
        )


def sessions_end_break_glass(*, user: User, now: datetime) -> None:
    """`manage.py mfa endsessions`: every session of `user` ends, recorded sessions or not."""
    with transaction.atomic():
        factors.sessions_end_all(user=user, by=None, ip=None, now=now, reason="break_glass")
