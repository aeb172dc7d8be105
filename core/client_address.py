"""Which client address a request counts against (the per-address sign-in throttle).

Without proxies (TRUSTED_PROXY_HOPS=0) it is the TCP peer the ASGI server reports, and
X-Forwarded-For is ignored: any client can write that header. Behind N reverse proxies that each
append the address they received the request from, the client is the N-th entry from the right
of X-Forwarded-For: the proxies wrote those entries, everything further left came from the
client and is not trusted. A request with fewer entries than hops did not come through all the
proxies, so its peer address counts.

IPv6 clients are counted by their /64 network, since one host usually holds a whole /64;
IPv4-mapped IPv6 addresses count as the IPv4 address. A value that is no IP address (a test
client, a Unix socket) counts as itself, shortened to the column's 64 characters.
"""

from __future__ import annotations

import ipaddress

UNKNOWN = "unknown"
MAX_LENGTH = 64


def normalise(value: str) -> str:
    text = value.strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text[:MAX_LENGTH] or UNKNOWN
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address), 64), strict=False))
    return str(address)


def client_address(peer: str | None, forwarded_for: list[str], trusted_hops: int) -> str:
    """`peer`: the connection's remote address; `forwarded_for`: every X-Forwarded-For header
    of the request, in order."""
    if trusted_hops > 0:
        entries = [e.strip() for header in forwarded_for for e in header.split(",") if e.strip()]
        if len(entries) >= trusted_hops:
            return normalise(entries[-trusted_hops])
    return normalise(peer) if peer else UNKNOWN
