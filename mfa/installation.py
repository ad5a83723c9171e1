"""Installation-wide MFA settings kept in the database: the issuer name shown in the
authenticator app, and re-encrypting every secret under the first key of
MFA_ENCRYPTION_KEYS. Each change is recorded."""

from django.db import transaction

from accounts.models import User
from audit.models import AuditEvent
from audit.services import audit

from . import crypto, totp
from .models import Device, MfaSettings

Action = AuditEvent.Action


@transaction.atomic
def issuer_set(*, issuer: str, by: User, ip: str | None) -> None:
    mfa_settings = MfaSettings.load()
    old = mfa_settings.issuer_name
    mfa_settings.issuer = totp.issuer_clean(issuer)
    mfa_settings.save(update_fields=["issuer"])
    audit(
        action=Action.ISSUER_CHANGED,
        actor=by,
        ip=ip,
        data={"old": old, "new": mfa_settings.issuer_name},
    )


@transaction.atomic
def secrets_reencrypt() -> int:
    """Re-encrypt every secret with the first key of MFA_ENCRYPTION_KEYS."""
    count = 0
    for device in Device.objects.select_for_update().only("pk", "secret_encrypted"):
        Device.objects.filter(pk=device.pk).update(
            secret_encrypted=crypto.reencrypt(device.secret_encrypted)
        )
        count += 1
    audit(action=Action.KEYS_ROTATED, data={"count": count})
    return count
