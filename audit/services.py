"""Writing the audit trail: one function, used by every service that changes MFA or accounts.

Every record also goes to the application log as one JSON object on one line (logger
"livits.audit"), once its transaction commits, so that a SIEM can collect the trail.
The line holds what the record holds, and audit records never hold a secret or a code.
"""

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.db import transaction

from livits.addresses import address_block

from .models import AuditEvent

if TYPE_CHECKING:  # the type only: at run time the user is settings.AUTH_USER_MODEL
    from accounts.models import User

logger = logging.getLogger("livits.audit")


def audit(
    *,
    action: str,
    subject: "User | None" = None,
    actor: "User | None" = None,
    ip: str | None = None,
    data: Mapping[str, object] | None = None,
    subject_name: str = "",
    at: datetime | None = None,
) -> AuditEvent:
    fields = {"at": at} if at else {}
    event = AuditEvent.objects.create(
        action=action,
        subject=subject,
        subject_name=subject_name or (subject.username if subject else ""),
        actor=actor,
        ip=ip,
        ip_block=address_block(ip) or "",
        data=dict(data or {}),
        **fields,
    )
    line = json_line(event)
    transaction.on_commit(lambda: logger.info(line))
    return event


def json_line(event: AuditEvent) -> str:
    """The record as one line of JSON (control characters escaped: no line of its own)."""
    return json.dumps(
        {
            "at": iso(event.at),
            "id": event.pk,
            "action": event.action,
            "subject": event.subject_name,
            "actor": event.actor.username if event.actor else None,
            "ip": event.ip,
            "data": event.data,
        },
        default=str,
        sort_keys=True,
    )


def iso(moment: datetime | None) -> str | None:
    """A moment as audit data: ISO 8601 in UTC."""
    return moment.astimezone(UTC).isoformat() if moment else None
