"""Webhook target URLs: shape checks and the server-side request forgery (SSRF) policy.

A webhook makes our workers send requests to an address a client chose. Without a policy a
client could point it at Redis on 127.0.0.1, a cloud metadata service on 169.254.169.254 or
anything on the private network. So every address a host name resolves to must be a public
unicast one; loopback, link-local, private, shared (CGNAT), multicast, reserved, unspecified
and IPv6 forms that carry one of those inside (IPv4-mapped, 6to4, NAT64) are refused, unless
``JOBGRID_WEBHOOK_ALLOW_PRIVATE`` is set. Teredo addresses are refused whatever they carry.

The check runs at registration (400 ``validation_error``) and again before every attempt,
because DNS can change between the two. At delivery the request is then sent to exactly the
address that passed the check (see ``worker.webhooks``), so a second, different DNS answer
(DNS rebinding) cannot slip in between check and connect.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
#: NAT64 prefixes (RFC 6052, RFC 8215): the well-known one carries an IPv4 address in its
#: last 32 bits, which is where a translator sends the packet; the local-use one is local.
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: host, port -> the addresses it resolves to (injectable for tests)
Resolver = Callable[[str, int], list[str]]


class UrlRefused(ValueError):
    """Raised when a webhook URL is malformed or points at an address the policy forbids."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: where to connect (``address``) and what to call it (``host``)."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (TCP), as strings."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise UrlRefused(f"the host '{host}' does not resolve") from e
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _is_control(c: str) -> bool:
    """C0 controls, DEL and C1 controls: never valid in a URL, and a request line holding
    one cannot be sent (every attempt would fail and be retried for nothing)."""
    o = ord(c)
    return o < 0x20 or 0x7F <= o <= 0x9F


def check_shape(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an absolute http(s) URL without credentials, else UrlRefused."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"url is longer than {MAX_URL_LENGTH} characters")
    if any(_is_control(c) for c in url):
        raise UrlRefused("url must not contain control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise UrlRefused(f"url is not a valid URL: {e}") from e
    if port == 0:  # urlsplit accepts it; "port or default" would then check another port
        raise UrlRefused("url port must be between 1 and 65535")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlRefused("url must start with http:// or https://")
    if not parts.hostname:
        raise UrlRefused("url has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("url must not contain credentials; use the signing secret instead")
    if any(c.isspace() for c in url):
        raise UrlRefused("url must not contain whitespace")
    # the request line is sent as ASCII; an international host name is fine (IDNA)
    if not (parts.path + parts.query + parts.fragment).isascii():
        raise UrlRefused("url path and query must be ASCII; percent-encode other characters")
    return scheme, parts.hostname, port if port is not None else DEFAULT_PORTS[scheme]


def carried_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address delivers to: IPv4-mapped (``::ffff:a.b.c.d``), 6to4
    (``2002:AABB:CCDD::/48``, whose relay forwards to ``a.b.c.d``) or NAT64
    (``64:ff9b::a.b.c.d``, where a translator does); None for every other address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """True only for globally routable unicast addresses.

    An IPv6 address that carries an IPv4 address (``carried_ipv4``) is judged by that IPv4
    address, so ``http://[2002:7f00:1::]/`` is loopback. Teredo (``2001::/32``) and local-use
    NAT64 (``64:ff9b:1::/48``) are refused outright: a relay decides where they end up.
    IPv4-compatible (``::a.b.c.d``) and other ``::/8`` forms are refused as reserved.
    """
    inner = carried_ipv4(address)
    if inner is not None:
        return is_public(inner)
    if isinstance(address, ipaddress.IPv6Address) and (
            address.teredo is not None or address in NAT64_LOCAL_USE):
        return False
    return not (
        address.is_loopback or address.is_link_local or address.is_private
        or address.is_multicast or address.is_reserved or address.is_unspecified
        or not address.is_global
    )


def _is_local_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def _parse_address(raw: str) -> IPAddress:
    return ipaddress.ip_address(raw.split("%", 1)[0])  # drop an IPv6 zone id


def resolve_target(
    url: str, *, allow_private: bool, resolver: Resolver = system_resolver
) -> Target:
    """The checked target of ``url``; raises UrlRefused naming why it is not acceptable."""
    scheme, host, port = check_shape(url)
    if not allow_private and _is_local_name(host):
        raise UrlRefused(f"url host '{host}' is a local name; webhooks must reach a public host")
    addresses = resolver(host, port)
    if not addresses:
        raise UrlRefused(f"the host '{host}' does not resolve")
    if not allow_private:
        for raw in addresses:
            address = _parse_address(raw)
            if not is_public(address):
                inner = carried_ipv4(address)
                shown = f"{raw} (which carries {inner})" if inner is not None else raw
                raise UrlRefused(f"url host '{host}' resolves to {shown}, a loopback, private "
                                 "or otherwise non-public address; webhooks must reach a "
                                 "public host")
    return Target(url=url, scheme=scheme, host=host, port=port, address=addresses[0])
