"""Webhook target URLs: shape checks and the server-side request forgery (SSRF) policy.

A webhook makes our workers send requests to an address a client chose. Without a policy a
client could point it at Redis on 127.0.0.1, a cloud metadata service on 169.254.169.254 or
anything on the private network. So every address a host name resolves to must be a public
unicast one; loopback, link-local, private, shared (CGNAT), multicast, reserved, unspecified
and IPv4-mapped forms of those are refused, unless ``JOBGRID_WEBHOOK_ALLOW_PRIVATE`` is set.

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


def check_shape(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an absolute http(s) URL without credentials, else UrlRefused."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"url is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise UrlRefused(f"url is not a valid URL: {e}") from e
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlRefused("url must start with http:// or https://")
    if not parts.hostname:
        raise UrlRefused("url has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("url must not contain credentials; use the signing secret instead")
    if any(c.isspace() for c in url):
        raise UrlRefused("url must not contain whitespace")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


def is_public(address: IPAddress) -> bool:
    """True only for globally routable unicast addresses."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
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
            if not is_public(_parse_address(raw)):
                raise UrlRefused(f"url host '{host}' resolves to {raw}, a loopback, private or "
                                 "otherwise non-public address; webhooks must reach a public "
                                 "host")
    return Target(url=url, scheme=scheme, host=host, port=port, address=addresses[0])
