"""Passkeys (WebAuthn): adding one after a challenge we issued, signing in with it
alone, renaming, and the installation's switch. mfa.webauthn wraps py_webauthn; the
decisions are here.

Challenges are kept server-side and used once (one DELETE decides between
simultaneous uses); the signature counter only goes up (one conditional UPDATE).
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import login_record
from audit.models import AuditEvent
from audit.services import audit

from . import webauthn
from .devices import rename
from .errors import MfaError
from .factors import factors_changed, passkeys_switched
from .login import LoginResult, LoginStatus
from .marks import Marks, mark_of, mark_seen
from .models import MfaSettings, Passkey, WebAuthnChallenge
from .notify import local_moment, notify
from .throttle import address_blocked, throttle_key

Action = AuditEvent.Action


def _challenge_issue(purpose: str, user: User | None, now: datetime) -> str:
    challenge = webauthn.new_challenge()
    stale = now - timedelta(seconds=settings.MFA_WEBAUTHN_CHALLENGE_SECONDS)
    WebAuthnChallenge.objects.filter(created_at__lt=stale).delete()
    WebAuthnChallenge.objects.create(
        challenge=challenge, purpose=purpose, user=user, created_at=now
    )
    return challenge


def _challenge_use(challenge: str | None, purpose: str, user: User | None, now: datetime) -> bool:
    """Whether `challenge` was issued here for `purpose` (and `user`) in the last minutes;
    it is used up either way (one DELETE decides between simultaneous uses)."""
    if not challenge:
        return False
    fresh = now - timedelta(seconds=settings.MFA_WEBAUTHN_CHALLENGE_SECONDS)
    used, _rows = WebAuthnChallenge.objects.filter(
        challenge=challenge, purpose=purpose, user=user, created_at__gte=fresh
    ).delete()
    return bool(used)


def passkey_register_options(*, user: User, now: datetime) -> tuple[dict[str, object], str]:
    """(options for navigator.credentials.create, the challenge): a discoverable credential
    with user verification, under the user's random handle."""
    if not user.passkey_handle:
        user.passkey_handle = webauthn.new_user_handle()
        User.objects.filter(pk=user.pk, passkey_handle__isnull=True).update(
            passkey_handle=user.passkey_handle
        )
        user.refresh_from_db(fields=["passkey_handle"])
    assert user.passkey_handle is not None
    challenge = _challenge_issue(WebAuthnChallenge.Purpose.REGISTER, user, now)
    options = webauthn.registration_options(
        challenge=challenge,
        user_handle=user.passkey_handle,
        user_name=user.username,
        display_name=user.get_full_name(),
        exclude=list(Passkey.objects.filter(user=user).values_list("credential_id", flat=True)),
        issuer=MfaSettings.load().issuer_name,
    )
    return options, challenge


@transaction.atomic
def passkey_add(
    *,
    user: User,
    credential: dict[str, object],
    challenge: str | None,
    name: str,
    ip: str | None,
    now: datetime,
) -> Passkey:
    """Keep the passkey the browser just made, if it answers our challenge."""
    if not MfaSettings.load().passkeys_allowed:
        raise MfaError("passkeys_off")
    if not _challenge_use(challenge, WebAuthnChallenge.Purpose.REGISTER, user, now):
        raise MfaError("passkey_refused")
    assert challenge is not None
    try:
        new = webauthn.verify_registration(credential=credential, challenge=challenge)
    except webauthn.Refused:
        raise MfaError("passkey_refused") from None
    user = User.objects.select_for_update().get(pk=user.pk)
    if Passkey.objects.filter(user=user, name=name).exists():
        raise MfaError("name_taken")
    try:
        with transaction.atomic():
            passkey = Passkey.objects.create(
                user=user,
                name=name,
                credential_id=new.credential_id,
                public_key=new.public_key,
                sign_count=new.sign_count,
                transports=new.transports,
                created_at=now,
            )
    except IntegrityError:
        raise MfaError("passkey_known") from None
    factors_changed(user, by=user, ip=ip, now=now, reason="added")
    audit(
        action=Action.PASSKEY_ADDED, subject=user, actor=user, ip=ip, data={"passkey": name}, at=now
    )
    notify(
        user,
        _("Livits: a passkey was added to your account"),
        _("A passkey (%(name)s) was added to your account on %(when)s.")
        % {"name": name, "when": local_moment(now)},
    )
    return passkey


