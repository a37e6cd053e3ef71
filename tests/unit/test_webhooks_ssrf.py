"""The SSRF policy: only public unicast addresses, checked on every resolved address."""

from __future__ import annotations

import pytest

from shared.webhook_urls import Resolver, UrlRefused, check_shape, resolve_target


def _resolves_to(*addresses: str) -> Resolver:
    def resolver(host: str, port: int) -> list[str]:
        return list(addresses)
    return resolver


def _literal(host: str, port: int) -> list[str]:
    """Resolves IP literals only, so these tests never touch DNS."""
    return [host.strip("[]")]


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook", "http://127.1.2.3:8080/", "http://[::1]/hook",
    "http://10.0.0.5/", "http://172.16.0.1/", "http://172.31.255.255/", "http://192.168.1.10/",
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://[fc00::1]/",
    "http://[fd12:3456::1]/", "http://0.0.0.0/", "http://[::]/", "http://224.0.0.1/",
    "http://[ff02::1]/", "http://100.64.0.1/", "http://240.0.0.1/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:10.0.0.1]/", "http://255.255.255.255/",
])
def test_non_public_addresses_are_refused(url: str) -> None:
    with pytest.raises(UrlRefused, match="non-public"):
        resolve_target(url, allow_private=False, resolver=_literal)


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "api.localhost", "localhost."])
def test_localhost_names_are_refused_without_resolving(host: str) -> None:
    def must_not_resolve(h: str, p: int) -> list[str]:
        raise AssertionError("resolved")
    with pytest.raises(UrlRefused, match="local name"):
        resolve_target(f"http://{host}/hook", allow_private=False, resolver=must_not_resolve)


@pytest.mark.parametrize("url, address", [
    ("https://8.8.8.8/hook", "8.8.8.8"),
    ("http://93.184.215.14:8080/x", "93.184.215.14"),
    ("https://[2606:4700:4700::1111]/hook", "2606:4700:4700::1111"),
])
def test_public_addresses_are_accepted(url: str, address: str) -> None:
    assert resolve_target(url, allow_private=False, resolver=_literal).address == address


def test_name_resolving_to_any_private_address_is_refused() -> None:
    resolver = _resolves_to("93.184.215.14", "10.1.2.3")
    with pytest.raises(UrlRefused, match="10.1.2.3"):
        resolve_target("https://hooks.example.com/x", allow_private=False, resolver=resolver)


def test_public_name_is_pinned_to_its_checked_address() -> None:
    t = resolve_target("https://hooks.example.com/x", allow_private=False,
                       resolver=_resolves_to("93.184.215.14"))
    assert (t.scheme, t.host, t.port, t.address) == ("https", "hooks.example.com", 443,
                                                      "93.184.215.14")


def test_allow_private_lets_loopback_through() -> None:
    t = resolve_target("http://127.0.0.1:9/x", allow_private=True, resolver=_literal)
    assert (t.address, t.port) == ("127.0.0.1", 9)
    assert resolve_target("http://localhost/x", allow_private=True,
                          resolver=_resolves_to("127.0.0.1")).host == "localhost"


@pytest.mark.parametrize("url, message", [
    ("ftp://example.com/x", "http:// or https://"),
    ("example.com/hook", "http:// or https://"),
    ("https:///path", "no host"),
    ("https://user:pw@example.com/", "credentials"),
    ("https://example.com:99999/", "not a valid URL"),
    ("https://example.com/a b", "whitespace"),
    ("https://example.com/" + "a" * 3000, "longer than"),
])
def test_malformed_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(UrlRefused, match=message):
        check_shape(url)


def test_unresolvable_host_is_refused() -> None:
    with pytest.raises(UrlRefused, match="does not resolve"):
        resolve_target("https://x.example/", allow_private=False, resolver=_resolves_to())
