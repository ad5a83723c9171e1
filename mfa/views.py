import hashlib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts.models import Person

from . import crypto, selectors, services, totp
from .forms import (
    CODE_ERRORS,
    AdminLinkForm,
    DeviceRemoveForm,
    DeviceRenameForm,
    GoLiveForm,
    IssuerForm,
    LinkForm,
    StepUpForm,
    TrustedLocationForm,
)
from .models import Device, MfaSettings, TrustedLocation
from .network import client_ip
from .qr import qr_svg

LINK_ALLOWED_UNTIL = "mfa_link_allowed_until"


def _may_link(request, devices, now):
    """Linking needs no step-up while the user has no device, or just after proving one."""
    return not devices or request.session.get(LINK_ALLOWED_UNTIL, 0) > now.timestamp()


def _allow_linking(request, now):
    request.session[LINK_ALLOWED_UNTIL] = now.timestamp() + settings.MFA_STEP_UP_SECONDS


def _pending_key(user):
    return f"mfa_pending:{user.pk}"


def _pending_secret(request, user):
    """The secret on screen for `user`, kept (encrypted) in the session until a code
    confirms it."""
    key = _pending_key(user)
    if key not in request.session:
        request.session[key] = {"secret": crypto.encrypt(totp.new_secret())}
    return crypto.decrypt(request.session[key]["secret"])


def _pending_qr(request, user, uri):
    """The QR code of the pending secret, made once and kept with it in the session."""
    entry = request.session[_pending_key(user)]
    digest = hashlib.sha256(uri.encode()).hexdigest()
    if entry.get("uri") != digest:
        entry.update(uri=digest, qr=crypto.encrypt(qr_svg(uri)))
        request.session.modified = True
    return crypto.decrypt(entry["qr"])


def _link_steps(request, user, form):
    """Context of the manual's steps 1-5 for linking an app to `user`."""
    secret = _pending_secret(request, user)
    issuer = MfaSettings.load().issuer_name
    uri = totp.otpauth_uri(secret, user.username, issuer)
    return {
        "link_form": form,
        "issuer": issuer,
        "account": user.username,
        "key": totp.grouped(secret),
        "qr": _pending_qr(request, user, uri),
    }


def _link_pending(request, user, form, **options):
    """Link the secret on screen for `user` if the form's code confirms it."""
    try:
        services.device_link(
            user=user,
            secret=_pending_secret(request, user),
            code=form.cleaned_data["code"],
            by=request.user,
            ip=client_ip(request),
            now=timezone.now(),
            **options,
        )
    except services.MfaError as error:
        form.refuse(error.code)
        return False
    del request.session[_pending_key(user)]
    return True


def _enrol_page(request, *, link_form=None, step_up_form=None, remove_form=None):
    now = timezone.now()
    devices = selectors.devices_of(request.user)
    context = {
        "devices": devices,
        "step_up_form": step_up_form or StepUpForm(),
        "remove_form": remove_form or DeviceRemoveForm(user=request.user),
        "now": now,
    }
    if _may_link(request, devices, now):
        context.update(_link_steps(request, request.user, link_form or LinkForm()))
    return render(request, "mfa/enrol.html", context)


@sensitive_post_parameters("code")
@never_cache
@login_required
def enrol(request):
    """The padlock page (manual 2.1): link an authenticator app, see linked devices."""
    if request.method != "POST":
        return _enrol_page(request)
    now = timezone.now()
    if not _may_link(request, selectors.devices_of(request.user), now):
        return redirect("mfa:enrol")
    form = LinkForm(request.POST)
    if form.is_valid() and _link_pending(request, request.user, form):
        _allow_linking(request, now)
        messages.success(
            request,
            _(
                "Your device has been linked successfully. Link another device via the QR "
                "or manual code above, or leave this screen."
            ),
        )
        return redirect("mfa:enrol")
    return _enrol_page(request, link_form=form)


@sensitive_post_parameters("password", "code")
@never_cache
@login_required
@require_POST
def step_up(request):
    """Password and a current code again, before linking a further device."""
    form = StepUpForm(request.POST)
    now = timezone.now()
    if form.is_valid() and services.step_up(
        user=request.user, **form.cleaned_data, ip=client_ip(request), now=now
    ):
        _allow_linking(request, now)
        return redirect("mfa:enrol")
    if form.is_valid():
        form.refuse("step_up_failed", field=None)
    return _enrol_page(request, step_up_form=form)


@sensitive_post_parameters("password", "code")
@never_cache
@login_required
@require_POST
def device_remove(request):
    """Remove one of one's own devices, after password and a current code."""
    form = DeviceRemoveForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            services.device_remove_own(
                **form.cleaned_data, ip=client_ip(request), now=timezone.now()
            )
        except services.MfaError as error:
            form.refuse(error.code, field=None)
        else:
            name = form.cleaned_data["device"].name
            messages.success(request, _("The device %(name)s has been removed.") % {"name": name})
            return redirect("mfa:enrol")
    return _enrol_page(request, remove_form=form)


@login_required
@require_POST
def device_rename(request, pk):
    device = get_object_or_404(Device, pk=pk, user=request.user)
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
    for error in form.errors.get("name", []):
        messages.error(request, error)
    return redirect("mfa:enrol")


# --- MFA-instellingen -------------------------------------------------------


def _settings_page(request, *, location_form=None, issuer_form=None, status=200):
    mfa_settings = MfaSettings.load()
    context = {
        "mfa_settings": mfa_settings,
        "is_live": mfa_settings.is_live(timezone.now()),
        "locations": TrustedLocation.objects.all(),
        "location_form": location_form or TrustedLocationForm(),
        "issuer_form": issuer_form or IssuerForm(initial={"issuer": mfa_settings.issuer_name}),
        "without_device": selectors.users_without_device(timezone.now()).count(),
    }
    return render(request, "mfa/settings.html", context, status=status)


