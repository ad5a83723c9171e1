import io
import ipaddress

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.models import AuditEvent
from mfa.forms import TrustedLocationForm
from mfa.models import TrustedLocation
from mfa.network import (
    NetworkTooBroad,
    client_ip_from,
    ip_in_networks,
    overlapping,
    trusted_network,
)
from tests.helpers import PASSWORD

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
        # unreadable: never the proxy in the client's place (issue 18 attack, H5)
        ("10.0.0.2", "garbage", PROXY, None),
        ("::1", "2001:db8::1", ["::1/128"], "2001:db8::1"),
        ("not-an-ip", "", [], None),
        # IPv4-mapped addresses (a dual-stack socket, e.g. gunicorn on [::]) are IPv4
        ("::ffff:127.0.0.1", "", [], "127.0.0.1"),
        ("::ffff:198.51.100.7", "203.0.113.10", PROXY, "198.51.100.7"),
        ("::ffff:10.0.0.2", "198.51.100.7", PROXY, "198.51.100.7"),
        ("10.0.0.2", "::ffff:198.51.100.7", PROXY, "198.51.100.7"),
        ("10.0.0.2", "198.51.100.7, ::ffff:10.0.0.5", PROXY, "198.51.100.7"),
        ("::ffff:10.0.0.2", "", PROXY, "10.0.0.2"),
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
    TrustedLocation.objects.all().delete()  # one database for all examples
    data = {"new-name": "Kantoor", "new-network": value}
    response = admin_client.post(reverse("mfa:location_add"), data)
    try:
        network = trusted_network(value)
    except ValueError:  # NetworkTooBroad too
        assert response.status_code == 200
        assert response.context["new_location_form"].has_error("network")
        assert not TrustedLocation.objects.exists()
    else:
        assert response.status_code == 302
        assert TrustedLocation.objects.get().network == str(network)


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


# --- F3: IPv4-mapped addresses are IPv4; IPv6 networks may not embed much IPv4 ---


def test_a_mapped_address_matches_ipv4_networks_only():
    assert ip_in_networks("::ffff:127.0.0.1", ["127.0.0.0/8"])
    for embedding in ["::ffff:0:0/96", "::ffff:127.0.0.0/104", "::/0", "::/32"]:
        assert not ip_in_networks("::ffff:127.0.0.1", [embedding])
    assert ip_in_networks("2001:db8::1", ["2001:db8::/32"])  # plain IPv6 unchanged


@settings(max_examples=200, deadline=None)
@given(address=st.ip_addresses(v=4), prefix=st.integers(0, 32), v6=cidrs())
def test_a_mapped_address_is_judged_exactly_as_its_ipv4_address(address, prefix, v6):
    v4 = str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    for probe in (address, ipaddress.IPv4Address(int(address) ^ 1)):
        mapped = f"::ffff:{probe}"
        assert ip_in_networks(mapped, [v4, v6]) == ip_in_networks(str(probe), [v4, v6])
        assert client_ip_from(mapped, "", []) == str(probe)


@pytest.mark.parametrize("legacy", ["::ffff:0:0/96", "::/32", "::ffff:127.0.0.0/104"])
def test_a_stored_ipv6_network_never_lets_a_mapped_ipv4_client_in_without_a_code(
    client, linked_user, legacy
):
    """The attack of issue 18 F3: gunicorn on [::] reports 127.0.0.1 as ::ffff:127.0.0.1.
    The networks are stored as they were before trusted_network refused them."""
    TrustedLocation.objects.create(name="Alles", network=legacy)
    data = {"username": "rdewit", "password": PASSWORD}
    response = client.post(reverse("accounts:login"), data, REMOTE_ADDR="::ffff:127.0.0.1")
    assert response.status_code == 200  # the access code is asked
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_TRUSTED).exists()


def test_a_mapped_client_is_trusted_by_its_ipv4_network_and_audited_as_ipv4(client, linked_user):
    TrustedLocation.objects.create(name="Kantoor", network="127.0.0.0/8")
    data = {"username": "rdewit", "password": PASSWORD}
    response = client.post(reverse("accounts:login"), data, REMOTE_ADDR="::ffff:127.0.0.1")
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN_TRUSTED)
    assert event.ip == "127.0.0.1"


