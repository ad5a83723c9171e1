"""Request plumbing: X-Forwarded-* headers only from the trusted reverse proxies,
security headers on every response (the content security policy and what the backoffice
never needs from the browser: camera, microphone, location), and a page of the house
for an action's address opened in the browser."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from mfa.network import from_trusted_proxy

FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")


def proxy_headers(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Forget the X-Forwarded-* headers of a peer that is not a trusted proxy, before
    anything reads them (is_secure(), the client address, the host). A request without
    them (most, when no proxy is in front) costs no address parsing."""

    def middleware(request: HttpRequest) -> HttpResponse:
        forwarded = [header for header in FORWARDED if header in request.META]
        if forwarded and not from_trusted_proxy(
            request.META.get("REMOTE_ADDR", ""), settings.MFA_TRUSTED_PROXIES
        ):
            for header in forwarded:
                del request.META[header]
        return get_response(request)

    return middleware


def security_headers(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response

    return middleware


def action_opened(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """An address that only takes a form's POST (require_POST: log out, step-up, remove,
    ...), opened with GET (a bookmark, a reload, a typed address), gets the house's
    page that says so, with a way back, instead of the browser's blank 405. One place
    for every such view, also the ones still to come; the status stays 405."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if response.status_code != 405 or request.method not in ("GET", "HEAD"):
            return response
        back = request.headers.get("referer", "")
        if (
            not back
            or back == request.build_absolute_uri()
            or not url_has_allowed_host_and_scheme(
                back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            )
        ):
            back = reverse("accounts:home")
        page = render(request, "405.html", {"back": back}, status=405)
        page["Allow"] = response.get("Allow", "POST")
        page["Cache-Control"] = "no-store"
        return page

    return middleware
