import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from accounts.forms import LoginForm
from accounts.guards import managed_person
from accounts.models import Person, User
from livits import clock
from livits.http import AuthenticatedRequest, redirect_back
from reports.selectors import rollout

from . import background, enrolment, selectors, services
from .context_processors import BANNER_HIDDEN
from .forms import (
    CODE_ERRORS,
    AdminLinkForm,
    DeviceRemoveForm,
    DeviceRenameForm,
    GoLiveForm,
    IssuerForm,
    LinkForm,
    PasskeyAddForm,
    PasskeyRemoveForm,
    PasskeysAllowedForm,
    ReminderForm,
    StepUpForm,
    TrustedLocationForm,
)
from .middleware import session_authenticated
from .models import AuditEvent, MfaSettings, TrustedLocation
from .network import client_ip
from .recovery import normalize, shown

RENEWED = "renewed"


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


def _enrol_page(
    request: AuthenticatedRequest,
    *,
    link_form: LinkForm | None = None,
    step_up_form: StepUpForm | None = None,
    remove_form: DeviceRemoveForm | None = None,
    passkey_remove_form: PasskeyRemoveForm | None = None,
) -> HttpResponse:
    now = clock.now()
    has_mfa = selectors.has_mfa(request.user, now)
    confirmed = enrolment.recently_confirmed(request.session, now)
    passkeys_allowed = MfaSettings.load().passkeys_allowed
    context = {
        "devices": selectors.devices_of(request.user),
        "passkeys": list(request.user.passkeys.all()),
        "passkeys_allowed": passkeys_allowed,
        "may_add_passkey": passkeys_allowed and has_mfa and confirmed,
        "passkey_remove_form": passkey_remove_form or PasskeyRemoveForm(user=request.user),
        "step_up_form": step_up_form or StepUpForm(),
        "remove_form": remove_form or DeviceRemoveForm(user=request.user),
        "renewed": RENEWED in request.GET,
        "just_linked": request.session.pop(enrolment.JUST_LINKED, False),
        "recovery": selectors.recovery_status(request.user) if has_mfa else None,
        "may_make_recovery": has_mfa and confirmed,
    }
    if enrolment.may_link(request.session, request.user, now):
        context.update(enrolment.link_steps(request.session, request.user, link_form or LinkForm()))
    return render(request, "mfa/enrol.html", context)


@sensitive_post_parameters("code")
@never_cache
@enrolment_login_required
def enrol(request: AuthenticatedRequest) -> HttpResponse:
    """The padlock page (manual 2.1): link an authenticator app, see linked devices."""
    if request.method != "POST":
        return _enrol_page(request)
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
    return _enrol_page(request, link_form=form)


@sensitive_post_parameters("password", "code")
@never_cache
@login_required
@require_POST
def step_up(request: AuthenticatedRequest) -> HttpResponse:
    """Password and a current code again, before linking a further device."""
    form = StepUpForm(request.POST)
    now = clock.now()
    if form.is_valid() and services.step_up(
        user=request.user, **form.cleaned_data, ip=client_ip(request), now=now
    ):
        enrolment.allow_linking(request.session, now)
        return redirect("mfa:enrol")
    if form.is_valid():
        form.refuse("step_up_failed", field=None)
    return _enrol_page(request, step_up_form=form)


@sensitive_post_parameters("password", "code")
@never_cache
@login_required
@require_POST
def device_remove(request: AuthenticatedRequest) -> HttpResponse:
    """Remove one of one's own devices, after password and a current code."""
    form = DeviceRemoveForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            services.device_remove_own(**form.cleaned_data, ip=client_ip(request), now=clock.now())
        except services.MfaError as error:
            form.refuse(error.code, field=None)
        else:
            name = form.cleaned_data["device"].name
            messages.success(request, _("The device %(name)s has been removed.") % {"name": name})
            return redirect("mfa:enrol")
    return _enrol_page(request, remove_form=form)


