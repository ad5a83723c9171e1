from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from accounts.models import User

from . import crypto, recovery
from .models import (
    AuditEvent,
    Device,
    LoginThrottle,
    MfaSettings,
    RecoveryCode,
    has_mfa_condition,
)

ADMIN_PERMISSIONS = ("link_device", "unlink_device")


def has_mfa(user: User, now: datetime) -> bool:
    """Whether `user` has MFA linked at `now`: has_mfa_condition, for one user."""
    return User.objects.filter(pk=user.pk).filter(has_mfa_condition(now)).exists()


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


def users_without_device(now: datetime) -> QuerySet[User]:
    """Active system users who could not log in after go-live: beheerders first."""
    return (
        User.objects.filter(is_active=True)
        .exclude(has_mfa_condition(now))
        .select_related("person")
        .order_by("person__last_name", "person__first_name", "username")
    )


def reminder_recipients(now: datetime, *, include_hidden: bool = False) -> QuerySet[User]:
    """Who a reminder to link an app is for: people who can log in, have no MFA and have
    an e-mail address; hidden system users only when asked."""
    users = (
        User.objects.filter(is_active=True)
        .exclude(person__email="")
        .exclude(has_mfa_condition(now))
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


def rollout_banner(user: User, now: datetime) -> dict[str, Any] | None:
    """The banner of a planned go-live for someone without MFA, or None."""
    go_live_at = MfaSettings.load().go_live_at
    if go_live_at is None or go_live_at <= now or has_mfa(user, now):
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


def devices_of(user: User) -> list[Device]:
    return list(Device.objects.filter(user=user).select_related("linked_by__person"))


def recovery_status(user: User) -> dict[str, Any]:
    """How many of the user's recovery codes are unused, of how many, made when."""
    codes = RecoveryCode.objects.filter(user=user)
    status = codes.aggregate(
        total=Count("pk"),
        unused=Count("pk", filter=Q(used_at__isnull=True)),
        made=Max("created_at"),
    )
    return {"total": status["total"], "unused": status["unused"], "made": status["made"]}


def recovery_set_holds(user: User, codes: list[str | None]) -> bool:
    """Whether every one of `codes` is in the user's current set of recovery codes."""
    keys = crypto.recovery_keys()
    digests = {recovery.digest(code, key) for code in codes if code for key in keys}
    found = RecoveryCode.objects.filter(user=user, digest__in=digests).count()
    return all(codes) and found == len(set(codes))


def lock_of(user: User, now: datetime) -> LoginThrottle | None:
    """The user's current login lock, or None."""
    return LoginThrottle.objects.filter(key=user.username_canonical, locked_until__gt=now).first()


def user_tab(
    user: User, now: datetime, *, history_page: str | None = None, page_size: int = 10
) -> dict[str, Any]:
    """What the CRM user tab shows about a system user's MFA."""
    history = AuditEvent.objects.filter(subject=user).select_related("actor__person")
    return {
        "mfa_devices": devices_of(user),
        "mfa_passkeys": list(user.passkeys.all()),
        "mfa_linked": has_mfa(user, now),
        "mfa_lock": lock_of(user, now),
        "recovery": recovery_status(user),
        "mfa_history": Paginator(history, page_size).get_page(history_page),
    }
