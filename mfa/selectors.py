from django.db.models import Exists, OuterRef

from accounts.models import User

from .models import Device


def users_without_device():
    """Active system users who could not log in after go-live."""
    return (
        User.objects.filter(is_active=True)
        .exclude(Exists(Device.objects.filter(user=OuterRef("pk"))))
        .select_related("person")
        .order_by("person__last_name", "person__first_name", "username")
    )


def devices_of(user):
    return list(Device.objects.filter(user=user).select_related("linked_by__person"))
