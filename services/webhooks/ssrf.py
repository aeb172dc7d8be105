"""Where a webhook may go: never into the platform's own network unless a setting allows it.

Checked when an endpoint is registered or its URL changes, and again before every attempt
after resolving the name (a name can be re-pointed at 127.0.0.1 after registration: DNS
rebinding). The attempt then connects to the address that was checked, not to a second
resolution, with the original name in the Host header and TLS SNI/certificate check.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Ports a receiver commonly listens on; others only with private addresses allowed (dev).
STANDARD_PORTS = frozenset({80, 443, 8080, 8443})


class UnsafeUrl(ValueError):
    """The URL (or what its name resolves to) is not a place webhooks may be sent."""


@dataclass(frozen=True)
class Destination:
    url: str  # as registered
    scheme: str
    host: str  # name or address, without brackets
    port: int
    path: str  # path and query


def parse(url: str, *, allow_http: bool, allow_private: bool) -> Destination:
    """The URL's own rules (scheme, credentials, port, literal addresses); no DNS."""
    if len(url) > 2000:
        raise UnsafeUrl("is longer than 2000 characters")
    try:
        parts: SplitResult = urlsplit(url.strip())
        port = parts.port
    except ValueError as err:
        raise UnsafeUrl(f"is not a valid URL: {err}") from err
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeUrl("must start with https://")
    if scheme == "http" and not allow_http:
        raise UnsafeUrl("must use https (http is allowed only in development settings)")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("must not contain credentials")
    if parts.fragment:
        raise UnsafeUrl("must not contain a fragment")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl("has no host")
    port = port or (443 if scheme == "https" else 80)
    if port not in STANDARD_PORTS and not allow_private:
        raise UnsafeUrl(f"port {port} is not allowed (use 443, 80, 8443 or 8080)")
    literal = _literal(host)
    if literal is not None:
        check_address(literal, allow_private=allow_private)
    elif (host.lower() == "localhost" or host.lower().endswith(".localhost")) and not allow_private:
        raise UnsafeUrl("points at this machine (localhost)")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Destination(url=url.strip(), scheme=scheme, host=host, port=port, path=path)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_address(address: IPAddress, *, allow_private: bool) -> None:
    if allow_private:
        return
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if (
        not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
    ):
        raise UnsafeUrl(f"resolves to {address}, a private, loopback or reserved address")


def resolve(dest: Destination, *, allow_private: bool) -> list[IPAddress]:
    """Every address the host resolves to, each checked: one bad address refuses the URL."""
    literal = _literal(dest.host)
    if literal is not None:
        check_address(literal, allow_private=allow_private)
        return [literal]
    try:
        infos = socket.getaddrinfo(dest.host, dest.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise UnsafeUrl(f"host {dest.host} does not resolve: {err}") from err
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        check_address(address, allow_private=allow_private)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeUrl(f"host {dest.host} does not resolve")
    return addresses


def check_registration(url: str, *, allow_http: bool, allow_private: bool) -> Destination:
    dest = parse(url, allow_http=allow_http, allow_private=allow_private)
    resolve(dest, allow_private=allow_private)
    return dest


def pinned_url(dest: Destination, address: IPAddress) -> str:
    """The URL with the checked address in place of the name (Host and SNI carry the name)."""
    host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    return f"{dest.scheme}://{host}:{dest.port}{dest.path}"
