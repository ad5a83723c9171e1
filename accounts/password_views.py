"""The password pages (accounts.passwords has the rules): "Wachtwoord wijzigen" from the
padlock page, "Wachtwoord vergeten" from the login page, and the page a link opens."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from livits import clock
from mfa.marks import cookie_marks
from mfa.middleware import session_keep
from mfa.network import client_ip

from . import passwords
from .forms import NewPasswordForm, PasswordChangeForm, PasswordForgotForm
from .http import AuthenticatedRequest
from .passwords import AskStatus, ConfirmWay
from .services import AccountError
from .views import lock_end

LINK_SESSION = "password_link"  # the token of the link being used, out of the address bar
LINK_IN_SESSION = "set"  # the token's place in the page's address

REFUSALS = {
    "step_up_failed": gettext_lazy("The password or the access code is not correct. Try again."),
    "factor_failed": gettext_lazy("The access code is not correct. Try again."),
    "busy": gettext_lazy("Too many attempts at once. Wait a moment and try again."),
    "refused": gettext_lazy("Too many requests from your network. Try again later."),
}


@sensitive_post_parameters("password", "code", "new_password1", "new_password2")
@never_cache
@login_required
def password_change(request: AuthenticatedRequest) -> HttpResponse:
    now = clock.now()
    way = passwords.confirm_way(request.user, now)
    if way is ConfirmWay.BEHEERDER:  # a passkey is the person's only factor
        return render(request, "accounts/password_change.html", {"ask_beheerder": True})
    form = PasswordChangeForm(request.user, request.POST or None, needs_code=way is ConfirmWay.CODE)
    if request.method == "POST" and form.is_valid():
        try:
            passwords.password_change(
                user=request.user,
                password=form.cleaned_data["password"],
                code=form.cleaned_data.get("code", ""),
                new_password=form.cleaned_data["new_password1"],
                ip=client_ip(request),
                now=now,
                marks=cookie_marks(request),
            )
        except AccountError as error:
            form.add_error(None, str(REFUSALS[error.code]))
        else:
            session_keep(request)  # every other session has ended; this one goes on
            messages.success(request, _("Your password has been changed."))
            return redirect("mfa:enrol")
    return render(request, "accounts/password_change.html", {"form": form})


@sensitive_post_parameters("name")
@csrf_protect
@never_cache
def password_forgot(request: HttpRequest) -> HttpResponse:
    """The same answer for every name: nothing here knows whether it exists."""
    form = PasswordForgotForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        now = clock.now()
        ask = passwords.password_reset_ask(
            name=form.cleaned_data["name"],
            ip=client_ip(request),
            now=now,
            marks=cookie_marks(request),
            language=request.LANGUAGE_CODE,
        )
        if ask.status is AskStatus.ASKED:
            return render(request, "accounts/password_forgot.html", {"asked": True})
        if ask.status is AskStatus.LOCKED:
            message = _("Too many requests for this name. Try again after %(time)s.") % {
                "time": lock_end(ask.locked_until)
            }
        else:
            message = str(REFUSALS[ask.status.value])
        form.add_error(None, message)
    return render(request, "accounts/password_forgot.html", {"form": form})


@never_cache
def password_link(request: HttpRequest, kind: str, uidb64: str, token: str) -> HttpResponse:
    """The address in the mail: its token goes into the session and out of the address bar
    (no Referer, no browser history carries it), as Django's own reset page does."""
    if token != LINK_IN_SESSION:
        if passwords.link_user(kind=kind, uidb64=uidb64, token=token) is None:
            return render(request, "accounts/password_link.html", {"void": True})
        request.session[LINK_SESSION] = token
        return redirect("accounts:password_link", kind, uidb64, LINK_IN_SESSION)
    return password_link_set(request, kind, uidb64)


@sensitive_post_parameters("code", "new_password1", "new_password2")
@csrf_protect
def password_link_set(request: HttpRequest, kind: str, uidb64: str) -> HttpResponse:
    token = str(request.session.get(LINK_SESSION, ""))
    user = passwords.link_user(kind=kind, uidb64=uidb64, token=token)
    if user is None:
        return render(request, "accounts/password_link.html", {"void": True})
    now = clock.now()
    way = passwords.confirm_way(user, now)
    if way is ConfirmWay.BEHEERDER:
        return render(request, "accounts/password_link.html", {"ask_beheerder": True})
    form = NewPasswordForm(user, request.POST or None, needs_code=way is ConfirmWay.CODE)
    if request.method == "POST" and form.is_valid():
        try:
            passwords.password_reset(
                user=user,
                kind=kind,
                token=token,
                new_password=form.cleaned_data["new_password1"],
                code=form.cleaned_data.get("code", ""),
                ip=client_ip(request),
                now=now,
                marks=cookie_marks(request),
            )
        except AccountError as error:
            if error.code != "factor_failed":  # used meanwhile, or no factor left meanwhile
                page = {"ask_beheerder": True} if error.code == "ask_beheerder" else {"void": True}
                return render(request, "accounts/password_link.html", page)
            form.add_error("code" if "code" in form.fields else None, str(REFUSALS[error.code]))
        else:
            request.session.pop(LINK_SESSION, None)
            messages.success(
                request,
                _("Your password has been set. Log in with your new password."),
            )
            return redirect("accounts:login")
    return render(request, "accounts/password_link.html", {"form": form, "user": user})
