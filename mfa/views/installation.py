"""MFA-instellingen (manual 3.1): trusted locations, issuer name, the passkey switch."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedRequest
from livits import clock
from outbox.selectors import mails_failed_count

from .. import installation, locations, passkeys, rollout
from ..errors import MfaError
from ..forms import IssuerForm, PasskeysAllowedForm, TrustedLocationForm
from ..middleware import mfa_settings_of
from ..models import TrustedLocation
from ..network import client_ip


def _settings_page(
    request: AuthenticatedRequest,
    *,
    failed_location: int | str | None = None,
    location_form: TrustedLocationForm | None = None,
    issuer_form: IssuerForm | None = None,
) -> HttpResponse:
    """MFA-instellingen with the forms as they are, or with one bound form that failed."""
    now = clock.now()
    mfa_settings = mfa_settings_of(request)
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
        "rollout": rollout.rollout_figure(now),
        "mails_failed": mails_failed_count(),
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
    installation.issuer_set(
        issuer=form.cleaned_data["issuer"], by=request.user, ip=client_ip(request)
    )
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
            locations.trusted_location_save(
                location=form.save(commit=False), by=request.user, ip=client_ip(request)
            )
        except MfaError:
            form.refuse("network_taken")
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
    passkeys.passkeys_allow(
        allowed=allowed, by=request.user, ip=client_ip(request), now=clock.now()
    )
    return _settings_saved(request)


@login_required
@permission_required("mfa.change_mfasettings", raise_exception=True)
def location_remove(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Remove a trusted location, after confirmation (from then on a code is asked there)."""
    location = get_object_or_404(TrustedLocation, pk=pk)
    if request.method != "POST":
        return render(request, "mfa/location_remove.html", {"location": location})
    locations.trusted_location_remove(location=location, by=request.user, ip=client_ip(request))
    messages.success(
        request,
        _("The trusted location %(name)s (%(network)s) has been removed.")
        % {"name": location.name, "network": location.network},
    )
    return redirect("mfa:settings")
