"""Per-address limits count an IPv6 client under its /64 (proxy/addresses.py): one client rotating
through its own addresses meets the connection cap and the failure throttles as one client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from proxy.addresses import limit_key
from proxy.auth import client_address
from proxy.auth.failures import FailureThrottle
from proxy.listener import ConnectionCounter, _address


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::9", "2001:db8:1:2::/64"),  # any spelling of the same /64
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),  # the next /64 is another client
        ("::ffff:203.0.113.7", "203.0.113.7"),  # dual-stack socket: the IPv4 client
        ("::1", "::1"),
        ("fe80::1%eth0", "fe80::/64"),
        ("unknown", "unknown"),
        ("local", "local"),
        ("", ""),
    ],
)
def test_limit_keys(address: str, key: str) -> None:
    assert limit_key(address) == key


class _Transport:
    def __init__(self, peer: Any) -> None:
        self.peer = peer

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.peer if name == "peername" else default


def test_requests_and_connections_use_the_key() -> None:
    one = make_mocked_request("GET", "/", transport=_Transport(("2001:db8:1:2::a", 443, 0, 0)))
    two = make_mocked_request("GET", "/", transport=_Transport(("2001:db8:1:2:ffff::1", 443, 0, 0)))
    other = make_mocked_request("GET", "/", transport=_Transport(("2001:db8:1:3::1", 443, 0, 0)))
    assert client_address(one) == client_address(two) == "2001:db8:1:2::/64" != client_address(other)
    assert _address(_Transport(("2001:db8:1:2::a", 443, 0, 0))) == "2001:db8:1:2::/64"  # type: ignore[arg-type]
    assert _address(_Transport(("198.51.100.4", 443))) == "198.51.100.4"  # type: ignore[arg-type]
    assert _address(_Transport(None)) == "local"  # type: ignore[arg-type]


def test_a_rotating_ipv6_client_meets_the_cap_and_the_throttle() -> None:
    rotating = [f"2001:db8:1:2::{i:x}" for i in range(1, 10)]
    counter = ConnectionCounter(4)
    admitted = [counter.open(_address(_Transport((a, 443, 0, 0)))) for a in rotating]  # type: ignore[arg-type]
    assert admitted == [True] * 4 + [False] * 5
    assert counter.open(_address(_Transport(("2001:db8:9::1", 443, 0, 0)))) is True  # type: ignore[arg-type]

    async def guesses() -> int:
        throttle = FailureThrottle(limit=3, window=60.0)
        for n, address in enumerate(rotating):
            key = limit_key(address)
            if await throttle.blocked_for(key):
                return n
            await throttle.failed(key)
        return len(rotating)

    assert asyncio.run(guesses()) == 3  # not 9: every address of the /64 is one client