@login_required
@require_POST
def device_rename(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    device = get_object_or_404(request.user.mfa_devices, pk=pk)
    form = DeviceRenameForm(request.POST)
    if form.is_valid():
        try:
            services.device_rename(
                device=device,
                name=form.cleaned_data["name"],
                by=request.user,
                ip=client_ip(request),
            )
        except services.MfaError as error:
            form.refuse(error.code, field="name")
    for message in form.errors.get("name", []):
        messages.error(request, str(message))
    return redirect("mfa:enrol")


@sensitive_post_parameters("code")
@never_cache
@login_required
@require_POST
def recovery_make(request: AuthenticatedRequest) -> HttpResponse:
    """A new set of recovery codes, shown this once (never kept in the session)."""
    now = clock.now()
    if not (
        selectors.has_mfa(request.user, now) and enrolment.recently_confirmed(request.session, now)
    ):
        messages.error(request, _("Confirm with your password and access code first."))
        return redirect("mfa:enrol")
    codes = services.recovery_codes_make(user=request.user, ip=client_ip(request), now=now)
    return render(request, "mfa/recovery_codes.html", {"codes": [shown(c) for c in codes]})


@sensitive_post_parameters("code")
@never_cache
@login_required
@require_POST
def recovery_download(request: AuthenticatedRequest) -> HttpResponse:
    """The codes just shown, as a text file: sent back by the page, checked against the set."""
    codes = [normalize(code) for code in request.POST.getlist("code")]
    if not codes or not selectors.recovery_set_holds(request.user, codes):
        return HttpResponseBadRequest(_("These are not your current recovery codes."))
    text = render_to_string(
        "mfa/recovery_codes.txt", {"codes": [shown(c) for c in codes if c]}, request
    )
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="livits-herstelcodes.txt"'
    return response


# --- Passkeys ------------------------------------------------------------------

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
    options, challenge = services.passkey_register_options(user=request.user, now=now)
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
        services.passkey_add(
            user=request.user,
            credential=form.cleaned_data["credential"],
            challenge=request.session.pop(REGISTER_CHALLENGE, None),
            name=form.cleaned_data["name"],
            ip=client_ip(request),
            now=now,
        )
    except services.MfaError as error:
        return _refused(CODE_ERRORS[error.code])
    messages.success(
        request, _("The passkey %(name)s has been added.") % {"name": form.cleaned_data["name"]}
    )
    return JsonResponse({"redirect": reverse("mfa:enrol")})


@login_required
@require_POST
def passkey_rename(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    passkey = get_object_or_404(request.user.passkeys, pk=pk)
    form = DeviceRenameForm(request.POST)
    if form.is_valid():
        try:
            services.passkey_rename(
                passkey=passkey,
                name=form.cleaned_data["name"],
                by=request.user,
                ip=client_ip(request),
            )
        except services.MfaError as error:
            form.refuse(error.code, field="name")
    for message in form.errors.get("name", []):
        messages.error(request, str(message))
    return redirect("mfa:enrol")


@sensitive_post_parameters("password", "code")
@never_cache
@login_required
@require_POST
def passkey_remove(request: AuthenticatedRequest) -> HttpResponse:
    form = PasskeyRemoveForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            services.passkey_remove_own(**form.cleaned_data, ip=client_ip(request), now=clock.now())
        except services.MfaError as error:
            form.refuse(error.code, field=None)
        else:
            name = form.cleaned_data["passkey"].name
            messages.success(request, _("The passkey %(name)s has been removed.") % {"name": name})
            return redirect("mfa:enrol")
    return _enrol_page(request, passkey_remove_form=form)


@csrf_protect
@never_cache
@require_POST
def passkey_login_options(request: HttpRequest) -> JsonResponse:
    """Options for "Inloggen met passkey": no username, the browser offers its passkeys."""
    if not MfaSettings.load().passkeys_allowed:
        return _refused(CODE_ERRORS["passkeys_off"], 403)
    options, challenge = services.passkey_login_options(now=clock.now())
    request.session[LOGIN_CHALLENGE] = challenge
    return JsonResponse({"options": options})


@csrf_protect
@never_cache
@require_POST
def passkey_login(request: HttpRequest) -> JsonResponse:
    body = _body(request)
    now = clock.now()
    result = services.passkey_login(
        credential=body.get("credential"),
        challenge=request.session.pop(LOGIN_CHALLENGE, None),
        ip=client_ip(request),
        now=now,
    )
    if result.status is not services.LoginStatus.OK or result.user is None:
        live = MfaSettings.load().is_live(now)
        return _refused(LoginForm.error_messages["invalid_login_live" if live else "invalid_login"])
    auth_login(request, result.user)
    session_authenticated(request, result.method)
    return JsonResponse({"redirect": redirect_back(request, str(body.get("next", "")))["Location"]})


# --- MFA-instellingen -------------------------------------------------------


def _settings_page(
    request: AuthenticatedRequest,
    *,
    failed_location: int | str | None = None,
    location_form: TrustedLocationForm | None = None,
    issuer_form: IssuerForm | None = None,
) -> HttpResponse:
    """MFA-instellingen with the forms as they are, or with one bound form that failed."""
    now = clock.now()
    mfa_settings = MfaSettings.load()
    locations = [
        (
            location,
            location_form
            if failed_location == location.pk
            else TrustedLocationForm(instance=location, prefix=f"location-{location.pk}"),
        )
        for location in TrustedLocation.objects.all()
    ]
    context = {
        "mfa_settings": mfa_settings,
        "is_live": mfa_settings.is_live(now),
        "locations": locations,
        "new_location_form": location_form
        if failed_location == "new"
        else TrustedLocationForm(prefix="new"),
        "issuer_form": issuer_form or IssuerForm(initial={"issuer": mfa_settings.issuer_name}),
        "passkeys_form": PasskeysAllowedForm(initial={"allowed": mfa_settings.passkeys_allowed}),
        "rp_id": settings.MFA_WEBAUTHN_RP_ID,
        "rollout": rollout(now),
    }
    return render(request, "mfa/settings.html", context)


def _settings_saved(request: AuthenticatedRequest) -> HttpResponse:
    messages.success(request, _("The MFA settings have been saved."))
    return redirect("mfa:settings")


@login_required
@permission_required("mfa.change_mfasettings", raise_exception=True)
@require_GET
def settings_page(request: AuthenticatedRequest) -> HttpResponse:
    """MFA-instellingen: trusted locations, issuer name, go-live (manual 3.1)."""
    return _settings_page(request)


@login_required
@permission_required("mfa.change_mfasettings", raise_exception=True)
@require_POST
def issuer_change(request: AuthenticatedRequest) -> HttpResponse:
    form = IssuerForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, issuer_form=form)
    services.issuer_set(issuer=form.cleaned_data["issuer"], by=request.user, ip=client_ip(request))
    return _settings_saved(request)


@login_required
@permission_required("mfa.change_mfasettings", raise_exception=True)
@require_POST
def location_save(request: AuthenticatedRequest, pk: int | None = None) -> HttpResponse:
    """Add a trusted location, or change the one `pk`."""
    location = TrustedLocation() if pk is None else get_object_or_404(TrustedLocation, pk=pk)
    prefix = "new" if pk is None else f"location-{pk}"
    form = TrustedLocationForm(request.POST, instance=location, prefix=prefix)
    if form.is_valid():
        try:
            services.trusted_location_save(
                location=form.save(commit=False), by=request.user, ip=client_ip(request)
            )
        except services.MfaError:
            form.add_error("network", _("This network is already a trusted location."))
        else:
            return _settings_saved(request)
    return _settings_page(request, failed_location=pk or "new", location_form=form)


@login_required
@permission_required("mfa.change_mfasettings", raise_exception=True)
@require_POST
def passkeys_switch(request: AuthenticatedRequest) -> HttpResponse:
    """The switch "Passkeys toestaan" on MFA-instellingen."""
    form = PasskeysAllowedForm(request.POST)
    allowed = bool(form.is_valid() and form.cleaned_data["allowed"])
    services.passkeys_allow(allowed=allowed, by=request.user, ip=client_ip(request))
    return _settings_saved(request)


@login_required
@permission_required("mfa.change_mfasettings", raise_exception=True)
@require_POST
def location_remove(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    location = get_object_or_404(TrustedLocation, pk=pk)
    services.trusted_location_remove(location=location, by=request.user, ip=client_ip(request))
    return _settings_saved(request)


@login_required
@permission_required("mfa.change_mfasettings", raise_exception=True)
def go_live(request: AuthenticatedRequest) -> HttpResponse:
    """Confirm the go-live (or undo it) after seeing who would be locked out."""
    now = clock.now()
    form = GoLiveForm(request.POST or None)
    if request.method == "POST" and request.POST.get("action") == "undo":
        services.go_live_set(at=None, by=request.user, ip=client_ip(request), now=now)
        messages.success(request, _("MFA is no longer live."))
        return redirect("mfa:settings")
    if request.method == "POST" and form.is_valid():
        try:
            services.go_live_set(
                at=form.cleaned_data["at"] or now, by=request.user, ip=client_ip(request), now=now
            )
        except services.MfaError as error:
            form.refuse(error.code)
        else:
            messages.success(request, _("The go-live of MFA has been set."))
            return redirect("mfa:settings")
    mfa_settings = MfaSettings.load()
    admins, others = selectors.go_live_preview(now)
    context = {
        "form": form,
        "mfa_settings": mfa_settings,
        "is_live": mfa_settings.is_live(now),
        "own_mfa": selectors.has_mfa(request.user, now),
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
    site_url = request.build_absolute_uri("/")
    if request.method == "POST" and form.is_valid():
        count = selectors.reminders_due(now, include_hidden=include_hidden).count()
        background.after_commit(
            services.reminders_send,
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
    due = list(selectors.reminders_due(now, include_hidden=include_hidden))
    everyone = selectors.reminder_recipients(now, include_hidden=include_hidden).count()
    subject, body = services.reminder_mail(
        due[0] if due else request.user, site_url=site_url, language=request.LANGUAGE_CODE
    )
    context = {
        "form": form if form.is_bound else ReminderForm(),
        "due": due,
        "recently_reminded": everyone - len(due),
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


# --- A beheerder links and unlinks for someone else (manual chapter 4) -------


def _target(request: AuthenticatedRequest, person_pk: int) -> tuple[Person, User | None]:
    """The person on the CRM tab and their system user (None: not a system user)."""
    person = managed_person(request, person_pk)
    user = getattr(person, "system_user", None)
    if user is None:
        messages.error(request, _("This person is not a system user, so MFA cannot be linked."))
    return person, user


def _user_tab(person: Person) -> HttpResponse:
    return redirect(reverse("accounts:person_detail", args=[person.pk]) + "?tab=user")


@sensitive_post_parameters("code")
@never_cache
@enrolment_login_required
@permission_required("mfa.link_device", raise_exception=True)
def admin_link(request: AuthenticatedRequest, person_pk: int) -> HttpResponse:
    """The person's personal QR code, for the beheerder's own app (manual 4.2)."""
    person, user = _target(request, person_pk)
    if user is None:
        return _user_tab(person)
    if user == request.user:
        return redirect("mfa:enrol")
    now = clock.now()
    form = AdminLinkForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and enrolment.link_pending(
            request,
            user,
            form,
            now,
            expires_at=form.cleaned_data["expires_at"],
            only_if_unlinked=True,
        )
    ):
        messages.success(
            request,
            _("MFA has been linked via your app. %(name)s logs in with the code from your app.")
            % {"name": person.informal_name},
        )
        return _user_tab(person)
    if not form.errors and selectors.has_mfa(user, now):
        messages.error(request, CODE_ERRORS["already_has_mfa"])
        return _user_tab(person)
    context = {
        "person": person,
        "renewed": RENEWED in request.GET,
        **enrolment.link_steps(request.session, user, form),
    }
    return render(request, "mfa/admin_link.html", context)


@never_cache
@login_required
@permission_required("mfa.unlink_device", raise_exception=True)
def admin_unlink(request: AuthenticatedRequest, person_pk: int) -> HttpResponse:
    """Unlink every device of the person, after confirmation (manual 4.1, 4.3)."""
    person, user = _target(request, person_pk)
    if user is None:
        return _user_tab(person)
    now = clock.now()
    if request.method == "POST":
        try:
            services.device_unlink_all(user=user, by=request.user, ip=client_ip(request), now=now)
        except services.MfaError as error:
            messages.error(request, CODE_ERRORS[error.code])
        else:
            messages.success(
                request,
                _("The MFA code of %(name)s has been unlinked.") % {"name": person.informal_name},
            )
        return _user_tab(person)
    if not selectors.has_mfa(user, now):
        messages.error(request, CODE_ERRORS["not_linked"])
        return _user_tab(person)
    return render(
        request,
        "mfa/admin_unlink.html",
        {
            "person": person,
            "devices": selectors.devices_of(user),
            "passkeys": list(user.passkeys.all()),
        },
    )


@login_required
@permission_required("mfa.change_loginthrottle", raise_exception=True)
@require_POST
def lock_clear(request: AuthenticatedRequest, person_pk: int) -> HttpResponse:
    person, user = _target(request, person_pk)
    if user is not None:
        if services.throttle_clear(user=user, by=request.user, ip=client_ip(request)):
            messages.success(request, _("The login lock has been cleared."))
        else:
            messages.info(request, _("This user was not locked."))
    return _user_tab(person)
