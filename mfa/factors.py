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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from django.core.cache import cache
from django.db import models, transaction
from django.db.models import Count, ExpressionWrapper, F, OuterRef, Q, Subquery
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from accounts.models import User
from audit.models import AuditEvent
from audit.services import audit

from . import locations
from .errors import MfaError
from .models import Device, MfaSettings, Passkey, RecoveryCode
from .sessions import records_end

Action = AuditEvent.Action
ROLLOUT_FIGURE_KEY = "mfa:rollout-figure"  # mfa.rollout.rollout_figure, forgotten here


def has_factor_condition(
    now: datetime, user: str = "pk", among: Sequence[int] | RawSQL | None = None
) -> Q:
    """ "Has MFA" as a condition on system users: an active app, or a passkey while
    passkeys are allowed. `user` names the system user's primary key in the outer query;
    `among`, when given, the only users it is asked of (their factors alone are read)."""
    apps, passkeys = Device.objects.active(now), Passkey.objects.all()
    if among is not None:
        apps, passkeys = apps.filter(user__in=among), passkeys.filter(user__in=among)
    app = models.Exists(apps.filter(user=OuterRef(user)))
    passkey = models.Exists(passkeys.filter(user=OuterRef(user)))
    allowed = models.Exists(MfaSettings.objects.filter(pk=1, passkeys_allowed=True))
    return Q(app) | (Q(passkey) & Q(allowed))


@dataclass(frozen=True)
class _Counts:
    has_factor: bool
    passkeys: int
    recovery_unused: int
    passkeys_allowed: bool
    go_live_at: datetime | None


class Factors:
    """A person's ways in at one moment, from one client address.

    Read lazily, so that a login pays only for what its decision needs: the person's apps
    (one query, always), the other factors and the go-live (one aggregate, when no app
    decides it or a recovery code is typed), the trusted locations (one query, when asked).
    """

    def __init__(self, user: User, now: datetime, ip: str | None) -> None:
        self._user, self._now, self._ip = user, now, ip
        devices = list(Device.objects.filter(user=user))
        self.apps = tuple(device for device in devices if not device.is_expired(now))
        # temporary apps whose end has passed, still to be removed
        self.expired = tuple(device for device in devices if device.is_expired(now))

    @cached_property
    def _counts(self) -> "_Counts":
        settings_row = MfaSettings.objects.filter(pk=1)
        counts = (
            User.objects.filter(pk=self._user.pk)
            .annotate(
                has_factor=ExpressionWrapper(
                    has_factor_condition(self._now), output_field=models.BooleanField()
                ),
                passkey_count=_count(Passkey.objects.filter(user=OuterRef("pk"))),
                recovery_unused=_count(
                    RecoveryCode.objects.filter(user=OuterRef("pk"), used_at__isnull=True)
                ),
                passkeys_allowed=Subquery(settings_row.values("passkeys_allowed")),
                go_live_at=Subquery(settings_row.values("go_live_at")),
            )
            .values(
                "has_factor", "passkey_count", "recovery_unused", "passkeys_allowed", "go_live_at"
            )
            .first()
        )
        if counts is None:  # deleted meanwhile: no way in
            return _Counts(False, 0, 0, False, None)
        return _Counts(
            has_factor=bool(counts["has_factor"]),
            passkeys=int(counts["passkey_count"]),
            recovery_unused=int(counts["recovery_unused"]),
            passkeys_allowed=bool(counts["passkeys_allowed"]),
            go_live_at=counts["go_live_at"],
        )

    @cached_property
    def any(self) -> bool:
        """Has at least one factor other than recovery codes ("has MFA"): an active app,
        or else has_factor_condition in SQL."""
        return bool(self.apps) or self._counts.has_factor

    @property
    def passkeys(self) -> int:
        """Passkeys that may sign in now (0 while passkeys are not allowed)."""
        return self._counts.passkeys if self._counts.passkeys_allowed else 0

    @property
    def recovery_unused(self) -> int:
        """Unused recovery codes, whatever the other factors."""
        return self._counts.recovery_unused

    @property
    def live(self) -> bool:
        """MFA has gone live: nobody gets in without a factor."""
        return MfaSettings(go_live_at=self._counts.go_live_at).is_live(self._now)

    @cached_property
    def trusted_location(self) -> bool:
        """The client is in a trusted location: it stands in for a factor the person has."""
        return bool(self._ip) and self.any and locations.is_trusted_location(self._ip)

    @property
    def ends_at(self) -> datetime | None:
        """When the person's last factor ends, if every one of them is a temporary app (the
        access a beheerder gave until a moment: manual 4.2); None while any lasts."""
        ends = [app.expires_at for app in self.apps]
        if not ends or None in ends or self.passkeys:
            return None
        return max(end for end in ends if end is not None)

    @property
    def recovery(self) -> bool:
        """Whether a recovery code may stand in for the person's factor now."""
        return self.any and self.recovery_unused > 0

    @property
    def password_alone(self) -> bool:
        """Whether the password alone signs this person in: no factor, before go-live."""
        return not self.any and not self.live


def _count(rows: "models.QuerySet[Passkey] | models.QuerySet[RecoveryCode]") -> Coalesce:
    return Coalesce(Subquery(rows.values("user").annotate(n=Count("pk")).values("n")), 0)


def factors_of(user: User, *, now: datetime, ip: str | None = None) -> Factors:
    """The factors `user` has at `now` and may use from `ip`."""
    return Factors(user, now, ip)


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
    with why (audit.models.END_REASONS) when it went with the person's last factor."""
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
    user: User,
    *,
    by: User | None,
    ip: str | None,
    now: datetime,
    reason: str,
    spare_temporary: bool = False,
) -> bool:
    """Follow a change of `user`'s factors through: keep MFA_aangemaakt/MFA_gewijzigd, and
    when no factor is left, void the recovery codes and end every session of the person.
    Returns whether the person has no factor left. Call inside the change's transaction.
    `spare_temporary`: see sessions_end_all (the beheerder's unlink button, manual 4.3)."""
    linked = has_mfa(user, now)
    _mfa_dates(user, linked, now)
    transaction.on_commit(lambda: cache.delete(ROLLOUT_FIGURE_KEY))  # mfa.rollout
    if linked:
        return False
    recovery_invalidate(user, by=by, ip=ip, now=now, reason=reason)
    sessions_end_all(
        user=user, by=by, ip=ip, now=now, reason=reason, spare_temporary=spare_temporary
    )
    return True


def sessions_end_all(
    *,
    user: User,
    by: User | None,
    ip: str | None,
    now: datetime,
    reason: str,
    spare_temporary: bool = False,
    action: str = Action.SESSIONS_ENDED,
) -> None:
    """End every session of `user` at its next request, on every worker and host: the
    session's auth hash includes the person's session epoch (accounts.models.User), which
    is read from the database on every request, so no cached session survives the raise.
    A view that should keep its own session re-stamps it (mfa.middleware.session_keep).

    `spare_temporary` (a beheerder's unlink): sessions signed in with an app a beheerder
    linked for the person go on (manual 4.3); the guard ends the others (unlink epoch).

    Their records go too, and the sessions leave the store (mfa.sessions.records_end)."""
    epoch = "unlink_epoch" if spare_temporary else "session_epoch"
    User.objects.filter(pk=user.pk).update(**{epoch: F(epoch) + 1})
    user.refresh_from_db(fields=[epoch])
    records_end(user, spare_temporary=spare_temporary)
    data = {"reason": reason, **({"spare_temporary": True} if spare_temporary else {})}
    audit(action=action, subject=user, actor=by, ip=ip, data=data, at=now)


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
