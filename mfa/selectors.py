"""What the pages show about one person's MFA: whether it is linked, their devices, and
the CRM user tab. Reads that belong to one capability live beside it (recovery_status
in mfa.recovery, locks_of in mfa.throttle, has_mfa in mfa.factors, the rollout's reads in
mfa.rollout)."""

from datetime import datetime
from typing import Any

from django.core.paginator import Paginator

from accounts.models import User
from audit.models import AuditEvent

from .factors import factors_of
from .models import Device
from .recovery import recovery_status
from .sessions import sessions_open
from .throttle import locks_of


def devices_of(user: User) -> list[Device]:
    return list(Device.objects.filter(user=user).select_related("linked_by__person"))


def user_tab(
    user: User, now: datetime, *, history_page: str | None = None, page_size: int = 10
) -> dict[str, Any]:
    """What the CRM user tab shows about a system user's MFA."""
    history = AuditEvent.objects.filter(subject=user).select_related("actor__person")
    return {
        "mfa_devices": devices_of(user),
        "mfa_passkeys": list(user.passkeys.all()),
        "mfa_linked": factors_of(user, now=now).any,
        "mfa_lock": locks_of(user, now),
        "recovery": recovery_status(user),
        "mfa_history": Paginator(history, page_size).get_page(history_page),
        "open_sessions": sessions_open(user, now),
    }
