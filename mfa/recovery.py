"""Recovery codes: a set of one-time codes that stand in for a device's code, from
anywhere, each used once.

The pure part first: a code is 10 characters from the 31 letters and digits that
cannot be mistaken for one another (no 0/O, no 1/I/L), drawn with `secrets`: 31^10,
about 2^49.5 possibilities. Shown as XXXXX-XXXXX; read back with or without the dash,
in any case, with spaces anywhere. Stored only as an HMAC (`digest`).

Then the writes: a new set replaces the old one; a code is consumed by one conditional
UPDATE, so two simultaneous uses of one code let one in.
"""

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils.translation import gettext as _

from accounts.models import User
from audit.models import AuditEvent
from audit.services import audit

from . import crypto
from .errors import MfaError
from .factors import has_mfa, recovery_invalidate
from .models import RecoveryCode
from .notify import local_moment, notify

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 10


def new_codes(count: int) -> list[str]:
    return ["".join(secrets.choice(ALPHABET) for _ in range(LENGTH)) for _ in range(count)]


def normalize(raw: str | None) -> str | None:
    """'abcde-fghjk', ' ABCDE FGHJK ' -> 'ABCDEFGHJK'; anything else -> None."""
    value = "".join((raw or "").split()).replace("-", "").upper()
    if len(value) == LENGTH and all(character in ALPHABET for character in value):
        return value
    return None


def shown(code: str) -> str:
    """'ABCDEFGHJK' -> 'ABCDE-FGHJK'."""
    return f"{code[: LENGTH // 2]}-{code[LENGTH // 2 :]}"


def digest(code: str, key: bytes) -> str:
    """The stored form of a code: HMAC-SHA256 under a server key. A fast keyed hash is
    right for random codes of ~50 bits; the key keeps a stolen table useless."""
    return hmac.new(key, code.encode("ascii"), hashlib.sha256).hexdigest()


# --- The user's set: writes and reads ------------------------------------------

Action = AuditEvent.Action


@transaction.atomic
def recovery_codes_make(*, user: User, ip: str | None, now: datetime) -> list[str]:
    """A new set of recovery codes for `user`; the old set stops working. The codes are
    returned to be shown once; only their HMACs are kept."""
    User.objects.select_for_update().filter(pk=user.pk).first()  # one new set at a time
    if not has_mfa(user, now):  # codes back up a factor: none without one
        raise MfaError("no_factor")
    recovery_invalidate(user, by=user, ip=ip, now=now)
    codes = new_codes(settings.MFA_RECOVERY_CODES)
    key = crypto.recovery_keys()[0]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, number=number, digest=digest(code, key), created_at=now)
        for number, code in enumerate(codes, start=1)
    )
    audit(
        action=Action.RECOVERY_MADE,
        subject=user,
        actor=user,
        ip=ip,
        data={"count": len(codes)},
        at=now,
    )
    return codes


def recovery_consume(user: User, code: str, ip: str | None, now: datetime) -> int | None:
    """Use one of the user's unused recovery codes, once: its number, or None.

    The conditional UPDATE decides between simultaneous uses of one code, as the
    TOTP replay guard does. Call inside a transaction.
    """
    normalized = normalize(code)
    if normalized is None:
        return None
    digests = [digest(normalized, key) for key in crypto.recovery_keys()]
    found = RecoveryCode.objects.filter(user=user, digest__in=digests, used_at__isnull=True).first()
    if found is None:
        return None
    if not RecoveryCode.objects.filter(pk=found.pk, used_at__isnull=True).update(used_at=now):
        return None
    audit(
        action=Action.RECOVERY_USED,
        subject=user,
        ip=ip,
        data={"number": found.number},
        at=now,
    )
    notify(
        user,
        _("Livits: a recovery code was used"),
        _(
            "Recovery code %(number)d of your set was used to log in to Livits on %(when)s. "
            "Lost your phone? Link a new authenticator app through the padlock and remove the "
            "old one. Was this not you? Tell an administrator at once."
        )
        % {"number": found.number, "when": local_moment(now)},
    )
    return found.number


class RecoveryStatus(TypedDict):
    total: int
    unused: int
    made: datetime | None


def recovery_status(user: User) -> RecoveryStatus:
    """How many of the user's recovery codes are unused, of how many, made when."""
    codes = RecoveryCode.objects.filter(user=user)
    status = codes.aggregate(
        total=Count("pk"),
        unused=Count("pk", filter=Q(used_at__isnull=True)),
        made=Max("created_at"),
    )
    return {"total": status["total"], "unused": status["unused"], "made": status["made"]}


def recovery_set_holds(user: User, codes: Sequence[str | None]) -> bool:
    """Whether every one of `codes` is in the user's current set of recovery codes."""
    keys = crypto.recovery_keys()
    digests = {digest(code, key) for code in codes if code for key in keys}
    found = RecoveryCode.objects.filter(user=user, digest__in=digests).count()
    return all(codes) and found == len(set(codes))
