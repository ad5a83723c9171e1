"""Linking an app (manual 2.1, 4.2) across requests: the secret on screen, kept in the
session (encrypted) until a code confirms it, and the short permission to link a
further device after step-up. Likewise a new set of recovery codes, kept (encrypted)
from the POST that made it until the person leaves its page, so that a reload shows the
same codes and never makes new ones.

Only the secret is kept: the QR is made again from it when the page is shown,
which keeps the session small.
"""

import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase

from accounts.http import AuthenticatedRequest
from accounts.models import User

from . import crypto, totp
from .devices import device_link
from .errors import MfaError
from .factors import has_mfa
from .forms import LinkForm
from .models import Device
from .network import client_ip
from .qr import qr_svg

LINK_ALLOWED_UNTIL = "mfa_link_allowed_until"
JUST_LINKED = "mfa_just_linked"
RECOVERY_SHOWN = "mfa_recovery_shown"


def _pending_key(user: User) -> str:
    return f"mfa_secret:{user.pk}"


def pending_secret(session: SessionBase, user: User) -> str:
    """The secret on screen for `user`, made on first sight and kept until linked."""
    key = _pending_key(user)
    if key not in session:
        session[key] = crypto.encrypt(totp.new_secret())
    return crypto.decrypt(session[key])


def may_link(session: SessionBase, user: User, now: datetime) -> bool:
    """Linking needs no step-up while the user has no MFA, or just after proving it."""
    return not has_mfa(user, now) or recently_confirmed(session, now)


def recently_confirmed(session: SessionBase, now: datetime) -> bool:
    """Whether this session just proved password and a second factor (or linked an app):
    it may link another device or make recovery codes without asking again."""
    return float(session.get(LINK_ALLOWED_UNTIL, 0)) > now.timestamp()


def allow_linking(session: SessionBase, now: datetime) -> None:
    session[LINK_ALLOWED_UNTIL] = now.timestamp() + settings.MFA_STEP_UP_SECONDS


def recovery_keep(session: SessionBase, codes: list[str]) -> None:
    """Keep a set of recovery codes just made, to show it on the next GET."""
    session[RECOVERY_SHOWN] = crypto.encrypt(json.dumps(codes))


def recovery_kept(session: SessionBase) -> list[str]:
    """The set kept by recovery_keep, or [] once the person has left its page."""
    kept = session.get(RECOVERY_SHOWN)
    return list(json.loads(crypto.decrypt(kept))) if kept else []


def recovery_forget(session: SessionBase) -> None:
    session.pop(RECOVERY_SHOWN, None)


def link_steps(session: SessionBase, user: User, form: LinkForm, issuer: str) -> dict[str, Any]:
    """Context of the manual's steps 1-5 for linking an app to `user`, in the app under
    `issuer` (MfaSettings.issuer_name)."""
    secret = pending_secret(session, user)
    return {
        "link_form": form,
        "issuer": issuer,
        "account": user.username,
        "key": totp.grouped(secret),
        "qr": qr_svg(totp.otpauth_uri(secret, user.username, issuer)),
        "code_seconds": totp.STEP_SECONDS,
    }


def link_pending(
    request: AuthenticatedRequest, user: User, form: LinkForm, now: datetime, **options: Any
) -> Device | None:
    """Link the secret on screen for `user` if the form's code confirms it."""
    try:
        device = device_link(
            user=user,
            secret=pending_secret(request.session, user),
            code=form.cleaned_data["code"],
            by=request.user,
            ip=client_ip(request),
            now=now,
            **options,
        )
    except MfaError as error:
        form.refuse(error.code)
        return None
    del request.session[_pending_key(user)]
    return device
