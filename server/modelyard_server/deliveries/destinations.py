"""Where webhook deliveries may go: never to the registry's own network (loopback, private,
link-local and cloud metadata addresses), unless the operator allows a range of it.

The check runs twice: when a webhook's URL is set (an early answer for its author), and
before every attempt, on the addresses the host resolves to then. The attempt connects to an
address that passed, never to a name resolved again, so a DNS answer that changes between
the check and the connection (DNS rebinding) cannot lead it elsewhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_SETTING = "--webhook-allow-cidr (MODELYARD_WEBHOOK_ALLOW_CIDR)"
# At creation a slow resolver does not hold up the call: the attempt checks again anyway.
CREATION_RESOLVE_SECONDS = 2.0

# The ranges deliveries may not reach, each with what it is called in an error. More
# specific ranges come first: the metadata address before the link-local range.
_REFUSED: tuple[tuple[str, str], ...] = (
    ("169.254.169.254/32", "cloud metadata"),
    ("fd00:ec2::254/128", "cloud metadata"),
    ("0.0.0.0/8", "unspecified"),
    ("::/128", "unspecified"),
    ("127.0.0.0/8", "loopback"),
    ("::1/128", "loopback"),
    ("10.0.0.0/8", "private"),
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("fc00::/7", "private"),
    ("fec0::/10", "private"),  # site-local, deprecated but routable on some networks
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("169.254.0.0/16", "link-local"),
    ("fe80::/10", "link-local"),
    ("224.0.0.0/4", "multicast"),
    ("ff00::/8", "multicast"),
    ("240.0.0.0/4", "reserved"),  # and the broadcast address
)
REFUSED: tuple[tuple[Network, str], ...] = tuple(
    (ipaddress.ip_network(cidr), kind) for cidr, kind in _REFUSED
)


def parse_networks(text: str) -> tuple[Network, ...]:
    """Returns the networks of a comma-separated list of CIDRs (a bare address is a /32 or
    /128); ValueError naming the first that is not one."""
    found = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            found.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not a CIDR such as 10.1.0.0/16 or fd00::/8") from None
    return tuple(found)


class Refused(Exception):
    """A delivery may not go to this address; the message says why, in plain words."""


class Unresolvable(Exception):
    """The host has no address (the resolver said so, or did not answer)."""


@dataclass(frozen=True)
class Destinations:
    """The addresses deliveries may reach: any public one, and internal ones in `allowed`."""

    allowed: tuple[Network, ...] = ()

    def refusal(self, address: Address) -> str | None:
        """Returns what kind of internal address this is (e.g. "loopback"), or None when a
        delivery may go there."""
        if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
            address = ipaddress.IPv6Address(address.compressed.partition("%")[0])
        if any(address in network for network in self.allowed):
            return None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            # ::ffff:127.0.0.1 reaches 127.0.0.1
            return self.refusal(address.ipv4_mapped)
        for network, kind in REFUSED:
            if address.version == network.version and address in network:
                return kind
        return None

    def check(self, host: str, addresses: Sequence[Address]) -> None:
        """Raises Refused when one of the host's addresses is internal and not allowed."""
        for address in addresses:
            kind = self.refusal(address)
            if kind is not None:
                article = "an" if kind[0] in "aeiou" else "a"
                said = f"{host} is" if ip_literal(host) == address else f"resolves to {address},"
                raise Refused(
                    f"{said} {article} {kind} address; an operator may allow it with "
                    f"{ALLOW_SETTING}"
                )

    def resolve(self, host: str, port: int) -> list[Address]:
        """Returns the host's addresses once each, all of them allowed (blocking: run it in a
        thread). Raises Unresolvable, or Refused when one of them may not be reached."""
        literal = ip_literal(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError) as error:
                raise Unresolvable(host) from error
            addresses = []
            for *_, where in found:
                address = ipaddress.ip_address(str(where[0]).partition("%")[0])
                if address not in addresses:
                    addresses.append(address)
            if not addresses:
                raise Unresolvable(host)
        self.check(host, addresses)
        return addresses

    async def check_url_host(self, host: str, port: int) -> None:
        """Raises Refused when the host is, or resolves now to, an address deliveries may not
        reach. A host that does not resolve (yet) passes: each attempt checks it again."""
        literal = ip_literal(host)
        if literal is not None:
            self.check(host, [literal])
            return
        try:
            async with asyncio.timeout(CREATION_RESOLVE_SECONDS):
                await asyncio.to_thread(self.resolve, host, port)
        except (Unresolvable, TimeoutError):
            return


# Deliveries to public addresses only: the default.
PUBLIC_ONLY = Destinations()


def ip_literal(host: str) -> Address | None:
    """Returns the address a URL's host names literally (`10.0.0.1`, `::1`), else None."""
    try:
        return ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return None
