"""Trusted locations: networks from which a linked device's code is not asked at login
(manual 3.1). Kept on MFA-instellingen; every change is recorded."""

from django.db import IntegrityError, transaction

from accounts.models import User
from audit.models import AuditEvent
from audit.services import audit

from . import network
from .errors import MfaError
from .models import TrustedLocation

Action = AuditEvent.Action


def usable_networks(stored: list[str]) -> list[str]:
    """The stored networks today's rule accepts (network.trusted_network): one stored
    before a rule existed (say, an IPv6 range holding all of IPv4) trusts nobody; it
    stays in the table, listed as refused by `manage.py mfa status`."""
    usable = []
    for value in stored:
        try:
            network.trusted_network(value)
        except ValueError:
            continue
        usable.append(value)
    return usable


def is_trusted_location(ip: str | None) -> bool:
    stored = list(TrustedLocation.objects.values_list("network", flat=True))
    return network.ip_in_networks(ip, usable_networks(stored))


@transaction.atomic
def trusted_location_save(
    *, location: TrustedLocation, by: User | None, ip: str | None
) -> TrustedLocation:
    creating = location.pk is None
    try:
        with transaction.atomic():
            location.save()
    except IntegrityError:
        raise MfaError("network_taken") from None
    change = "added" if creating else "changed"
    audit(
        action=Action.TRUSTED_LOCATION_CHANGED,
        actor=by,
        ip=ip,
        data={"change": change, "name": location.name, "network": location.network},
    )
    return location


@transaction.atomic
def trusted_location_remove(*, location: TrustedLocation, by: User | None, ip: str | None) -> None:
    TrustedLocation.objects.filter(pk=location.pk).delete()
    audit(
        action=Action.TRUSTED_LOCATION_CHANGED,
        actor=by,
        ip=ip,
        data={"change": "removed", "name": location.name, "network": location.network},
    )