def _posted_location(request):
    pk = request.POST.get("pk", "")
    return get_object_or_404(TrustedLocation, pk=int(pk) if pk.isascii() and pk.isdigit() else 0)


@login_required
@permission_required("mfa.change_mfasettings", raise_exception=True)
def settings_page(request):
    """MFA-instellingen: trusted locations, issuer name, go-live (manual 3.1)."""
    if request.method != "POST":
        return _settings_page(request)
    by, ip = request.user, client_ip(request)
    action = request.POST.get("action")
    if action == "issuer":
        form = IssuerForm(request.POST)
        if not form.is_valid():
            return _settings_page(request, issuer_form=form)
        services.issuer_set(issuer=form.cleaned_data["issuer"], by=by, ip=ip)
    elif action in ("location_add", "location_change"):
        location = _posted_location(request) if action == "location_change" else TrustedLocation()
        form = TrustedLocationForm(request.POST, instance=location)
        if not form.is_valid():
            return _settings_page(request, location_form=form)
        try:
            services.trusted_location_save(location=form.save(commit=False), by=by, ip=ip)
        except services.MfaError:
            form.add_error("network", _("This network is already a trusted location."))
            return _settings_page(request, location_form=form)
    elif action == "location_remove":
        services.trusted_location_remove(location=_posted_location(request), by=by, ip=ip)
    else:
        return _settings_page(request, status=400)
    messages.success(request, _("The MFA settings have been saved."))
    return redirect("mfa:settings")


@login_required
@permission_required("mfa.change_mfasettings", raise_exception=True)
def go_live(request):
    """Confirm the go-live (or undo it) after seeing who has no device yet."""
    mfa_settings = MfaSettings.load()
    form = GoLiveForm(request.POST or None)
    if request.method == "POST" and request.POST.get("action") == "undo":
        services.go_live_set(at=None, by=request.user, ip=client_ip(request))
        messages.success(request, _("MFA is no longer live."))
        return redirect("mfa:settings")
    if request.method == "POST" and form.is_valid():
        at = form.cleaned_data["at"] or timezone.now()
        services.go_live_set(at=at, by=request.user, ip=client_ip(request))
        messages.success(request, _("The go-live of MFA has been set."))
        return redirect("mfa:settings")
    context = {
        "form": form,
        "mfa_settings": mfa_settings,
        "is_live": mfa_settings.is_live(timezone.now()),
        "without_device": selectors.users_without_device(timezone.now()),
    }
    return render(request, "mfa/go_live.html", context)


# --- A beheerder links and unlinks for someone else (manual chapter 4) -------


def _target(request, person_pk):
    """The system user of the person on the CRM tab; superusers only for superusers."""
    person = get_object_or_404(Person.objects.select_related("system_user"), pk=person_pk)
    user = getattr(person, "system_user", None)
    if user is None:
        messages.error(request, _("This person is not a system user, so MFA cannot be linked."))
        return person, None
    if user.is_superuser and not request.user.is_superuser:
        raise PermissionDenied
    return person, user


def _user_tab(person):
    return redirect(reverse("accounts:person_detail", args=[person.pk]) + "?tab=user")


@sensitive_post_parameters("code")
@never_cache
@login_required
@permission_required("mfa.link_device", raise_exception=True)
def admin_link(request, person_pk):
    """The person's personal QR code, for the beheerder's own app (manual 4.2)."""
    person, user = _target(request, person_pk)
    if user is None:
        return _user_tab(person)
    if user == request.user:
        return redirect("mfa:enrol")
    form = AdminLinkForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and _link_pending(
            request, user, form, expires_at=form.cleaned_data["expires_at"], only_if_unlinked=True
        )
    ):
        messages.success(
            request,
            _("MFA has been linked via your app. %(name)s logs in with the code from your app.")
            % {"name": person.informal_name},
        )
        return _user_tab(person)
    if Device.objects.filter(user=user).exists() and not form.errors:
        messages.error(request, CODE_ERRORS["already_has_mfa"])
        return _user_tab(person)
    context = {"person": person, "target": user, **_link_steps(request, user, form)}
    return render(request, "mfa/admin_link.html", context)


@never_cache
@login_required
@permission_required("mfa.unlink_device", raise_exception=True)
def admin_unlink(request, person_pk):
    """Unlink every device of the person, after confirmation (manual 4.1, 4.3)."""
    person, user = _target(request, person_pk)
    if user is None:
        return _user_tab(person)
    if request.method == "POST":
        try:
            services.device_unlink_all(
                user=user, by=request.user, ip=client_ip(request), now=timezone.now()
            )
        except services.MfaError as error:
            messages.error(request, CODE_ERRORS[error.code])
        else:
            messages.success(
                request,
                _("The MFA code of %(name)s has been unlinked.") % {"name": person.informal_name},
            )
        return _user_tab(person)
    devices = selectors.devices_of(user)
    if not devices:
        messages.error(request, CODE_ERRORS["not_linked"])
        return _user_tab(person)
    return render(request, "mfa/admin_unlink.html", {"person": person, "devices": devices})


@login_required
@permission_required("mfa.change_loginthrottle", raise_exception=True)
@require_POST
def lock_clear(request, person_pk):
    person, user = _target(request, person_pk)
    if user is not None:
        if services.throttle_clear(user=user, by=request.user, ip=client_ip(request)):
            messages.success(request, _("The login lock has been cleared."))
        else:
            messages.info(request, _("This user was not locked."))
    return _user_tab(person)
