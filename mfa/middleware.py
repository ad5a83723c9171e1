"""Sessions remember how they were authenticated; at go-live, those without a second
factor end (manual 3.1: from that moment people without a linked app have no access)."""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _

from .login import session_end
from .models import AuditEvent, MfaSettings
from .network import client_ip

AUTH_METHOD = "mfa_auth_method"
# Sessions opened with an access code or from a trusted location outlive the go-live
# (manual 4.3: who logged in with the beheerder's code stays logged in).
SECOND_FACTOR = {
    AuditEvent.Action.LOGIN_CODE,
    AuditEvent.Action.LOGIN_RECOVERY,
    AuditEvent.Action.LOGIN_PASSKEY,
    AuditEvent.Action.LOGIN_TRUSTED,
}


def session_authenticated(request: HttpRequest, method: str) -> None:
    """Record how this session proved who it is (an AuditEvent.Action of a login)."""
    request.session[AUTH_METHOD] = method


def go_live_guard(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        if request.session.get(AUTH_METHOD) not in SECOND_FACTOR and request.user.is_authenticated:
            now = timezone.now()
            if MfaSettings.load().is_live(now):
                session_end(user=request.user, ip=client_ip(request), now=now)
                logout(request)
                messages.warning(
                    request,
                    _(
                        "MFA is now required. Log in again with the access code from your "
                        "authenticator app. No app linked yet? Ask an administrator to link MFA "
                        "for you."
                    ),
                )
                if request.method != "GET":
                    return redirect("accounts:login")
                return redirect_to_login(request.get_full_path())
        return get_response(request)

    return middleware
