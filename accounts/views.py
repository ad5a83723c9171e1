from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from livits import clock
from livits.http import redirect_back
from mfa import factors, throttle
from mfa import selectors as mfa_selectors
from mfa.enrolment import allow_linking
from mfa.login import LoginStatus, login_attempt
from mfa.marks import cookie_marks
from mfa.middleware import sign_in
from mfa.models import MfaSettings
from mfa.network import client_ip
from mfa.sessions import session_logout

from . import passwords, selectors, services
from .forms import LoginForm, PersonForm, PersonSearchForm, SystemUserForm
from .guards import managed_person
from .http import AuthenticatedRequest
from .models import Person, User

PAGE_SIZE = 25


@sensitive_post_parameters("password", "code")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:home")
    form = LoginForm(request.POST or None)
    mfa_settings = SimpleLazyObject(MfaSettings.load)  # read once, and only when shown
    if request.method == "POST" and form.is_valid():
        now = clock.now()
        result = login_attempt(
            **form.cleaned_data,
            ip=client_ip(request),
            now=now,
            marks=cookie_marks(request),
            user_agent=request.headers.get("user-agent", ""),
        )
        if result.status is LoginStatus.OK:
            target = redirect_back(request, request.POST.get("next") or request.GET.get("next", ""))
            response = sign_in(request, result, target)
            if result.recovery_left is not None:
                _after_recovery_code(request, result.recovery_left, now)
            return response
        if result.status is LoginStatus.LOCKED:
            lock = "locked_browser" if result.browser_lock else "locked"
            form.refuse(lock, time=lock_end(result.locked_until))
        elif result.status is LoginStatus.BUSY:
            form.refuse("busy")
        else:
            form.refuse("invalid_login_live" if mfa_settings.is_live(now) else "invalid_login")
    next_url = request.POST.get("next") or request.GET.get("next", "")
    context = {"form": form, "next": next_url, "passkeys_allowed": mfa_settings.passkeys_allowed}
    return render(request, "accounts/login.html", context)


def _after_recovery_code(request: HttpRequest, left: int, now: datetime) -> None:
    """Logged in with a recovery code: say how many are left, and open the padlock page
    for linking a new app right away (the code was a fresh second factor)."""
    allow_linking(request.session, now)
    messages.warning(
        request,
        ngettext(
            "You logged in with a recovery code; %(count)d unused code is left.",
            "You logged in with a recovery code; %(count)d unused codes are left.",
            left,
        )
        % {"count": left}
        + " "
        + _(
            "Lost your phone? Link a new authenticator app through the padlock (top right) "
            "and remove the old one there."
        ),
    )


def lock_end(locked_until: datetime | None) -> str:
    """The second from which a locked name may try again, in the user's time zone: the
    login page and the user tab say the same (mfa.throttle.lock_end)."""
    return formats.time_format(timezone.localtime(throttle.lock_end(locked_until)), "H:i:s")


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    session_logout(request)
    return redirect("accounts:login")


@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    reminder = not factors.has_mfa(request.user, clock.now())
    return render(request, "accounts/home.html", {"mfa_reminder": reminder})


@login_required
@permission_required("accounts.view_person", raise_exception=True)
def person_list(request: AuthenticatedRequest) -> HttpResponse:
    search = PersonSearchForm(request.GET)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    page = Paginator(selectors.person_search(query), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "accounts/person_list.html", {"search": search, "page": page, "query": query}
    )


@login_required
@permission_required("accounts.view_person", raise_exception=True)
def person_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(Person.objects.select_related("system_user"), pk=pk)
    tab = request.GET.get("tab")
    if tab != "user" or not request.user.has_perm("accounts.view_user"):
        tab = "person"
    context = {"person": person, "tab": tab, **selectors.person_actions(request.user, person)}
    system_user = getattr(person, "system_user", None)
    if tab == "user" and system_user:
        context.update(
            mfa_selectors.user_tab(system_user, clock.now(), history_page=request.GET.get("page"))
        )
    return render(request, "accounts/person_detail.html", context)


@login_required
@permission_required("accounts.add_person", raise_exception=True)
def person_create(request: AuthenticatedRequest) -> HttpResponse:
    return _person_form(request, Person())


@login_required
@permission_required("accounts.change_person", raise_exception=True)
def person_update(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _person_form(request, managed_person(request, pk))


def _person_form(request: AuthenticatedRequest, person: Person) -> HttpResponse:
    form = PersonForm(request.POST or None, instance=person)
    if request.method == "POST" and form.is_valid():
        person = form.save()
        messages.success(request, _("The person has been saved."))
        return redirect("accounts:person_detail", pk=person.pk)
    return render(request, "accounts/person_form.html", {"form": form, "person": person})


@login_required
@permission_required("accounts.delete_person", raise_exception=True)
def person_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    person = managed_person(request, pk)
    if person.pk == request.user.person_id:
        messages.error(request, _("You cannot delete yourself."))
        return redirect("accounts:person_detail", pk=person.pk)
    if request.method == "POST":
        try:
            services.person_delete(person=person, by=request.user, ip=client_ip(request))
        except services.AccountError:
            messages.error(request, _("The last superuser cannot be deleted."))
            return redirect("accounts:person_detail", pk=person.pk)
        messages.success(request, _("The person has been deleted."))
        return redirect("accounts:person_list")
    return render(request, "accounts/person_confirm_delete.html", {"person": person})


@sensitive_post_parameters("password1", "password2")
@login_required
@permission_required("accounts.change_user", raise_exception=True)
def system_user_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    person = managed_person(request, pk)
    system_user = getattr(person, "system_user", None) or User(person=person)
    if system_user._state.adding and not request.user.has_perm("accounts.add_user"):
        raise PermissionDenied
    form = SystemUserForm(request.POST or None, instance=system_user)
    if request.method == "POST" and form.is_valid():
        passwords.system_user_link_save(
            form=form,
            by=request.user,
            ip=client_ip(request),
            now=clock.now(),
            language=request.LANGUAGE_CODE,
        )
        messages.success(request, _("The system user has been saved."))
        return redirect(reverse("accounts:person_detail", args=[person.pk]) + "?tab=user")
    return render(request, "accounts/system_user_form.html", {"form": form, "person": person})
