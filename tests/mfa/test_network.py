import io
import ipaddress

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfa.models import TrustedLocation
from mfa.network import client_ip_from, ip_in_networks

PROXY = ["10.0.0.0/8"]


@st.composite
def cidrs(draw):
    address = draw(st.ip_addresses())
    prefix = draw(st.integers(0, 32 if address.version == 4 else 128))
    return f"{address}/{prefix}"


@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "expected"),
    [
        ("198.51.100.7", "", [], "198.51.100.7"),
        # a forged header from an untrusted peer is ignored
        ("198.51.100.7", "203.0.113.10", [], "198.51.100.7"),
        ("198.51.100.7", "203.0.113.10", PROXY, "198.51.100.7"),
        # behind a trusted proxy, the right-most untrusted entry is the client
        ("10.0.0.2", "198.51.100.7", PROXY, "198.51.100.7"),
        ("10.0.0.2", "203.0.113.10, 198.51.100.7", PROXY, "198.51.100.7"),
        ("10.0.0.2", "203.0.113.10, 198.51.100.7, 10.0.0.5", PROXY, "198.51.100.7"),
        ("10.0.0.2", "", PROXY, "10.0.0.2"),
        ("10.0.0.2", "garbage", PROXY, "10.0.0.2"),
        ("::1", "2001:db8::1", ["::1/128"], "2001:db8::1"),
        ("not-an-ip", "", [], None),
    ],
)
def test_client_ip(remote, forwarded, proxies, expected):
    assert client_ip_from(remote, forwarded, proxies) == expected


def test_ip_in_networks_handles_both_families():
    networks = ["203.0.113.0/24", "2001:db8::/32"]
    assert ip_in_networks("203.0.113.200", networks)
    assert ip_in_networks("2001:db8::abcd", networks)
    assert not ip_in_networks("198.51.100.7", networks)
    assert not ip_in_networks(None, networks)


def test_forged_forwarded_for_never_makes_a_request_trusted(client, linked_user, settings):
    from tests.helpers import PASSWORD

    TrustedLocation.objects.create(name="Kantoor", network="203.0.113.0/24")
    data = {"username": "rdewit", "password": PASSWORD}
    response = client.post(reverse("accounts:login"), data, HTTP_X_FORWARDED_FOR="203.0.113.10")
    assert response.status_code == 200  # REMOTE_ADDR 127.0.0.1 is not the office
    settings.MFA_TRUSTED_PROXIES = ["127.0.0.1/32"]
    response = client.post(reverse("accounts:login"), data, HTTP_X_FORWARDED_FOR="203.0.113.10")
    assert response.status_code == 302


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.one_of(st.text(max_size=60), st.ip_addresses().map(str), cidrs()))
def test_cidr_field_accepts_networks_normalised_and_refuses_the_rest(admin_client, value):
    before = TrustedLocation.objects.count()
    data = {"new-name": "Kantoor", "new-network": value}
    response = admin_client.post(reverse("mfa:location_add"), data)
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        network = None
    if network is None or network.prefixlen < {4: 8, 6: 32}[network.version]:
        assert response.status_code == 200
        assert response.context["new_location_form"].has_error("network")
        assert TrustedLocation.objects.count() == before
    else:
        assert response.status_code in (200, 302)  # 200: already added by an earlier example
        assert TrustedLocation.objects.filter(network=str(network)).exists()


@pytest.mark.parametrize("network", ["0.0.0.0/0", "::/0", "10.0.0.0/7", "2001:db8::/31"])
def test_a_network_broader_than_a_slash_8_or_32_is_refused_with_the_reason(admin_client, network):
    response = admin_client.post(
        reverse("mfa:location_add"), {"new-name": "Internet", "new-network": network}
    )
    assert response.context["new_location_form"].has_error("network", "network_too_broad")
    assert "te breed" in response.content.decode()
    with pytest.raises(CommandError, match="too broad"):
        call_command("mfa", "trusted", "add", network, "--name", "Internet")
    assert not TrustedLocation.objects.exists()


@pytest.mark.parametrize("network", ["10.0.0.0/8", "2001:db8::/32"])
def test_the_broadest_allowed_network_is_a_slash_8_or_32(admin_client, network):
    call_command("mfa", "trusted", "add", network, "--name", "Breed", stdout=io.StringIO())
    assert TrustedLocation.objects.get().network == network
