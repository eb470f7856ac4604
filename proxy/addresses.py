"""The key a client address is counted under by the per-address limits (connection cap, failure and
attestation throttles).

An IPv4 address is its own key. An IPv6 client usually holds a whole /64 (SLAAC, privacy addresses),
so counting single IPv6 addresses would let one client rotate through 2^64 of them past every
per-address limit: an IPv6 address counts under its /64, as mature gateways rate-limit IPv6. An
IPv4-mapped IPv6 address (::ffff:a.b.c.d, from a dual-stack socket) is the IPv4 address; IPv6
loopback stays itself. Anything that is not an IP address ("unknown", a unix socket) is kept as it is.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

IPV6_PREFIX = 64


@lru_cache(maxsize=65536)
def limit_key(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # a zone id (fe80::1%eth0) names no client
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        if ip.is_loopback:
            return str(ip)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)
