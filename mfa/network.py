"""Which address a request comes from, and whether that address is trusted."""

import ipaddress
from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# The widest trusted location: anything broader (up to 0.0.0.0/0, the whole
# internet) would turn the access code off for strangers.
WIDEST_PREFIX = {4: 8, 6: 32}


class NetworkTooBroad(ValueError):
    pass


def parse_network(value: str) -> Network:
    """'192.168.1.7/24' -> IPv4Network('192.168.1.0/24'); a bare address is a /32 or /128."""
    return ipaddress.ip_network(value.strip(), strict=False)


def trusted_network(value: str) -> Network:
    """The network of a trusted location: parse_network, refusing networks broader than
    WIDEST_PREFIX (NetworkTooBroad) and anything that is not a network (ValueError)."""
    net = parse_network(value)
    if net.prefixlen < WIDEST_PREFIX[net.version]:
        raise NetworkTooBroad(str(net))
    return net


def _in_any(address: Address, networks: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def from_trusted_proxy(remote_addr: str, trusted_proxies: Iterable[str]) -> bool:
    """Whether the peer is one of the reverse proxies whose X-Forwarded-* headers we believe."""
    try:
        peer = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return _in_any(peer, [parse_network(cidr) for cidr in trusted_proxies])


def client_ip_from(
    remote_addr: str, forwarded_for: str | None, trusted_proxies: Iterable[str]
) -> str | None:
    """The client address: REMOTE_ADDR, unless the peer is a trusted proxy.

    Behind trusted proxies, the right-most X-Forwarded-For entry that is not a
    trusted proxy itself is the client; entries further left are whatever the
    client chose to send and are never believed.
    """
    try:
        peer = ipaddress.ip_address(remote_addr)
    except ValueError:
        return None
    if not from_trusted_proxy(remote_addr, trusted_proxies):
        return str(peer)
    proxies = [parse_network(cidr) for cidr in trusted_proxies]
    client = peer
    for entry in reversed([part.strip() for part in (forwarded_for or "").split(",")]):
        try:
            address = ipaddress.ip_address(entry)
        except ValueError:
            break
        client = address
        if not _in_any(address, proxies):
            break
    return str(client)


def client_ip(request: HttpRequest) -> str | None:
    return client_ip_from(
        request.META.get("REMOTE_ADDR", ""),
        request.headers.get("x-forwarded-for", ""),
        settings.MFA_TRUSTED_PROXIES,
    )


def ip_in_networks(ip: str | None, networks: Iterable[str]) -> bool:
    if not ip:
        return False
    return _in_any(ipaddress.ip_address(ip), [parse_network(n) for n in networks])
