"""What an address is (livits.addresses): an IPv4-mapped address is its IPv4 address,
and the per-address limit counts an IPv6 client per /64."""

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livits.addresses import address_block


@pytest.mark.parametrize(
    ("ip", "block"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::1", "::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        (None, None),
        ("", None),
        ("not an address", None),
    ],
)
def test_address_block(ip, block):
    assert address_block(ip) == block


@settings(max_examples=200, deadline=None)
@given(a=st.ip_addresses(v=6), b=st.ip_addresses(v=6))
def test_two_ipv6_addresses_share_a_block_exactly_when_their_first_64_bits_agree(a, b):
    if a.ipv4_mapped or b.ipv4_mapped:
        return
    same = int(a) >> 64 == int(b) >> 64
    assert (address_block(str(a)) == address_block(str(b))) == same
    block = address_block(str(a))
    assert block is not None and ipaddress.ip_address(str(a)) in ipaddress.ip_network(block)
