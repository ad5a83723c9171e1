"""Sessies en browsers: a person's open sessions and the browsers carrying their mark,
and the beheerder's "Alle sessies beëindigen" on the CRM user tab (mfa.sessions)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedRequest
from livits import clock

from .. import sessions, sessions_end, stepup
from ..errors import MfaError
from ..forms import MarkForgetForm, SessionEndForm
from ..marks import cookie_marks
from ..middleware import session_keep
from ..models import UserSession
from ..network import client_ip
from .users import _target, _user_tab


@never_cache
@login_required
def sessions_page(request: AuthenticatedRequest) -> HttpResponse:
    """Every open session of the person, and the browsers that carry their mark."""
    context = {
        "open_sessions": sessions.sessions_open(
            request.user, clock.now(), request.session.session_key
        ),
        "marks": sessions.marks_of(request.user),
    }
    return render(request, "mfa/sessions.html", context)


@sensitive_post_parameters("password", "code")
@never_cache
@login_required
def session_end(request: AuthenticatedRequest, pk: int | None = None) -> HttpResponse:
    """End one session (`pk`) or every other session, after password and a fresh second
    factor (mfa.stepup), as for removing a device."""
    record = None if pk is None else get_object_or_404(UserSession, pk=pk, user=request.user)
    form = SessionEndForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ip, now = client_ip(request), clock.now()
        marks = cookie_marks(request)
        if not stepup.step_up(user=request.user, **form.cleaned_data, ip=ip, now=now, marks=marks):
            form.refuse("step_up_failed", field=None)
        elif record is None:
            sessions_end.sessions_end_others(user=request.user, by=request.user, ip=ip, now=now)
            session_keep(request)
            messages.success(request, _("Your other sessions have been ended."))
            return redirect("mfa:sessions")
        else:
            try:
                sessions.session_end_one(record=record, by=request.user, ip=ip, now=now)
            except MfaError as error:
                form.refuse(error.code, field=None)
            else:
                messages.success(request, _("The session has been ended."))
                return redirect("mfa:sessions")
    return render(request, "mfa/session_end.html", {"form": form, "record": record})


@login_required
@require_POST
def mark_forget(request: AuthenticatedRequest) -> HttpResponse:
    """Forget a browser: no step-up, as it only takes away (see mfa.sessions.mark_forget)."""
    form = MarkForgetForm(request.POST, user=request.user)
    if form.is_valid():
        mark = form.cleaned_data["mark"]
        if sessions.mark_forget(mark=mark, by=request.user, ip=client_ip(request), now=clock.now()):
            messages.success(request, _("The browser has been forgotten."))
    return redirect("mfa:sessions")


@login_required
@permission_required("mfa.end_sessions", raise_exception=True)
@require_POST
def admin_sessions_end(request: AuthenticatedRequest, person_pk: int) -> HttpResponse:
    """A beheerder ends every session of the person ("Alle sessies beëindigen")."""
    person, user = _target(request, person_pk)
    if user is not None:
        sessions_end.sessions_end_by_admin(
            user=user, by=request.user, ip=client_ip(request), now=clock.now()
        )
        messages.success(
            request,
            _("All sessions of %(name)s have been ended.") % {"name": person.informal_name},
        )
    return _user_tab(person)
