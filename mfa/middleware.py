"""Sessions remember how they were authenticated, and end when that way in no longer
holds: at the go-live for sessions without a second factor (manual 3.1: from then on
people without a linked app have no access), when passkeys are switched off for
sessions signed in with a passkey, and at the end of the temporary app that signed
the session in (manual 4.2-4.3). Ending all of a person's sessions at once is the
session epoch's work (mfa.factors.sessions_end_all), checked by Django on every request.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _

from accounts.backends import BACKEND
from accounts.http import AuthenticatedRequest
from accounts.models import User
from audit.models import AuditEvent
from livits import clock

from . import sessions
from .devices import devices_expire
from .factors import has_mfa
from .login import LoginResult, session_end
from .marks import cookie_keep
from .models import MfaSettings
from .network import client_ip
from .newbrowser import new_browser_notify

AUTH_METHOD = "mfa_auth_method"
AUTH_UNTIL = "mfa_auth_until"  # the end of the temporary app that signed the session in
AUTH_VIA_ADMIN = "mfa_via_admin"  # signed in with an app a beheerder linked (manual 4.2)
AUTH_UNLINK_EPOCH = "mfa_unlink_epoch"  # the person's unlink epoch when it signed in
AUTH_AT = "mfa_auth_at"  # when it signed in, and from where: the session's record
AUTH_IP = "mfa_auth_ip"  # (mfa.sessions) is made again from these after session_keep
REQUEST_SETTINGS = "_mfa_settings"  # mfa_settings_of's memo on the request
Action = AuditEvent.Action
# Sessions opened with a second factor, or from a trusted location, outlive the go-live
# (manual 4.3: who logged in with the beheerder's code stays logged in).
SECOND_FACTOR = {
    Action.LOGIN_CODE,
    Action.LOGIN_RECOVERY,
    Action.LOGIN_PASSKEY,
    Action.LOGIN_TRUSTED,
}
ENDED = {
    "go_live": _(
        "MFA is now required. Log in again with the access code from your authenticator app. "
        "No app linked yet? Ask an administrator to link MFA for you."
    ),
    "passkeys_off": _(
        "Passkeys are no longer allowed. Log in again with your password and access code."
    ),
    "expired": _(
        "Your temporary access has ended. Log in again; no app of your own linked yet? Ask an "
        "administrator."
    ),
    "unlinked": _(
        "An administrator unlinked MFA from your account. Log in again; no app linked? Ask an "
        "administrator."
    ),
}


def session_authenticated(
    request: HttpRequest,
    method: str,
    until: datetime | None = None,
    via_admin: bool = False,
) -> None:
    """Record how this session proved who it is (an AuditEvent.Action of a login), and
    whether an app a beheerder linked did it, with that app's end if it has one."""
    session = request.session
    session[AUTH_METHOD] = method
    session[AUTH_VIA_ADMIN] = via_admin
    session[AUTH_UNLINK_EPOCH] = getattr(request.user, "unlink_epoch", 0)
    if until is None:
        session.pop(AUTH_UNTIL, None)
    else:
        session[AUTH_UNTIL] = until.timestamp()


Response = TypeVar("Response", bound=HttpResponse)


def sign_in(request: HttpRequest, result: LoginResult, response: Response) -> Response:
    """Open the session a login decided (mfa.login, mfa.passkeys), record it
    (mfa.sessions), give the browser the person's mark (mfa.marks) on `response` and,
    when the browser had none, tell the person (mfa.newbrowser)."""
    assert result.user is not None
    auth_login(request, result.user, backend=BACKEND)
    session_authenticated(request, result.method, result.until, result.via_admin)
    now, ip = clock.now(), client_ip(request)
    request.session[AUTH_AT] = now.timestamp()
    request.session[AUTH_IP] = ip
    _record(request, result.user, now)
    if result.mark is not None:
        cookie_keep(response, request, result.user, result.mark)
        if result.mark_new:
            new_browser_notify(request, user=result.user, ip=ip, now=now)
    return response


def _record(request: HttpRequest, user: User, now: datetime) -> None:
    session = request.session
    assert session.session_key is not None  # auth_login gave the session its key
    signed_in = session.get(AUTH_AT)
    sessions.session_record(
        user=user,
        session_key=session.session_key,
        method=session.get(AUTH_METHOD, ""),
        via_admin=bool(session.get(AUTH_VIA_ADMIN)),
        user_agent=request.headers.get("user-agent", ""),
        ip=session.get(AUTH_IP),
        signed_in_at=datetime.fromtimestamp(signed_in, UTC) if signed_in else now,
        now=now,
    )


def session_keep(request: AuthenticatedRequest) -> None:
    """This session goes on after its person's sessions were ended by their own change
    (the last factor removed here): stamped with the person's new session epoch."""
    request.user.refresh_from_db(fields=["session_epoch"])
    old_key = request.session.session_key
    update_session_auth_hash(request, request.user)
    new_key = request.session.session_key
    assert new_key is not None
    if not sessions.session_rekey(old_key=old_key, new_key=new_key):
        _record(request, request.user, clock.now())  # its record went with the others


def mfa_settings_of(request: HttpRequest) -> MfaSettings:
    """The MFA settings this request decides and shows by: read at most once per request
    (the go-live guard, the banner on every page and the page itself ask), and never kept
    beyond it, so a beheerder's change holds from the next request on, on every worker."""
    loaded: MfaSettings | None = getattr(request, REQUEST_SETTINGS, None)
    if loaded is None:
        loaded = MfaSettings.load()
        setattr(request, REQUEST_SETTINGS, loaded)
    return loaded


def way_in_ended(request: HttpRequest, user: User, now: datetime) -> str | None:
    """Why this session's way in no longer holds (a key of ENDED), or None. Reads the MFA
    settings only for sessions that depend on them."""
    session = request.session
    method = session.get(AUTH_METHOD)
    until = session.get(AUTH_UNTIL)
    if until is not None and float(until) <= now.timestamp():
        if method == Action.LOGIN_CODE or not has_mfa(user, now):
            return "expired"
        session.pop(AUTH_UNTIL)  # a recovery code's or the office's: backed by a factor now
    if int(session.get(AUTH_UNLINK_EPOCH, 0)) < user.unlink_epoch:
        if not session.get(AUTH_VIA_ADMIN):
            return "unlinked"
        session[AUTH_UNLINK_EPOCH] = user.unlink_epoch  # manual 4.3: this one goes on
    if method in SECOND_FACTOR and method != Action.LOGIN_PASSKEY:
        return None
    mfa_settings = mfa_settings_of(request)
    if method == Action.LOGIN_PASSKEY:
        return None if mfa_settings.passkeys_allowed else "passkeys_off"
    return "go_live" if mfa_settings.is_live(now) else None


def session_guard(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = clock.now()
            reason = way_in_ended(request, request.user, now)
            if reason:
                user, ip = request.user, client_ip(request)
                session_end(user=user, ip=ip, now=now, reason=reason)
                if reason == "expired":
                    devices_expire(user=user, ip=ip, now=now)
                sessions.session_logout(request)
                messages.warning(request, ENDED[reason])
                if request.method != "GET":
                    return redirect("accounts:login")
                return redirect_to_login(request.get_full_path())
            if AUTH_AT in request.session and request.session.session_key:
                sessions.activity_record(request.session.session_key, now)  # recorded ones
        return get_response(request)

    return middleware
