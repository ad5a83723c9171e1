"""The rows of the Rechtenstructuur reports: one annotated query per page or export."""

from datetime import timedelta

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.models import User
from mfa.models import FAILURE_ACTIONS, AuditEvent, Device, LoginThrottle, has_mfa_condition

FILTERS = ("all", "linked", "unlinked", "via_admin")


def _count(queryset):
    """A correlated COUNT(*) subquery, 0 when there are no rows."""
    counted = queryset.order_by().values("user" if queryset.model is Device else "subject")
    counted = counted.annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def system_users(now, *, show="all", search="", order_by=("pk",), descending=False):
    """Every system user with what the reports show about their MFA and logins."""
    active = Device.objects.active(now).filter(user=OuterRef("pk"))
    via_admin = active.filter(linked_by__isnull=False).exclude(linked_by=OuterRef("pk"))
    failures = AuditEvent.objects.filter(
        subject=OuterRef("pk"), action__in=FAILURE_ACTIONS, at__gte=now - timedelta(days=30)
    )
    locked = LoginThrottle.objects.filter(key=OuterRef("username_canonical"), locked_until__gt=now)
    users = User.objects.select_related("person").annotate(
        mfa_linked=has_mfa_condition(now),
        device_count=_count(active),
        via_admin=Exists(via_admin),
        via_admin_until=Subquery(
            via_admin.order_by(F("expires_at").desc(nulls_first=True)).values("expires_at")[:1]
        ),
        failures_30d=_count(failures),
        locked_now=Exists(locked),
    )
    if show == "linked":
        users = users.filter(mfa_linked=True)
    elif show == "unlinked":
        users = users.filter(mfa_linked=False)
    elif show == "via_admin":
        users = users.filter(via_admin=True)
    for word in search.split():
        users = users.filter(
            Q(person__first_name__icontains=word)
            | Q(person__infix__icontains=word)
            | Q(person__last_name__icontains=word)
            | Q(username__icontains=word)
        )
    return users.order_by(
        *(
            F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)
            for name in order_by
        )
    )


def rollout(now):
    """(linked, total) over all system users, and the MFA settings, for the progress bar."""
    counts = User.objects.aggregate(
        total=Count("pk"), linked=Count("pk", filter=has_mfa_condition(now))
    )
    return counts["linked"], counts["total"]
