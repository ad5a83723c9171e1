"""TOTP devices: linking, naming, removing, expiring, and consuming a device's code once.

A person has at most MFA_MAX_DEVICES devices, each in a numbered slot (the database's
constraint holds the ceiling). A code is accepted only for a step later than the last
one accepted for its device: one conditional UPDATE decides, also between simultaneous
logins. Every change is followed through by mfa.factors (MFA created/changed, and when
the last factor ends: recovery codes and sessions), recorded and mailed to the person.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import User
from audit.models import AuditEvent
from audit.services import audit, iso

from . import crypto, totp
from .errors import MfaError
from .factors import factors_changed, factors_of, has_mfa, last_way_in_guard
from .models import Device, Passkey
from .notify import local_moment, notify

Action = AuditEvent.Action
Named = TypeVar("Named", Device, Passkey)  # a person's device or passkey


def code_consume(devices: Iterable[Device], code: str, now: datetime) -> tuple[Device | None, bool]:
    """(device, replayed): the device whose code this is, consuming its step once.

    A code is accepted only for a step later than the last one accepted for that
    device; the conditional UPDATE makes that true under concurrency too.
    """
    normalized = totp.normalize_code(code)
    if normalized is None:
        return None, False
    for device in devices:
        step = totp.matching_step(device.secret, normalized, now, window=settings.MFA_TOTP_WINDOW)
        if step is not None:
            won = Device.objects.filter(pk=device.pk, last_used_step__lt=step).update(
                last_used_step=step, last_used_at=now
            )
            return device, not won
    return None, False


def _device_name(devices: Iterable[Device], slot: int) -> str:
    taken = {device.name for device in devices}
    number = slot
    while _("Device %(number)s") % {"number": number} in taken:
        number += 1
    return _("Device %(number)s") % {"number": number}


@transaction.atomic
def device_link(
    *,
    user: User,
    secret: str,
    code: str,
    by: User | None,
    ip: str | None,
    now: datetime,
    expires_at: datetime | None = None,
    only_if_unlinked: bool = False,
) -> Device:
    """Link the authenticator holding `secret`, proven by a current `code`.

    A beheerder links for someone else only while that person has no MFA (manual
    4.1: unlink first), so `only_if_unlinked` refuses a stale page.
    """
    normalized = totp.normalize_code(code)
    window = settings.MFA_TOTP_WINDOW
    step = totp.matching_step(secret, normalized, now, window=window) if normalized else None
    if step is None:
        raise MfaError("invalid_code")
    user = User.objects.select_for_update().get(pk=user.pk)  # one link at a time per user
    factors = factors_of(user, now=now)
    if factors.expired:
        devices_expire(user=user, ip=ip, now=now)
    if only_if_unlinked and factors.any:
        raise MfaError("already_has_mfa")
    devices = factors.apps
    if any(device.secret == secret for device in devices):
        raise MfaError("already_linked")
    free = sorted(set(range(1, settings.MFA_MAX_DEVICES + 1)) - {device.slot for device in devices})
    if not free:
        raise MfaError("too_many_devices")
    device = Device.objects.create(
        user=user,
        slot=free[0],
        name=_device_name(devices, free[0]),
        secret_encrypted=crypto.encrypt(secret),
        linked_at=now,
        linked_by=by,
        last_used_step=step,  # the code that linked the device cannot also log in
        expires_at=expires_at,
    )
    factors_changed(user, by=by, ip=ip, now=now, reason="linked")
    data = {"device": device.name, "via_admin": by is not None and by.pk != user.pk}
    if expires_at:
        data["until"] = iso(expires_at)
    audit(action=Action.DEVICE_LINKED, subject=user, actor=by, ip=ip, data=data, at=now)
    notify(
        user,
        _("Livits: a device was linked to your account"),
        _("A device (%(name)s) was linked for multi-factor authentication on %(when)s.")
        % {"name": device.name, "when": local_moment(now)},
    )
    return device


# What removing one device or passkey records and mails: (action, audit data key, subject,
# body with %(name)s and %(when)s).
REMOVALS: dict[type[Device] | type[Passkey], tuple[str, str, str, str]] = {
    Device: (
        Action.DEVICE_REMOVED,
        "device",
        gettext_noop("Livits: a device was removed from your account"),
        gettext_noop(
            "A device (%(name)s) was removed from multi-factor authentication on %(when)s."
        ),
    ),
    Passkey: (
        Action.PASSKEY_REMOVED,
        "passkey",
        gettext_noop("Livits: a passkey was removed from your account"),
        gettext_noop("A passkey (%(name)s) was removed from your account on %(when)s."),
    ),
}


@transaction.atomic
def factor_remove(
    *,
    thing: Named,
    by: User,
    ip: str | None,
    now: datetime,
    keep_last_after_go_live: bool = False,
) -> None:
    """Remove one device or passkey. With `keep_last_after_go_live`, refuse when it would
    leave the person without MFA after the go-live (decided after the delete, in the same
    lock). What follows (codes, sessions) is mfa.factors'; recorded and mailed."""
    user = User.objects.select_for_update().get(pk=thing.user_id)
    deleted, _rows = type(thing).objects.filter(pk=thing.pk).delete()
    if not deleted:
        raise MfaError("gone")
    if keep_last_after_go_live:
        last_way_in_guard(user, now)  # rolls the delete back
    factors_changed(user, by=by, ip=ip, now=now, reason="removed")
    action, key, subject, body = REMOVALS[type(thing)]
    audit(action=action, subject=user, actor=by, ip=ip, data={key: thing.name}, at=now)
    notify(user, _(subject), _(body) % {"name": thing.name, "when": local_moment(now)})


