"""Which address a sign-in counts against, with and without trusted proxies."""

from __future__ import annotations

import pytest

from core.client_address import UNKNOWN, client_address


@pytest.mark.parametrize(
    ("peer", "forwarded", "hops", "expected"),
    [
        ("203.0.113.5", [], 0, "203.0.113.5"),
        # Without trusted proxies the header is the client's own word: ignored.
        ("203.0.113.5", ["198.51.100.1"], 0, "203.0.113.5"),
        # One proxy: the entry it appended (the rightmost), not what the client wrote before it.
        ("10.0.0.2", ["198.51.100.1, 203.0.113.9"], 1, "203.0.113.9"),
        ("10.0.0.2", ["198.51.100.1", "203.0.113.9"], 1, "203.0.113.9"),
        # Two proxies: the second from the right.
        ("10.0.0.3", ["6.6.6.6, 203.0.113.9, 10.0.0.2"], 2, "203.0.113.9"),
        # Fewer entries than proxies: the request bypassed them, its peer counts.
        ("203.0.113.5", ["6.6.6.6"], 2, "203.0.113.5"),
        ("203.0.113.5", [], 1, "203.0.113.5"),
        # IPv6 by its /64; IPv4-mapped as IPv4.
        ("2001:db8:1:2:aaaa::1", [], 0, "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::7", [], 0, "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.5", [], 0, "203.0.113.5"),
        ("10.0.0.2", ["2001:db8::1"], 1, "2001:db8::/64"),
        # Not an address at all (a test client, a Unix socket): as it is, bounded.
        ("testclient", [], 0, "testclient"),
        ("x" * 100, [], 0, "x" * 64),
        (None, [], 0, UNKNOWN),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], hops: int, expected: str) -> None:
    assert client_address(peer, forwarded, hops) == expected
