"""A beheerder links, unlinks and unlocks MFA for someone else, from the CRM user tab
(manual chapter 4)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts.guards import managed_person
from accounts.http import AuthenticatedRequest
from accounts.models import Person, User
from livits import clock

from .. import devices, enrolment, factors, selectors, throttle
from ..errors import MfaError
from ..forms import CODE_ERRORS, AdminLinkForm
from ..middleware import mfa_settings_of
from ..network import client_ip
from .padlock import RENEWED, enrolment_login_required


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
            _(
                "MFA has been linked via your app. Give %(name)s the next code your app "
                "shows: the code you just saved with works only once."
            )
            % {"name": person.informal_name},
        )
        return _user_tab(person)
    if not form.errors and factors.has_mfa(user, now):
        messages.error(request, CODE_ERRORS["already_has_mfa"])
        return _user_tab(person)
    context = {
        "person": person,
        "renewed": RENEWED in request.GET,
        **enrolment.link_steps(request.session, user, form, mfa_settings_of(request).issuer_name),
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
            devices.device_unlink_all(
                user=user, by=request.user, ip=client_ip(request), now=now, spare_temporary=True
            )
        except MfaError as error:
            messages.error(request, CODE_ERRORS[error.code])
        else:
            messages.success(
                request,
                _("The MFA code of %(name)s has been unlinked.") % {"name": person.informal_name},
            )
        return _user_tab(person)
    if not factors.has_mfa(user, now):
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
        if throttle.throttle_clear(user=user, by=request.user, ip=client_ip(request)):
            messages.success(request, _("The login lock has been cleared."))
        else:
            messages.info(request, _("This user was not locked."))
    return _user_tab(person)