@pytest.mark.parametrize(
    ("value", "reason", "width", "embedding"),
    [
        # the ranges named in issue 18 F3
        ("::ffff:0:0/96", "embeds_ipv4", 0, "IPv4-mapped"),
        ("::/32", "embeds_ipv4", 0, "IPv4-compatible"),
        ("::ffff:0.0.0.0/97", "embeds_ipv4", 1, "IPv4-mapped"),
        ("64:ff9b::/96", "embeds_ipv4", 0, "NAT64"),
        # every other format that carries IPv4 inside IPv6
        ("::/96", "embeds_ipv4", 0, "IPv4-compatible"),
        ("::ffff:0:0:0/96", "embeds_ipv4", 0, "IPv4-translated"),
        ("::ffff:0:0:0/100", "embeds_ipv4", 4, "IPv4-translated"),
        ("::ffff:10.0.0.0/103", "embeds_ipv4", 7, "IPv4-mapped"),
        ("::ffff:0:0/64", "embeds_ipv4", 0, "IPv4-compatible"),
        ("64:ff9b::/32", "embeds_ipv4", 0, "NAT64"),
        ("64:ff9b::/100", "embeds_ipv4", 4, "NAT64"),
        ("64:ff9b:1::/48", "embeds_ipv4", 0, "NAT64"),
        ("64:ff9b:1:ab00::/56", "embeds_ipv4", 0, "NAT64"),
        ("2001::/32", "embeds_ipv4", 0, "Teredo"),
        ("2001:0:4136:e378::/64", "embeds_ipv4", 0, "Teredo"),
        ("2001:0:4136:e378:8000:63bf::/96", "embeds_ipv4", 0, "Teredo"),
        ("2001:0:4136:e378:8000:63bf:f000:0/100", "embeds_ipv4", 4, "Teredo"),
        # broader than /32 (IPv6) or /8 (IPv4) says so first
        ("2002::/16", "too_broad", 16, ""),
        ("2002::/24", "too_broad", 24, ""),
        ("::/0", "too_broad", 0, ""),
        ("2001:db8::/31", "too_broad", 31, ""),
        ("0.0.0.0/0", "too_broad", 0, ""),
        ("10.0.0.0/7", "too_broad", 7, ""),
    ],
)
def test_networks_that_hold_too_much_are_refused_with_the_reason(value, reason, width, embedding):
    with pytest.raises(NetworkTooBroad) as refused:
        trusted_network(value)
    assert (refused.value.reason, refused.value.prefixlen, refused.value.embedding) == (
        reason,
        width,
        embedding,
    )


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        # ordinary office ranges
        ("2001:db8:abcd::/48", "2001:db8:abcd::/48"),
        ("2001:db8:abcd:1200::/56", "2001:db8:abcd:1200::/56"),
        ("2001:db8:abcd:12::7/64", "2001:db8:abcd:12::/64"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:db9::/32", "2001:db9::/32"),  # beside Teredo's 2001::/32
        ("::1", "::1/128"),
        # IPv4 inside IPv6, no more than a /8 of it
        ("64:ff9b::198.51.100.0/120", "64:ff9b::c633:6400/120"),
        ("64:ff9b::10.0.0.0/104", "64:ff9b::a00:0/104"),
        ("2002:c000:200::/40", "2002:c000:200::/40"),  # 6to4 of 192.0.2.0/24
        # 6to4 of 0.0.0.0/16: as broad as an IPv4 /16, which the IPv4 rule allows, and a
        # range no host on the internet can hold (RFC 1122 3.2.1.3)
        ("2002::/32", "2002::/32"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:4136:e378:8000:63bf:3fff:fdd2/128"),
        # written as IPv4-mapped: stored as the IPv4 network it means
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("::ffff:192.0.2.0/120", "192.0.2.0/24"),
        ("::ffff:192.0.2.7", "192.0.2.7/32"),
    ],
)
def test_networks_that_hold_little_enough_are_accepted(value, stored):
    assert str(trusted_network(value)) == stored


