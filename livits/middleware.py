"""Request plumbing: X-Forwarded-* headers only from the trusted reverse proxies, and
security headers on every response (the content security policy and what the backoffice
never needs from the browser: camera, microphone, location)."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from mfa.network import from_trusted_proxy

FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")


def proxy_headers(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Forget the X-Forwarded-* headers of a peer that is not a trusted proxy, before
    anything reads them (is_secure(), the client address, the host)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if not from_trusted_proxy(
            request.META.get("REMOTE_ADDR", ""), settings.MFA_TRUSTED_PROXIES
        ):
            for header in FORWARDED:
                request.META.pop(header, None)
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
