"""Passkeys: adding, renaming and removing one's own on the padlock page, and
"Inloggen met passkey". The browser's script speaks JSON with these views."""

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedRequest
from audit.models import AuditEvent
from livits import clock
from livits.http import redirect_back

from .. import enrolment, login, passkeys
from ..errors import MfaError
from ..fields import LOGIN_REFUSALS
from ..forms import CODE_ERRORS, PasskeyAddForm, PasskeyRemoveForm
from ..marks import cookie_marks
from ..middleware import sign_in
from ..models import MfaSettings
from ..network import client_ip
from .padlock import confirmed_required, removed, renamed

REGISTER_CHALLENGE = "webauthn_register_challenge"
LOGIN_CHALLENGE = "webauthn_login_challenge"


def _body(request: HttpRequest) -> dict[str, Any]:
    """The JSON object a passkey script sent; {} for anything else."""
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _refused(message: Any, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": str(message)}, status=status)


@never_cache
@login_required
@require_POST
def passkey_options(request: AuthenticatedRequest) -> JsonResponse:
    """Options for the browser's own dialog that makes a passkey (after step-up)."""
    now = clock.now()
    if not MfaSettings.load().passkeys_allowed:
        return _refused(CODE_ERRORS["passkeys_off"], 403)
    if not enrolment.recently_confirmed(request.session, now):
        return _refused(_("Confirm with your password and access code first."), 403)
    options, challenge = passkeys.passkey_register_options(user=request.user, now=now)
    request.session[REGISTER_CHALLENGE] = challenge
    return JsonResponse({"options": options})


@never_cache
@login_required
@require_POST
def passkey_add(request: AuthenticatedRequest) -> JsonResponse:
    now = clock.now()
    form = PasskeyAddForm(_body(request))
    if not form.is_valid():
        return _refused(next(iter(form.errors.values()))[0])
    if not enrolment.recently_confirmed(request.session, now):
        return _refused(_("Confirm with your password and access code first."), 403)
    try:
        passkeys.passkey_add(
            user=request.user,
            credential=form.cleaned_data["credential"],
            challenge=request.session.pop(REGISTER_CHALLENGE, None),
            name=form.cleaned_data["name"],
            ip=client_ip(request),
            now=now,
        )
    except MfaError as error:
        return _refused(CODE_ERRORS[error.code])
    messages.success(
        request, _("The passkey %(name)s has been added.") % {"name": form.cleaned_data["name"]}
    )
    return JsonResponse({"redirect": reverse("mfa:enrol")})


@login_required
@require_POST
def passkey_rename(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    passkey = get_object_or_404(request.user.passkeys, pk=pk)
    return renamed(request, passkey, AuditEvent.Action.PASSKEY_RENAMED)


@never_cache
@login_required
@require_POST
@confirmed_required
def passkey_remove(request: AuthenticatedRequest) -> HttpResponse:
    """Remove one of one's own passkeys (its button in the list)."""
    form = PasskeyRemoveForm(request.POST, user=request.user)
    return removed(request, form, "passkey", _("The passkey %(name)s has been removed."))


@csrf_protect
@never_cache
@require_POST
def passkey_login_options(request: HttpRequest) -> JsonResponse:
    """Options for "Inloggen met passkey": no username, the browser offers its passkeys."""
    if not MfaSettings.load().passkeys_allowed:
        return _refused(CODE_ERRORS["passkeys_off"], 403)
    options, challenge = passkeys.passkey_login_options(now=clock.now())
    request.session[LOGIN_CHALLENGE] = challenge
    return JsonResponse({"options": options})


@csrf_protect
@never_cache
@require_POST
def passkey_login(request: HttpRequest) -> JsonResponse:
    body = _body(request)
    now = clock.now()
    result = passkeys.passkey_login(
        credential=body.get("credential"),
        challenge=request.session.pop(LOGIN_CHALLENGE, None),
        ip=client_ip(request),
        now=now,
        marks=cookie_marks(request),
        user_agent=request.headers.get("user-agent", ""),
    )
    if result.status is not login.LoginStatus.OK or result.user is None:
        live = MfaSettings.load().is_live(now)
        return _refused(LOGIN_REFUSALS["invalid_login_live" if live else "invalid_login"])
    target = redirect_back(request, str(body.get("next", "")))["Location"]
    return sign_in(request, result, JsonResponse({"redirect": target}))
