"""What an address is, for every app that compares, logs or counts one.

The rules this module owns:

- An IPv4-mapped IPv6 address (``::ffff:192.0.2.7``, what a dual-stack socket such as
  gunicorn on ``[::]`` reports for an IPv4 peer) IS that IPv4 address: every address is
  mapped to IPv4 before it is compared, logged or counted (`plain_address`).
- Failures are counted per IPv4 address, but per /64 for IPv6 (`address_block`): the
  audit trail stores each record's block, and the per-address limit counts by it.
"""

import ipaddress

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# One IPv6 subscriber usually gets a whole /64 (RFC 6177): it counts as one address.
IPV6_BLOCK_PREFIX = 64


def plain_address(address: Address) -> Address:
    """An IPv4-mapped IPv6 address as the IPv4 address it is; any other as it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_block(ip: str | None) -> str | None:
    """What the per-address failure limit counts: an IPv4 address as it is (an
    IPv4-mapped one in IPv4 form), an IPv6 address as its /64 ("2001:db8:1:2::/64"),
    None for no or no valid address."""
    if not ip:
        return None
    try:
        address = plain_address(ipaddress.ip_address(ip))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    block = ipaddress.IPv6Network((int(address), IPV6_BLOCK_PREFIX), strict=False)
    return str(block)
