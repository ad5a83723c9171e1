"""Project-wide response rules: security headers, and a clean 503 without a database."""

import logging

from django.conf import settings

logger = logging.getLogger("livits")


def security_headers(get_response):
    def middleware(request):
        response = get_response(request)
        response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response

    return middleware
