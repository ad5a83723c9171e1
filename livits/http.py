"""Typing for views: the request of a logged-in user carries a system user."""

from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.models import User


class AuthenticatedRequest(HttpRequest):
    """What views behind login_required receive (django-stubs' pattern)."""

    user: User


def redirect_back(request: HttpRequest, target: str) -> HttpResponseRedirect:
    """To `target` (a "next" the browser sent) if it stays on this site; home otherwise."""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("accounts:home")
    return HttpResponseRedirect(target)