def passkey_login_options(*, now: datetime) -> tuple[dict[str, object], str]:
    challenge = _challenge_issue(WebAuthnChallenge.Purpose.LOGIN, None, now)
    return webauthn.authentication_options(challenge=challenge), challenge


def passkey_login(
    *,
    credential: object,
    challenge: str | None,
    ip: str | None,
    now: datetime,
    marks: Marks | None = None,
    user_agent: str = "",
) -> LoginResult:
    """A sign-in with a passkey alone (no username): possession plus the device's PIN or
    biometrics. Refusals count in the per-IP limit and get one generic answer."""
    if address_blocked(ip, now):
        return LoginResult(LoginStatus.FAILED)
    with transaction.atomic():
        try:
            user = _passkey_check(credential=credential, challenge=challenge, ip=ip, now=now)
        except webauthn.Refused as refusal:
            audit(action=Action.PASSKEY_FAILED, ip=ip, data={"reason": refusal.reason}, at=now)
            return LoginResult(LoginStatus.FAILED)
        if user is None:
            return LoginResult(LoginStatus.FAILED)
        audit(action=Action.LOGIN_PASSKEY, subject=user, ip=ip, at=now)
        login_record(user=user, now=now)
        carried = mark_of(marks or {}, throttle_key(user.username))
        mark = mark_seen(user=user, mark=carried, user_agent=user_agent, now=now)
    return LoginResult(
        LoginStatus.OK, user, method=Action.LOGIN_PASSKEY, mark=mark, mark_new=mark is not carried
    )


def _passkey_check(
    *, credential: object, challenge: str | None, ip: str | None, now: datetime
) -> User | None:
    """The user whose passkey signed our challenge (webauthn.Refused when it did not;
    None after a counter that went back, which is recorded as a possible clone)."""
    if not MfaSettings.load().passkeys_allowed:
        raise webauthn.Refused("passkeys_off")
    assertion = webauthn.read_assertion(credential)
    if not _challenge_use(challenge, WebAuthnChallenge.Purpose.LOGIN, None, now):
        raise webauthn.Refused("challenge")
    assert challenge is not None
    passkey = (
        Passkey.objects.filter(credential_id=assertion.credential_id).select_related("user").first()
    )
    if passkey is None:
        raise webauthn.Refused("unknown_credential")
    user = passkey.user
    if not assertion.user_handle or assertion.user_handle != user.passkey_handle:
        raise webauthn.Refused("user_handle")
    count = webauthn.verify_assertion(
        assertion=assertion, challenge=challenge, public_key=bytes(passkey.public_key)
    )
    if not user.is_active:
        raise webauthn.Refused("inactive")
    # The counter only goes up (when the authenticator keeps one): one conditional UPDATE,
    # like the TOTP replay guard, also between simultaneous sign-ins.
    kept = count > 0 or passkey.sign_count > 0
    moved = Passkey.objects.filter(pk=passkey.pk)
    if kept:
        moved = moved.filter(sign_count__lt=count)
    if not moved.update(sign_count=count, last_used_at=now):
        audit(
            action=Action.PASSKEY_CLONED,
            subject=user,
            ip=ip,
            data={"passkey": passkey.name, "count": count, "known": passkey.sign_count},
            at=now,
        )
        return None
    return user


def passkey_rename(*, passkey: Passkey, name: str, by: User, ip: str | None) -> Passkey:
    return rename(passkey, name, by=by, ip=ip, action=Action.PASSKEY_RENAMED)


@transaction.atomic
def passkeys_allow(*, allowed: bool, by: User, ip: str | None, now: datetime) -> None:
    """Allow passkeys or not; switched off, a person whose only factor was a passkey has
    lost it (mfa.factors), and sessions signed in with a passkey end (mfa.middleware)."""
    MfaSettings.load()
    changed = (
        MfaSettings.objects.filter(pk=1)
        .exclude(passkeys_allowed=allowed)
        .update(passkeys_allowed=allowed)
    )
    audit(action=Action.PASSKEYS_SWITCHED, actor=by, ip=ip, data={"allowed": allowed}, at=now)
    if changed:
        passkeys_switched(allowed=allowed, by=by, ip=ip, now=now)
