from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef

from accounts.models import User

from .models import AuditEvent, Device, LoginThrottle


def users_without_device(now):
    """Active system users who could not log in after go-live."""
    return (
        User.objects.filter(is_active=True)
        .exclude(Exists(Device.objects.active(now).filter(user=OuterRef("pk"))))
        .select_related("person")
        .order_by("person__last_name", "person__first_name", "username")
    )


def devices_of(user):
    return list(Device.objects.filter(user=user).select_related("linked_by__person"))


def user_tab(user, now, *, history_page=None, page_size=10):
    """What the CRM user tab shows about a system user's MFA."""
    devices = devices_of(user)
    active = [device for device in devices if not device.is_expired(now)]
    history = AuditEvent.objects.filter(subject=user).select_related("actor__person")
    return {
        "mfa_devices": devices,
        "mfa_linked": bool(active),
        "mfa_lock": LoginThrottle.objects.filter(
            key=user.username.lower(), locked_until__gt=now
        ).first(),
        "mfa_history": Paginator(history, page_size).get_page(history_page),
    }
