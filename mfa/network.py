"""Which address a request comes from, and whether that address is trusted.

The rules this module owns:

- An IPv4-mapped client address is compared in IPv4 form (livits.addresses owns that
  rule and the per-address block), so it matches an IPv4 network only, never an IPv6
  network that embeds it.
- A trusted location is at most a /8 (IPv4) or /32 (IPv6), and an IPv6 network may not
  embed more than that /8 of IPv4 space through one of the address formats that carry
  an IPv4 address inside an IPv6 one (`EMBEDDINGS`, `trusted_network`).
- A new trusted location may not equal or overlap an existing one (`overlapping`).
"""

import ipaddress
from collections.abc import Iterable
from typing import Literal, NamedTuple

from django.conf import settings
from django.http import HttpRequest

from livits.addresses import Address, plain_address

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The widest trusted location: anything broader (up to 0.0.0.0/0, the whole
# internet) would turn the access code off for strangers.
WIDEST_PREFIX = {4: 8, 6: 32}


class Embedding(NamedTuple):
    """An IPv6 range whose addresses carry an IPv4 address from bit `offset` on."""

    name: str
    network: ipaddress.IPv6Network
    offset: int


def _v6(cidr: str) -> ipaddress.IPv6Network:
    return ipaddress.IPv6Network(cidr)


# Where the 32 IPv4 bits sit inside each IPv6 format that embeds them. Where a format
# allows more than one position, the last one is listed: it leaves the most IPv4 bits
# free under a given IPv6 prefix, so it is the one that decides how broad a network is.
EMBEDDINGS = (
    Embedding("IPv4-mapped", _v6("::ffff:0:0/96"), 96),  # RFC 4291 2.5.5.2
    Embedding("IPv4-compatible", _v6("::/96"), 96),  # RFC 4291 2.5.5.1 (deprecated)
    Embedding("IPv4-translated", _v6("::ffff:0:0:0/96"), 96),  # RFC 2765 2.1 (SIIT)
    Embedding("NAT64", _v6("64:ff9b::/96"), 96),  # RFC 6052 2.1
    # RFC 8215: the operator picks an RFC 6052 prefix length from /48 to /96 inside it;
    # with /96 the IPv4 address takes the last 32 bits.
    Embedding("NAT64", _v6("64:ff9b:1::/48"), 96),
    Embedding("6to4", _v6("2002::/16"), 16),  # RFC 3056 2
    # RFC 4380 4: the client's IPv4 address, bits inverted, in the last 32 bits (the
    # Teredo server's address in bits 32-63 is chosen by the client and fixes nothing).
    Embedding("Teredo", _v6("2001::/32"), 96),
)


class NetworkTooBroad(ValueError):
    """A network refused as a trusted location, with the reason:

    - "too_broad": the network itself is broader than WIDEST_PREFIX; `prefixlen` is its
      own prefix length.
    - "embeds_ipv4": an IPv6 network that contains, through `embedding` (e.g. "6to4"), a
      range of IPv4 space broader than WIDEST_PREFIX[4]; `prefixlen` is the width of that
      IPv4 range (0: all of IPv4).
    """

    def __init__(
        self,
        network: Network,
        *,
        reason: Literal["too_broad", "embeds_ipv4"],
        prefixlen: int,
        embedding: str = "",
    ) -> None:
        super().__init__(str(network))
        self.network = network
        self.reason = reason
        self.prefixlen = prefixlen
        self.embedding = embedding


def parse_network(value: str) -> Network:
    """'192.168.1.7/24' -> IPv4Network('192.168.1.0/24'); a bare address is a /32 or /128.

    Written as given: an IPv4-mapped IPv6 network stays IPv6 here (see trusted_network).
    """
    return ipaddress.ip_network(value.strip(), strict=False)


def embedded_ipv4_prefixlen(net: ipaddress.IPv6Network, embedding: Embedding) -> int | None:
    """How broad (as an IPv4 prefix length) the IPv4 space is that `net` holds through
    `embedding`: None when they do not overlap, 0 when `net` holds all of IPv4 that way.

    The IPv4 address starts at bit `embedding.offset`, so `net` fixes its first
    (prefix length - offset) bits; a `net` that holds the whole embedding range fixes
    none, since the range's own prefix ends before the IPv4 bits begin.
    """
    if not net.overlaps(embedding.network):
        return None
    return min(max(net.prefixlen - embedding.offset, 0), 32)


def _as_ipv4(net: ipaddress.IPv6Network) -> ipaddress.IPv4Network:
    """An IPv6 network inside ::ffff:0:0/96 as the IPv4 network it maps."""
    address = ipaddress.IPv4Address(int(net.network_address) & 0xFFFFFFFF)
    return ipaddress.IPv4Network((address, net.prefixlen - 96))


def trusted_network(value: str) -> Network:
    """The network of a trusted location, refusing anything that is not a network
    (ValueError) and networks that are too broad (NetworkTooBroad, with the reason).

    An IPv6 network written in IPv4-mapped form (``::ffff:10.0.0.0/104``) is returned as
    the IPv4 network it maps (``10.0.0.0/8``): client addresses are compared in IPv4
    form (plain_address), so stored as IPv6 it would never match anyone, while the
    administrator clearly meant those IPv4 addresses. Any other IPv6 network stays IPv6,
    even one that embeds IPv4 space (NAT64, 6to4, ...): such clients really do arrive
    with those IPv6 addresses.
    """
    net = parse_network(value)
    if net.prefixlen < WIDEST_PREFIX[net.version]:
        raise NetworkTooBroad(net, reason="too_broad", prefixlen=net.prefixlen)
    if isinstance(net, ipaddress.IPv6Network):
        widths = [
            (width, embedding.name)
            for embedding in EMBEDDINGS
            if (width := embedded_ipv4_prefixlen(net, embedding)) is not None
        ]
        if widths and (widest := min(widths))[0] < WIDEST_PREFIX[4]:
            raise NetworkTooBroad(
                net, reason="embeds_ipv4", prefixlen=widest[0], embedding=widest[1]
            )
        if net.subnet_of(EMBEDDINGS[0].network):
            return _as_ipv4(net)
    return net


def overlapping(net: Network, existing: Iterable[str]) -> str | None:
    """The first of the `existing` networks that equals, contains or lies inside `net`,
    or None. A new trusted location may not overlap one already there: the list stays a
    list of places, each address matched by at most one of them. (The database's unique
    constraint on the network text remains the final guard against an exact duplicate
    added at the same moment.)"""
    for other in existing:
        try:
            stored = parse_network(other)
        except ValueError:
            continue
        if stored.version == net.version and stored.overlaps(net):
            return other
    return None


def _in_any(address: Address, networks: Iterable[Network]) -> bool:
    address = plain_address(address)
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
    """The client address, an IPv4-mapped one in IPv4 form: REMOTE_ADDR, unless the
    peer is a trusted proxy.

    Behind trusted proxies, the right-most X-Forwarded-For entry that is not a
    trusted proxy itself is the client; entries further left are whatever the
    client chose to send and are never believed.
    """
    try:
        peer = plain_address(ipaddress.ip_address(remote_addr))
    except ValueError:
        return None
    if not from_trusted_proxy(remote_addr, trusted_proxies):
        return str(peer)
    proxies = [parse_network(cidr) for cidr in trusted_proxies]
    client = peer
    if not (forwarded_for or "").strip():
        return str(peer)  # the proxy's own request (a health check, say)
    for entry in reversed([part.strip() for part in (forwarded_for or "").split(",")]):
        try:
            address = plain_address(ipaddress.ip_address(_without_port(entry)))
        except ValueError:
            # unreadable: never the proxy in its place (it would share its limit and
            # trusted location with every client behind it)
            return None if client == peer else str(client)
        client = address
        if not _in_any(address, proxies):
            break
    return str(client)


def _without_port(entry: str) -> str:
    """An X-Forwarded-For entry as some load balancers write it: "198.51.100.7:4321" or
    "[2001:db8::7]:4321" (a bare IPv6 address keeps its colons)."""
    if entry.startswith("[") and "]" in entry:
        return entry[1 : entry.index("]")]
    if entry.count(":") == 1:
        return entry.split(":")[0]
    return entry


def client_ip(request: HttpRequest) -> str | None:
    return client_ip_from(
        request.META.get("REMOTE_ADDR", ""),
        request.headers.get("x-forwarded-for", ""),
        settings.MFA_TRUSTED_PROXIES,
    )


def ip_in_networks(ip: str | None, networks: Iterable[str]) -> bool:
    """Whether `ip` lies in one of `networks`, an IPv4-mapped `ip` compared as IPv4."""
    if not ip:
        return False
    return _in_any(ipaddress.ip_address(ip), [parse_network(n) for n in networks])
