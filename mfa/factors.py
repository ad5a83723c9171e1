"""Which ways in a person has, and which they may use now: the one decision.

A person's factors are
- their authenticator apps that are active now (no end, or an end still ahead: a
  beheerder's temporary access counts until it ends),
- their passkeys, while MFA-instellingen allows passkeys,
- their recovery codes, which back up the others: they count only while at least one
  other factor exists, and they are voided when the last one ends.
A trusted location (the office network) stands in for the second factor of a person who
has one; a person without any factor signs in with the password alone, and only before
the go-live.

The login, step-up, the go-live guard, the padlock page, the user tab and the reports
all ask this module. Python and SQL share one definition: `has_factor_condition` is the
ORM condition, and `factors_of` reads its `any` through that same condition.

When a factor ends in any way (temporary access expires, the person removes it, a
beheerder unlinks, `mfa unlink`, passkeys are switched off), the service that ended it
calls `factors_changed`: if no factor is left, the person's recovery codes are voided
and their sessions end, both audited.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import models
from django.db.models import Count, ExpressionWrapper, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from accounts.models import User

from . import locations
from .audit import audit
from .errors import MfaError
from .models import AuditEvent, Device, MfaSettings, Passkey, RecoveryCode

Action = AuditEvent.Action


def has_factor_condition(now: datetime, user: str = "pk") -> Q:
    """ "Has MFA" as a condition on system users: an active app, or a passkey while
    passkeys are allowed. `user` names the system user's primary key in the outer query."""
    app = models.Exists(Device.objects.active(now).filter(user=OuterRef(user)))
    passkey = models.Exists(Passkey.objects.filter(user=OuterRef(user)))
    allowed = models.Exists(MfaSettings.objects.filter(pk=1, passkeys_allowed=True))
    return Q(app) | (Q(passkey) & Q(allowed))


@dataclass(frozen=True)
class Factors:
    """A person's ways in at one moment, from one client address."""

    apps: tuple[Device, ...]  # active authenticator apps (their secrets check codes)
    expired: tuple[Device, ...]  # temporary apps whose end has passed, still to be removed
    passkeys: int  # passkeys that may sign in now (0 while passkeys are not allowed)
    recovery_unused: int  # unused recovery codes, whatever the other factors
    trusted_location: bool  # the client is in a trusted location (asked only with a factor)
    live: bool  # MFA has gone live: nobody gets in without a factor
    any: bool  # has at least one factor other than recovery codes ("has MFA")

    @property
    def recovery(self) -> bool:
        """Whether a recovery code may stand in for the person's factor now."""
        return self.any and self.recovery_unused > 0

    @property
    def password_alone(self) -> bool:
        """Whether the password alone signs this person in: no factor, before go-live."""
        return not self.any and not self.live

    @property
    def code_suffices(self) -> bool:
        """Whether the Toegangscode field can carry this person's second factor: an access
        code of an app, or a recovery code. A passkey-only person signs in with the passkey."""
        return bool(self.apps) or self.recovery


def factors_of(user: User, *, now: datetime, ip: str | None = None) -> Factors:
    """The factors `user` has at `now` and may use from `ip` (two queries, a third for
    the trusted locations when the person has a factor and an address is given)."""
    settings_row = MfaSettings.objects.filter(pk=1)
    counts = (
        User.objects.filter(pk=user.pk)
        .annotate(
            has_factor=ExpressionWrapper(
                has_factor_condition(now), output_field=models.BooleanField()
            ),
            passkey_count=Coalesce(
                Subquery(
                    Passkey.objects.filter(user=OuterRef("pk"))
                    .values("user")
                    .annotate(n=Count("pk"))
                    .values("n")
                ),
                0,
            ),
            recovery_unused=Coalesce(
                Subquery(
                    RecoveryCode.objects.filter(user=OuterRef("pk"), used_at__isnull=True)
                    .values("user")
                    .annotate(n=Count("pk"))
                    .values("n")
                ),
                0,
            ),
            passkeys_allowed=Subquery(settings_row.values("passkeys_allowed")),
            go_live_at=Subquery(settings_row.values("go_live_at")),
        )
        .values("has_factor", "passkey_count", "recovery_unused", "passkeys_allowed", "go_live_at")
        .first()
    )
    if counts is None:  # deleted meanwhile: no way in
        return Factors((), (), 0, 0, False, True, False)
    devices = list(Device.objects.filter(user=user))
    has_factor = bool(counts["has_factor"])
    return Factors(
        apps=tuple(device for device in devices if not device.is_expired(now)),
        expired=tuple(device for device in devices if device.is_expired(now)),
        passkeys=counts["passkey_count"] if counts["passkeys_allowed"] else 0,
        recovery_unused=counts["recovery_unused"],
        trusted_location=bool(ip) and has_factor and locations.is_trusted_location(ip),
        live=MfaSettings(go_live_at=counts["go_live_at"]).is_live(now),
        any=has_factor,
    )