# The formats that carry IPv4 in IPv6, and the first bit of the IPv4 address in each
# (written from the RFCs, independently of mfa.network's table).
EMBEDDED = [
    ("::ffff:0:0/96", 96),  # RFC 4291 mapped
    ("::/96", 96),  # RFC 4291 compatible
    ("::ffff:0:0:0/96", 96),  # RFC 2765 translated
    ("64:ff9b::/96", 96),  # RFC 6052
    *[("64:ff9b:1::/48", bit) for bit in (48, 56, 64, 96)],  # RFC 8215 with RFC 6052 lengths
    ("2002::/16", 16),  # RFC 3056
    ("2001::/32", 96),  # RFC 4380, client address
]


@st.composite
def ipv6_networks_near_embeddings(draw):
    base, _bit = draw(st.sampled_from(EMBEDDED))
    inside = ipaddress.IPv6Network(base)
    host = draw(st.integers(0, inside.num_addresses - 1))
    address = draw(
        st.one_of(
            st.just(ipaddress.IPv6Address(int(inside.network_address) + host)),
            st.ip_addresses(v=6),
        )
    )
    return f"{address}/{draw(st.integers(0, 128))}"


def _embedded_ipv4_count(net: ipaddress.IPv6Network, base: str, bit: int) -> int:
    """How many IPv4 addresses the IPv6 network holds in this format: the IPv4 field of
    its first and last address inside the format's range (a CIDR block sets the free
    bits to all 0 and all 1)."""
    inside = ipaddress.IPv6Network(base)
    if not net.overlaps(inside):
        return 0
    common = net if net.subnet_of(inside) else inside
    first, last = (int(a) >> (96 - bit) & 0xFFFFFFFF for a in (common[0], common[-1]))
    return last - first + 1


@settings(max_examples=500, deadline=None)
@given(value=ipv6_networks_near_embeddings())
def test_no_accepted_ipv6_network_holds_more_than_a_slash_8_of_any_embedded_ipv4(value):
    try:
        net = trusted_network(value)
    except NetworkTooBroad:
        return
    if isinstance(net, ipaddress.IPv4Network):  # written as IPv4-mapped
        assert net.prefixlen >= 8
        assert ipaddress.IPv6Network(value, strict=False).subnet_of(
            ipaddress.IPv6Network("::ffff:0:0/96")
        )
        return
    assert net.prefixlen >= 32
    for base, bit in EMBEDDED:
        assert _embedded_ipv4_count(net, base, bit) <= 2**24, (base, bit)


@pytest.mark.parametrize("prefix", [48, 56, 64])
@settings(max_examples=50, deadline=None)
@given(address=st.ip_addresses(v=6, network="2000::/3"))
def test_ordinary_ipv6_office_ranges_are_accepted(prefix, address):
    net = ipaddress.IPv6Network((int(address), prefix), strict=False)
    if any(net.overlaps(ipaddress.IPv6Network(base)) for base, _bit in EMBEDDED):
        return  # 6to4 and Teredo lie inside 2000::/3 too
    assert trusted_network(str(net)) == net


def test_the_form_and_the_command_say_why_an_ipv6_network_is_refused(admin_client):
    page = admin_client.post(
        reverse("mfa:location_add"), {"new-name": "Alles", "new-network": "64:ff9b::/96"}
    )
    assert page.context["new_location_form"].has_error("network", "network_embeds_ipv4")
    assert "bevat IPv4-adressen (als NAT64-adressen), zoveel als een IPv4-/0" in (
        page.content.decode()
    )
    with pytest.raises(CommandError, match=r"as NAT64 addresses\), as many as an IPv4 /0"):
        call_command("mfa", "trusted", "add", "64:ff9b::/96", "--name", "Alles")
    with pytest.raises(CommandError, match="too broad: .* at most a /8 \\(IPv4\\) or /32"):
        call_command("mfa", "trusted", "add", "2002::/16", "--name", "Alles")
    assert not TrustedLocation.objects.exists()


@pytest.mark.parametrize("value", ["::ffff:0:0/96", "::/32", "::ffff:0.0.0.0/97", "64:ff9b::/96"])
def test_the_ranges_of_issue_18_are_refused_by_the_form_and_the_command(admin_client, value):
    page = admin_client.post(
        reverse("mfa:location_add"), {"new-name": "Alles", "new-network": value}
    )
    assert page.context["new_location_form"].has_error("network", "network_embeds_ipv4")
    with pytest.raises(CommandError, match="holds IPv4 addresses"):
        call_command("mfa", "trusted", "add", value, "--name", "Alles")
    assert not TrustedLocation.objects.exists()


