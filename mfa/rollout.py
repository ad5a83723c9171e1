"""The rollout: the go-live moment, who it would lock out, the banner before it, and
the reminders to link an app.

Nobody may lock themselves out by setting a go-live (`go_live_set`). Reminders are
safe to repeat and to run twice at once: each person is claimed with one conditional
UPDATE before the mail goes out.
"""

from datetime import datetime, timedelta
from typing import TypedDict

from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import User
from audit.models import AuditEvent
from audit.services import audit, iso
from outbox.services import mail_queue

from .errors import MfaError
from .factors import ROLLOUT_FIGURE_KEY, has_factor_condition, has_mfa
from .models import MfaSettings, moment_in_range

Action = AuditEvent.Action


ADMIN_PERMISSIONS = ("link_device", "unlink_device")


def mfa_admins() -> QuerySet[User]:
    """Active users who may link or unlink MFA for others: the beheerders."""
    permissions = Permission.objects.filter(
        content_type__app_label="mfa", codename__in=ADMIN_PERMISSIONS
    )
    return (
        User.objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(user_permissions__in=permissions)
            | Q(groups__permissions__in=permissions)
        )
        .distinct()
    )


def rollout_population() -> QuerySet[User]:
    """Whom the rollout is about: the system users who may log in (the rollout figure,
    the go-live preview and the reminders all count these)."""
    return User.objects.filter(is_active=True)


def users_without_device(now: datetime) -> QuerySet[User]:
    """Active system users who could not log in after go-live: beheerders first."""
    return (
        rollout_population()
        .exclude(has_factor_condition(now))
        .select_related("person")
        .order_by("person__last_name", "person__first_name", "username")
    )


def reminder_recipients(now: datetime, *, include_hidden: bool = False) -> QuerySet[User]:
    """Who a reminder to link an app is for: people who can log in, have no MFA and have
    an e-mail address; hidden system users only when asked."""
    users = (
        rollout_population()
        .exclude(person__email="")
        .exclude(has_factor_condition(now))
        .select_related("person")
        .order_by("person__last_name", "person__first_name", "pk")
    )
    return users if include_hidden else users.filter(is_hidden=False)


def reminder_due(now: datetime) -> Q:
    """Not reminded in the last MFA_REMINDER_INTERVAL_HOURS: may be reminded at `now`."""
    since = now - timedelta(hours=settings.MFA_REMINDER_INTERVAL_HOURS)
    return Q(mfa_reminded_at__isnull=True) | Q(mfa_reminded_at__lte=since)


def reminders_due(now: datetime, *, include_hidden: bool = False) -> QuerySet[User]:
    return reminder_recipients(now, include_hidden=include_hidden).filter(reminder_due(now))


class Banner(TypedDict):
    at: datetime
    days: int
    fixed: bool  # the last days before the go-live: it cannot be hidden


def rollout_banner(user: User, now: datetime, mfa_settings: MfaSettings) -> Banner | None:
    """The banner of a planned go-live for someone without MFA, or None."""
    go_live_at = mfa_settings.go_live_at
    if go_live_at is None or mfa_settings.is_live(now) or has_mfa(user, now):
        return None
    days = (timezone.localdate(go_live_at) - timezone.localdate(now)).days
    return {
        "at": go_live_at,
        "days": days,
        "fixed": days < settings.MFA_BANNER_FIXED_DAYS,  # the last days: it cannot be hidden
    }


def go_live_preview(now: datetime) -> tuple[list[User], list[User]]:
    """Who the go-live would lock out: (beheerders, everyone else), each without MFA."""
    without = list(users_without_device(now))
    admins = set(mfa_admins().values_list("pk", flat=True))
    return (
        [user for user in without if user.pk in admins],
        [user for user in without if user.pk not in admins],
    )


def rollout(now: datetime) -> tuple[int, int]:
    """(linked, total) over the rollout's population, in one aggregate query."""
    figures = rollout_population().aggregate(
        total=Count("pk"), linked=Count("pk", filter=has_factor_condition(now))
    )
    return int(figures["linked"]), int(figures["total"])