def has_mfa(user: User, now: datetime) -> bool:
    """Whether `user` has a factor at `now` (has_factor_condition, for one user)."""
    return User.objects.filter(pk=user.pk).filter(has_factor_condition(now)).exists()


def last_way_in_guard(user: User, now: datetime) -> None:
    """After the go-live nobody removes their own last factor: called after the delete,
    in the same transaction, so that the refusal rolls it back."""
    if not has_mfa(user, now) and MfaSettings.load().is_live(now):
        raise MfaError("last_device_after_go_live")


def recovery_invalidate(
    user: User, *, by: User | None, ip: str | None, now: datetime, reason: str = ""
) -> int:
    """Delete the user's current set (call inside a transaction); recorded if there was one,
    with why (mfa.models.END_REASONS) when it went with the person's last factor."""
    deleted, _rows = RecoveryCode.objects.filter(user=user).delete()
    if deleted:
        audit(
            action=Action.RECOVERY_INVALIDATED,
            subject=user,
            actor=by,
            ip=ip,
            data={"count": deleted, **({"reason": reason} if reason else {})},
            at=now,
        )
    return deleted


def factors_changed(
    user: User, *, by: User | None, ip: str | None, now: datetime, reason: str
) -> bool:
    """Follow a change of `user`'s factors through: keep MFA_aangemaakt/MFA_gewijzigd, and
    when no factor is left, void the recovery codes and end every session of the person.
    Returns whether the person has no factor left. Call inside the change's transaction."""
    linked = has_mfa(user, now)
    _mfa_dates(user, linked, now)
    if linked:
        return False
    recovery_invalidate(user, by=by, ip=ip, now=now, reason=reason)
    spare = reason == "unlinked"  # manual 4.3: the temporary access's session links the app
    sessions_end_all(user=user, by=by, ip=ip, now=now, reason=reason, spare_temporary=spare)
    return True


def sessions_end_all(
    *,
    user: User,
    by: User | None,
    ip: str | None,
    now: datetime,
    reason: str,
    spare_temporary: bool = False,
) -> None:
    """End every session of `user` at its next request, on every worker and host: the
    session's auth hash includes the person's session epoch (accounts.models.User), which
    is read from the database on every request, so no cached session survives the raise.
    A view that should keep its own session re-stamps it (mfa.middleware.session_keep).

    `spare_temporary` (a beheerder's unlink): sessions signed in with an app a beheerder
    linked for the person go on (manual 4.3); the guard ends the others (unlink epoch)."""
    epoch = "unlink_epoch" if spare_temporary else "session_epoch"
    User.objects.filter(pk=user.pk).update(**{epoch: F(epoch) + 1})
    user.refresh_from_db(fields=[epoch])
    data = {"reason": reason, **({"spare_temporary": True} if spare_temporary else {})}
    audit(action=Action.SESSIONS_ENDED, subject=user, actor=by, ip=ip, data=data, at=now)


def _mfa_dates(user: User, linked: bool, now: datetime) -> None:
    """MFA_aangemaakt while linked (from the first link), MFA_gewijzigd on every later change."""
    if linked and user.mfa_created_at is None:
        user.mfa_created_at = now
        if user.mfa_changed_at is not None:
            user.mfa_changed_at = now
    else:
        user.mfa_changed_at = now
        if not linked:
            user.mfa_created_at = None
    User.objects.filter(pk=user.pk).update(
        mfa_created_at=user.mfa_created_at, mfa_changed_at=user.mfa_changed_at
    )


def passkeys_switched(*, allowed: bool, by: User, ip: str | None, now: datetime) -> int:
    """Passkeys were allowed or not (already saved, same transaction): every person whose
    factors changed with it, those with passkeys and no active app, follows through: off,
    they lost their last factor. Returns how many persons."""
    apps = models.Exists(Device.objects.active(now).filter(user=OuterRef("pk")))
    affected = User.objects.filter(passkeys__isnull=False).exclude(apps).distinct()
    count = 0
    for user in affected:
        factors_changed(
            user, by=by, ip=ip, now=now, reason="passkeys_on" if allowed else "passkeys_off"
        )
        count += 1
    return count
