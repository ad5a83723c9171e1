from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from . import selectors, services, totp
from .forms import (
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

PENDING_SECRET = "mfa_pending_secret"
LINK_ALLOWED_UNTIL = "mfa_link_allowed_until"


def _may_link(request, devices, now):
    """Linking needs no step-up while the user has no device, or just after proving one."""
    return not devices or request.session.get(LINK_ALLOWED_UNTIL, 0) > now.timestamp()


def _allow_linking(request, now):
    request.session[LINK_ALLOWED_UNTIL] = now.timestamp() + settings.MFA_STEP_UP_SECONDS


def _pending_secret(request):
    """The secret on screen: kept in the session until a code confirms it."""
    if PENDING_SECRET not in request.session:
        request.session[PENDING_SECRET] = totp.new_secret()
    return request.session[PENDING_SECRET]


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
        secret = _pending_secret(request)
        issuer = MfaSettings.load().issuer_name
        account = request.user.username
        context.update(
            link_form=link_form or LinkForm(),
            issuer=issuer,
            account=account,
            key=totp.grouped(secret),
            qr=qr_svg(totp.otpauth_uri(secret, account, issuer)),
        )
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
    if form.is_valid():
        try:
            services.device_link(
                user=request.user,
                secret=_pending_secret(request),
                code=form.cleaned_data["code"],
                by=request.user,
                ip=client_ip(request),
                now=now,
            )
        except services.MfaError as error:
            form.refuse(error.code)
        else:
            del request.session[PENDING_SECRET]
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
    now, ip = timezone.now(), client_ip(request)
    if not form.is_valid():
        return _enrol_page(request, remove_form=form)
    device = form.cleaned_data["device"]
    last = not Device.objects.filter(user=request.user).exclude(pk=device.pk).exists()
    if last and MfaSettings.load().is_live(now):
        form.refuse("last_device_after_go_live", field=None)
    elif services.step_up(
        user=request.user,
        password=form.cleaned_data["password"],
        code=form.cleaned_data["code"],
        ip=ip,
        now=now,
    ):
        services.device_remove(device=device, by=request.user, ip=ip, now=now)
        messages.success(request, _("The device %(name)s has been removed.") % {"name": device})
        return redirect("mfa:enrol")
    else:
        form.refuse("step_up_failed", field=None)
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
        "without_device": selectors.users_without_device().count(),
    }
    return render(request, "mfa/settings.html", context, status=status)


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
        location = (
            get_object_or_404(TrustedLocation, pk=request.POST.get("pk"))
            if action == "location_change"
            else TrustedLocation()
        )
        form = TrustedLocationForm(request.POST, instance=location)
        if not form.is_valid():
            return _settings_page(request, location_form=form)
        try:
            services.trusted_location_save(location=form.save(commit=False), by=by, ip=ip)
        except services.MfaError:
            form.add_error("network", _("This network is already a trusted location."))
            return _settings_page(request, location_form=form)
    elif action == "location_remove":
        location = get_object_or_404(TrustedLocation, pk=request.POST.get("pk"))
        services.trusted_location_remove(location=location, by=by, ip=ip)
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
        "without_device": selectors.users_without_device(),
    }
    return render(request, "mfa/go_live.html", context)
