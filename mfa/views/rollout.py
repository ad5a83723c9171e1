"""The go-live, the reminders to link an app, and hiding the go-live banner."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedRequest
from livits import clock
from livits.http import redirect_back

from .. import background, factors, rollout
from ..context_processors import BANNER_HIDDEN
from ..errors import MfaError
from ..forms import GoLiveForm, ReminderForm
from ..middleware import mfa_settings_of
from ..network import client_ip


@login_required
@permission_required("mfa.change_mfasettings", raise_exception=True)
def go_live(request: AuthenticatedRequest) -> HttpResponse:
    """Confirm the go-live (or undo it) after seeing who would be locked out."""
    now = clock.now()
    form = GoLiveForm(request.POST or None)
    if request.method == "POST" and request.POST.get("action") == "undo":
        rollout.go_live_set(at=None, by=request.user, ip=client_ip(request), now=now)
        messages.success(request, _("MFA is no longer live."))
        return redirect("mfa:settings")
    if request.method == "POST" and form.is_valid():
        try:
            rollout.go_live_set(
                at=form.cleaned_data["at"] or now, by=request.user, ip=client_ip(request), now=now
            )
        except MfaError as error:
            form.refuse(error.code)
        else:
            messages.success(request, _("The go-live of MFA has been set."))
            return redirect("mfa:settings")
    mfa_settings = mfa_settings_of(request)
    admins, others = rollout.go_live_preview(now)
    context = {
        "form": form,
        "mfa_settings": mfa_settings,
        "is_live": mfa_settings.is_live(now),
        "own_mfa": factors.has_mfa(request.user, now),
        "admins_without_device": admins,
        "others_without_device": others,
    }
    return render(request, "mfa/go_live.html", context)


@login_required
@permission_required("mfa.change_mfasettings", raise_exception=True)
def reminders(request: AuthenticatedRequest) -> HttpResponse:
    """Remind everyone who has not linked an app yet (preview first, then send)."""
    now = clock.now()
    form = ReminderForm(request.POST if request.method == "POST" else request.GET or None)
    include_hidden = bool(form.is_valid() and form.cleaned_data["include_hidden"])
    site_url = settings.SITE_URL  # never the request's Host header
    if request.method == "POST" and form.is_valid():
        count = rollout.reminders_due(now, include_hidden=include_hidden).count()
        background.after_commit(
            rollout.reminders_send,
            by=request.user,
            now=now,
            site_url=site_url,
            language=request.LANGUAGE_CODE,
            include_hidden=include_hidden,
        )
        messages.success(
            request,
            ngettext(
                "The reminder is being sent to %(count)d person.",
                "The reminder is being sent to %(count)d persons.",
                count,
            )
            % {"count": count},
        )
        return redirect("reports:report", slug="personen-met-mfa")
    due = list(rollout.reminders_due(now, include_hidden=include_hidden))
    everyone = rollout.reminder_recipients(now, include_hidden=include_hidden).count()
    subject, body = rollout.reminder_mail(
        due[0] if due else None,
        go_live_at=mfa_settings_of(request).go_live_at,
        site_url=site_url,
        language=request.LANGUAGE_CODE,
    )
    context = {
        "form": form if form.is_bound else ReminderForm(),
        "due": due,
        "recently_reminded": everyone - len(due),
        "interval_hours": settings.MFA_REMINDER_INTERVAL_HOURS,
        "subject": subject,
        "body": body,
    }
    return render(request, "mfa/reminders.html", context)


@login_required
@require_POST
def banner_hide(request: AuthenticatedRequest) -> HttpResponse:
    """Hide the go-live banner for this session (not in its last days: see selectors)."""
    request.session[BANNER_HIDDEN] = True
    return redirect_back(request, request.POST.get("next", ""))