def test_a_mapped_network_is_stored_as_ipv4_by_the_form_and_the_command(admin_client):
    data = {"new-name": "Kantoor", "new-network": "::ffff:10.0.0.0/104"}
    assert admin_client.post(reverse("mfa:location_add"), data).status_code == 302
    assert TrustedLocation.objects.get().network == "10.0.0.0/8"
    out = io.StringIO()
    call_command("mfa", "trusted", "add", "::ffff:192.0.2.0/120", "--name", "Filiaal", stdout=out)
    assert out.getvalue() == "Added 192.0.2.0/24 (Filiaal).\n"


# --- "already a trusted location": one rule (network.overlapping), form and command ---


@pytest.mark.parametrize(
    ("new", "existing", "found"),
    [
        ("10.0.0.0/8", ["10.0.0.0/8"], "10.0.0.0/8"),
        ("10.1.0.0/16", ["192.0.2.0/24", "10.0.0.0/8"], "10.0.0.0/8"),  # inside
        ("10.0.0.0/8", ["10.1.2.0/24"], "10.1.2.0/24"),  # around
        ("10.0.0.0/16", ["10.1.0.0/16", "192.0.2.0/24"], None),
        ("2001:db8::/48", ["2001:db8::/32"], "2001:db8::/32"),
        ("2001:db8:1::/48", ["2001:db8::/48"], None),
        ("10.0.0.0/8", ["::ffff:a00:0/104"], None),  # a stored IPv6 network never matches IPv4
        ("10.0.0.0/8", ["rubbish", "10.0.0.0/9"], "10.0.0.0/9"),
    ],
)
def test_overlapping(new, existing, found):
    assert overlapping(ipaddress.ip_network(new), existing) == found


def test_a_network_that_is_already_trusted_is_refused_by_the_form_and_the_command(admin_client):
    TrustedLocation.objects.create(name="Kantoor", network="192.0.2.0/24")
    for value, code in [("192.0.2.77/24", "network_taken"), ("192.0.2.128/25", "network_overlaps")]:
        page = admin_client.post(
            reverse("mfa:location_add"), {"new-name": "Kopie", "new-network": value}
        )
        assert page.context["new_location_form"].has_error("network", code)
    assert "overlapt met de vertrouwde locatie Kantoor (192.0.2.0/24)" in page.content.decode()
    with pytest.raises(CommandError, match="192.0.2.7/24: This network is already a trusted"):
        call_command("mfa", "trusted", "add", "192.0.2.7/24", "--name", "Kopie")
    with pytest.raises(CommandError, match="overlaps the trusted location Kantoor"):
        call_command("mfa", "trusted", "add", "192.0.0.0/16", "--name", "Kopie")
    assert TrustedLocation.objects.count() == 1


def test_a_location_changed_keeps_its_own_network_but_may_not_take_anothers(db):
    office = TrustedLocation.objects.create(name="Kantoor", network="192.0.2.0/24")
    TrustedLocation.objects.create(name="Filiaal", network="198.51.100.0/24")
    form = TrustedLocationForm({"name": "Hoofdkantoor", "network": "192.0.2.0/24"}, instance=office)
    assert form.is_valid()
    form = TrustedLocationForm({"name": "Kantoor", "network": "198.51.100.0/25"}, instance=office)
    assert form.has_error("network", "network_overlaps")


def test_the_database_is_the_last_guard_against_a_duplicate_added_meanwhile(db, monkeypatch):
    """Two administrators add the same network at once: both forms find it free, the
    unique constraint turns the second away, and the shell says so."""
    TrustedLocation.objects.create(name="Kantoor", network="192.0.2.0/24")
    monkeypatch.setattr("mfa.network.overlapping", lambda net, existing: None)
    with pytest.raises(CommandError, match="192.0.2.0/24: This network is already a trusted"):
        call_command("mfa", "trusted", "add", "192.0.2.0/24", "--name", "Kopie")
    form = TrustedLocationForm({"name": "Kopie", "network": "192.0.2.0/24"})
    assert form.is_valid()
    form.refuse("network_taken")
    assert form.has_error("network", "network_taken")