def device_remove(*, device: Device, by: User, ip: str | None, now: datetime) -> None:
    factor_remove(thing=device, by=by, ip=ip, now=now)


@transaction.atomic
def device_unlink_all(
    *,
    user: User,
    by: User | None,
    ip: str | None,
    now: datetime,
    reason: str = "",
    spare_temporary: bool = False,
) -> int:
    """Remove every app and passkey of `user` (manual 4.1, 4.3): with them go the recovery
    codes and every session of the person (mfa.factors.factors_changed). The CRM's unlink
    button spares the sessions signed in with an app a beheerder linked
    (`spare_temporary`, manual 4.3: there the person links their own app); the shell's
    break glass spares none."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not has_mfa(user, now):
        raise MfaError("not_linked")
    names = list(Device.objects.filter(user=user).values_list("name", flat=True))
    names += list(Passkey.objects.filter(user=user).values_list("name", flat=True))
    Device.objects.filter(user=user).delete()
    Passkey.objects.filter(user=user).delete()
    factors_changed(user, by=by, ip=ip, now=now, reason="unlinked", spare_temporary=spare_temporary)
    data = {"devices": names, **({"reason": reason} if reason else {})}
    audit(action=Action.UNLINKED_ALL, subject=user, actor=by, ip=ip, data=data, at=now)
    notify(
        user,
        _("Livits: MFA was unlinked from your account"),
        _(
            "An administrator unlinked multi-factor authentication from your account on %(when)s. "
            "Link your authenticator app again through the padlock in Livits."
        )
        % {"when": local_moment(now)},
    )
    return len(names)


@transaction.atomic
def devices_expire(*, user: User, ip: str | None, now: datetime) -> int:
    """Remove temporary devices whose end date has passed, recording the expiry."""
    expired = list(Device.objects.select_for_update().filter(user=user, expires_at__lte=now))
    if not expired:
        return 0
    Device.objects.filter(pk__in=[device.pk for device in expired]).delete()
    for device in expired:
        audit(
            action=Action.DEVICE_EXPIRED,
            subject=user,
            ip=ip,
            data={"device": device.name, "ended": iso(device.expires_at)},
            at=now,
        )
    factors_changed(user, by=None, ip=ip, now=now, reason="expired")
    return len(expired)


def devices_expire_everyone(now: datetime) -> tuple[int, int]:
    """devices_expire for every person with a temporary device whose end has passed (the
    person's next request removes it too; one who never comes back keeps it until this
    runs): the devices removed and the persons they belonged to. Each person's in a
    transaction of their own."""
    ended = Device.objects.ended(now).order_by().values_list("user_id", flat=True).distinct()
    removed = persons = 0
    for user in User.objects.filter(pk__in=list(ended)).order_by("pk"):
        count = devices_expire(user=user, ip=None, now=now)
        removed, persons = removed + count, persons + bool(count)
    return removed, persons


def rename(thing: Named, name: str, *, by: User, ip: str | None, action: str) -> Named:
    """A person's device or passkey gets a new name, unique among theirs (the database's
    constraint decides), with an audit record of both names."""
    old = thing.name
    if old == name:
        return thing
    try:
        with transaction.atomic():
            type(thing).objects.filter(pk=thing.pk).update(name=name)
            audit(
                action=action, subject=thing.user, actor=by, ip=ip, data={"old": old, "new": name}
            )
    except IntegrityError:
        raise MfaError("name_taken") from None
    thing.name = name
    return thing


def device_rename(*, device: Device, name: str, by: User, ip: str | None) -> Device:
    return rename(device, name, by=by, ip=ip, action=Action.DEVICE_RENAMED)
