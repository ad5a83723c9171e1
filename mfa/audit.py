"""Writing the audit trail: one function, used by every service that changes MFA or accounts."""

from collections.abc import Mapping
from datetime import UTC, datetime

from accounts.models import User

from .models import AuditEvent
from .network import address_block


def audit(
    *,
    action: str,
    subject: User | None = None,
    actor: User | None = None,
    ip: str | None = None,
    data: Mapping[str, object] | None = None,
    subject_name: str = "",
    at: datetime | None = None,
) -> AuditEvent:
    fields = {"at": at} if at else {}
    return AuditEvent.objects.create(
        action=action,
        subject=subject,
        subject_name=subject_name or (subject.username if subject else ""),
        actor=actor,
        ip=ip,
        ip_block=address_block(ip) or "",
        data=dict(data or {}),
        **fields,
    )


def iso(moment: datetime | None) -> str | None:
    """A moment as audit data: ISO 8601 in UTC."""
    return moment.astimezone(UTC).isoformat() if moment else None