# Counting the figure means a probe per system user (200,000 at a million persons): too
# much for every view of a page. It is kept ROLLOUT_FIGURE_SECONDS and forgotten when a
# person's factors change (mfa.factors.factors_changed, on commit); the lifetime covers
# what no factor change announces (a temporary app's end passing, a system user made,
# deactivated or deleted).
ROLLOUT_FIGURE_SECONDS = 60


def rollout_figure(now: datetime) -> tuple[int, int]:
    """rollout(now), as counted less than ROLLOUT_FIGURE_SECONDS ago."""
    figures = cache.get(ROLLOUT_FIGURE_KEY)
    if figures is None:
        figures = rollout(now)
        cache.set(ROLLOUT_FIGURE_KEY, figures, ROLLOUT_FIGURE_SECONDS)
    linked, total = figures
    return int(linked), int(total)


@transaction.atomic
def go_live_set(
    *, at: datetime | None, by: User | None, ip: str | None, now: datetime, forced: bool = False
) -> None:
    """Set the go-live moment (None: not live).

    Nobody may lock themselves out: a beheerder sets a go-live only with MFA of
    their own, and the shell (`by` None) only while at least one user who can link
    MFA for others has it. `forced` is the shell's break glass, recorded as such.
    """
    if at is not None and not moment_in_range(at):
        raise MfaError("go_live_out_of_range")
    if at is not None and not forced:
        if by is not None and not has_mfa(by, now):
            raise MfaError("go_live_without_own_mfa")
        if by is None and not mfa_admins().filter(has_factor_condition(now)).exists():
            raise MfaError("go_live_without_admin_mfa")
    MfaSettings.load()
    MfaSettings.objects.filter(pk=1).update(go_live_at=at)
    data = {"at": iso(at), **({"forced": True} if forced else {})}
    audit(action=Action.GO_LIVE_CHANGED, actor=by, ip=ip, data=data, at=now)


def reminders_send(
    *,
    by: User | None,
    now: datetime,
    site_url: str,
    language: str,
    include_hidden: bool = False,
) -> int:
    """Remind everyone without MFA who is due (selectors.reminders_due), one mail each.

    Safe to repeat and to run twice at once: each person is claimed with one
    conditional UPDATE before the mail goes out, so nobody gets two mails within
    MFA_REMINDER_INTERVAL_HOURS. Returns how many mails were sent.
    """
    due = list(reminders_due(now, include_hidden=include_hidden))
    go_live_at = MfaSettings.load().go_live_at
    sent = sum(
        _remind(user, by=by, now=now, go_live_at=go_live_at, site_url=site_url, language=language)
        for user in due
    )
    audit(
        action=Action.REMINDERS_BATCH,
        actor=by,
        data={"sent": sent, "due": len(due), "include_hidden": include_hidden},
        at=now,
    )
    return sent


@transaction.atomic
def _remind(
    user: User,
    *,
    by: User | None,
    now: datetime,
    go_live_at: datetime | None,
    site_url: str,
    language: str,
) -> bool:
    """Claim the person (one conditional UPDATE) and queue the mail in the same transaction:
    the outbox delivers it, however long the mail server is away."""
    claim = User.objects.filter(reminder_due(now), pk=user.pk)
    if not claim.update(mfa_reminded_at=now):
        return False  # another batch has it
    subject, body = reminder_mail(user, go_live_at=go_live_at, site_url=site_url, language=language)
    mail_queue(to=user.person.email, subject=subject, body=body, now=now)
    audit(action=Action.REMINDER_SENT, subject=user, actor=by, at=now)
    return True


def reminder_mail(
    user: User | None, *, go_live_at: datetime | None, site_url: str, language: str
) -> tuple[str, str]:
    """The reminder to `user` of the go-live at `go_live_at`, in `language`: (subject,
    body). Without a user (nobody is due: the preview) it greets a placeholder, never the
    beheerder looking at it."""
    with translation.override(language):
        context = {
            "name": user.get_short_name() if user else translation.gettext("[name]"),
            "go_live_at": go_live_at,
            "url": site_url.rstrip("/") + reverse("mfa:enrol"),
        }
        subject = render_to_string("mfa/reminder_subject.txt", context).strip()
        return subject, render_to_string("mfa/reminder_mail.txt", context)
