"""The padlock page (manual 2.1): link an authenticator app, step-up, one's own
devices and recovery codes."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_stubs_ext import StrOrPromise

from accounts.http import AuthenticatedRequest
from audit.models import AuditEvent
from livits import clock

from .. import devices, enrolment, factors, recovery, selectors, stepup
from ..devices import Named
from ..errors import MfaError
from ..forms import DeviceRemoveForm, DeviceRenameForm, LinkForm, PasskeyRemoveForm, StepUpForm
from ..marks import cookie_marks
from ..middleware import mfa_settings_of, session_authenticated, session_keep
from ..network import client_ip
from ..recovery import normalize, shown

RENEWED = "renewed"

# "Beveiliging" on the padlock page: the account's other security pages, one line each:
# (label, URL name).
SECURITY_LINKS: list[tuple[StrOrPromise, str]] = [
    (gettext_lazy("Change password"), "accounts:password_change"),
    (gettext_lazy("Sessions and browsers"), "mfa:sessions"),
]


View = Callable[..., HttpResponse]


def enrolment_login_required(view: View) -> View:
    """login_required; a code posted from a page whose session has expired is told so,
    and comes back to the same page (with a new QR code) after logging in."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.method == "POST":
            messages.warning(
                request,
                _("Your session has expired, so nothing was linked. Log in again to continue."),
            )
            return redirect_to_login(f"{request.path}?{RENEWED}=1")
        return redirect_to_login(request.get_full_path())

    return wrapper


def enrol_page(
    request: AuthenticatedRequest,
    *,
    link_form: LinkForm | None = None,
    step_up_form: StepUpForm | None = None,
    remove_form: DeviceRemoveForm | PasskeyRemoveForm | None = None,
) -> HttpResponse:
    """The padlock page: one confirmation (step-up) for the page, then every action in
    one place: a device's or passkey's own row, the recovery codes, linking."""
    now = clock.now()
    has_mfa = factors.has_mfa(request.user, now)
    confirmed = enrolment.recently_confirmed(request.session, now)
    mfa_settings = mfa_settings_of(request)
    passkeys_allowed = mfa_settings.passkeys_allowed
    enrolment.recovery_forget(request.session)  # the codes' page was left: not shown again
    context = {
        "devices": selectors.devices_of(request.user),
        "passkeys": list(request.user.passkeys.all()),
        "passkeys_allowed": passkeys_allowed,
        "may_change": has_mfa and confirmed,
        "may_add_passkey": passkeys_allowed and has_mfa and confirmed,
        "step_up_form": (step_up_form or StepUpForm()) if has_mfa and not confirmed else None,
        "remove_form": remove_form,
        "renewed": RENEWED in request.GET,
        "just_linked": request.session.pop(enrolment.JUST_LINKED, False),
        "recovery": recovery.recovery_status(request.user) if has_mfa else None,
        "may_make_recovery": has_mfa and confirmed,
        "security_links": SECURITY_LINKS,
    }
    if enrolment.may_link(request.session, request.user, now):
        context.update(
            enrolment.link_steps(
                request.session, request.user, link_form or LinkForm(), mfa_settings.issuer_name
            )
        )
    return render(request, "mfa/enrol.html", context)


@sensitive_post_parameters("code")
@never_cache
@enrolment_login_required
def enrol(request: AuthenticatedRequest) -> HttpResponse:
    """The padlock page (manual 2.1): link an authenticator app, see linked devices."""
    if request.method != "POST":
        return enrol_page(request)
    now = clock.now()
    if not enrolment.may_link(request.session, request.user, now):
        return redirect("mfa:enrol")
    form = LinkForm(request.POST)
    if form.is_valid() and enrolment.link_pending(request, request.user, form, now):
        enrolment.allow_linking(request.session, now)
        # The code just proved the new app: this session now has a second factor.
        session_authenticated(request, AuditEvent.Action.LOGIN_CODE)
        request.session[enrolment.JUST_LINKED] = True
        return redirect("mfa:enrol")
    return enrol_page(request, link_form=form)


