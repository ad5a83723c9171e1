"""Writing the audit trail: one function, used by every service that changes MFA or accounts."""

from .models import AuditEvent


def audit(*, action, subject=None, actor=None, ip=None, data=None, subject_name="", at=None):
    fields = {"at": at} if at else {}
    return AuditEvent.objects.create(
        action=action,
        subject=subject,
        subject_name=subject_name or (subject.username if subject else ""),
        actor=actor,
        ip=ip,
        data=data or {},
        **fields,
    )
