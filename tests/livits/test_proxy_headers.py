"""X-Forwarded-* headers are believed only from a trusted reverse proxy."""

import pytest
from django.http import HttpResponse

from livits.middleware import proxy_headers
from mfa.network import client_ip


@pytest.mark.parametrize(
    ("peer", "believed"),
    [
        ("10.0.0.1", True),
        ("::ffff:10.0.0.1", True),  # gunicorn on [::]: the IPv4 proxy, IPv4-mapped
        ("10.0.0.9", False),
        ("not an address", False),
    ],
)
def test_forwarded_headers_count_only_from_a_trusted_proxy(settings, rf, peer, believed):
    settings.MFA_TRUSTED_PROXIES = ["10.0.0.1/32"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    seen: dict[str, object] = {}

    def view(request):
        seen.update(secure=request.is_secure(), ip=client_ip(request))
        return HttpResponse()

    request = rf.get(
        "/",
        REMOTE_ADDR=peer,
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_FOR="203.0.113.5",
        HTTP_X_FORWARDED_HOST="evil.example",
    )
    proxy_headers(view)(request)
    if believed:
        assert seen == {"secure": True, "ip": "203.0.113.5"}
    else:
        assert seen == {"secure": False, "ip": None if peer == "not an address" else peer}
        assert "x-forwarded-host" not in request.headers


def test_the_proxy_headers_are_forgotten_before_anything_reads_them(settings):
    assert settings.MIDDLEWARE[0] == "livits.middleware.proxy_headers"