@sensitive_post_parameters("password", "code")
@never_cache
@login_required
@require_POST
def step_up(request: AuthenticatedRequest) -> HttpResponse:
    """Password and a current code again: the padlock page's one confirmation, before the
    person's factors change (link, remove, recovery codes, passkeys)."""
    form = StepUpForm(request.POST)
    now = clock.now()
    if form.is_valid() and stepup.step_up(
        user=request.user,
        **form.cleaned_data,
        ip=client_ip(request),
        now=now,
        marks=cookie_marks(request),
    ):
        enrolment.allow_linking(request.session, now)
        return redirect("mfa:enrol")
    if form.is_valid():
        form.refuse("step_up_failed", field=None)
    return enrol_page(request, step_up_form=form)


def confirmed_required(view: View) -> View:
    """The session must have just confirmed password and a second factor (step_up): the
    padlock page's one confirmation, before any factor of the person changes."""

    @wraps(view)
    def wrapper(request: AuthenticatedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not enrolment.recently_confirmed(request.session, clock.now()):
            messages.error(request, _("Confirm with your password and access code first."))
            return redirect("mfa:enrol")
        return view(request, *args, **kwargs)

    return wrapper


@never_cache
@login_required
@require_POST
@confirmed_required
def device_remove(request: AuthenticatedRequest) -> HttpResponse:
    """Remove one of one's own devices (its button in the table)."""
    form = DeviceRemoveForm(request.POST, user=request.user)
    return removed(request, form, "device", _("The device %(name)s has been removed."))


def removed(
    request: AuthenticatedRequest,
    form: DeviceRemoveForm | PasskeyRemoveForm,
    field: str,
    done: str,
) -> HttpResponse:
    """Remove the person's own device or passkey that `form` names in `field`
    (stepup.factor_remove_own); this session goes on."""
    if form.is_valid():
        thing = form.cleaned_data[field]
        try:
            stepup.factor_remove_own(thing=thing, ip=client_ip(request), now=clock.now())
        except MfaError as error:
            form.refuse(error.code, field=None)
        else:
            session_keep(request)
            messages.success(request, done % {"name": thing.name})
            return redirect("mfa:enrol")
    return enrol_page(request, remove_form=form)


def renamed(request: AuthenticatedRequest, thing: Named, action: str) -> HttpResponse:
    """Rename one of the person's own devices or passkeys (devices.rename, recorded as
    `action`), then back to the padlock page with what happened."""
    form = DeviceRenameForm(request.POST)
    if form.is_valid():
        name = form.cleaned_data["name"]
        try:
            devices.rename(thing, name, by=request.user, ip=client_ip(request), action=action)
        except MfaError as error:
            form.refuse(error.code, field="name")
        else:
            messages.success(request, _("The name %(name)s has been saved.") % {"name": name})
    for message in form.errors.get("name", []):
        messages.error(request, str(message))
    return redirect("mfa:enrol")


@login_required
@require_POST
def device_rename(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    device = get_object_or_404(request.user.mfa_devices, pk=pk)
    return renamed(request, device, AuditEvent.Action.DEVICE_RENAMED)


@never_cache
@login_required
def recovery_make(request: AuthenticatedRequest) -> HttpResponse:
    """POST: a new set of recovery codes, then to its page. GET: that page, with the set
    kept (encrypted) in the session until the person leaves it: a reload shows the same
    codes and never makes new ones; later it says they were shown."""
    now = clock.now()
    if request.method != "POST":
        codes = enrolment.recovery_kept(request.session)
        if codes and not recovery.recovery_set_holds(request.user, codes):
            codes = []  # a newer set was made meanwhile (another tab): this one is void
        return render(request, "mfa/recovery_codes.html", {"codes": [shown(c) for c in codes]})
    if not (
        factors.has_mfa(request.user, now) and enrolment.recently_confirmed(request.session, now)
    ):
        messages.error(request, _("Confirm with your password and access code first."))
        return redirect("mfa:enrol")
    codes = recovery.recovery_codes_make(user=request.user, ip=client_ip(request), now=now)
    enrolment.recovery_keep(request.session, codes)
    return redirect("mfa:recovery_make")


@sensitive_post_parameters("code")
@never_cache
@login_required
@require_POST
def recovery_download(request: AuthenticatedRequest) -> HttpResponse:
    """The codes just shown, as a text file: sent back by the page, checked against the set."""
    codes = [normalize(code) for code in request.POST.getlist("code")]
    if not codes or not recovery.recovery_set_holds(request.user, codes):
        return HttpResponseBadRequest(_("These are not your current recovery codes."))
    text = render_to_string(
        "mfa/recovery_codes.txt", {"codes": [shown(c) for c in codes if c]}, request
    )
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="livits-herstelcodes.txt"'
    return response
