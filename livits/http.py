"""Redirects that stay on this site."""

from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


def redirect_back(request: HttpRequest, target: str) -> HttpResponseRedirect:
    """To `target` (a "next" the browser sent) if it stays on this site; home otherwise."""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("accounts:home")
    return HttpResponseRedirect(target)
