"""The SSRF policy: only public unicast addresses, checked on every resolved address."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


# ------------------------------------------------- issue 15.9: shapes and IPv6 transition forms
@pytest.mark.parametrize("url", [
    "https://example.com/a\x00b", "https://example.com/hook\x01", "https://example.com/\x1b[31m",
    "https://example.com/a\x7fb", "https://example.com/a\x85b", "https://example.com/?q=\x9f",
    "https://exa\x08mple.com/",
])
def test_control_characters_are_refused(url: str) -> None:
    with pytest.raises(UrlRefused, match="control characters"):
        check_shape(url)


@pytest.mark.parametrize("url", ["https://example.com:0/hook", "http://8.8.8.8:0/",
                                 "http://[2606:4700:4700::1111]:0/"])
def test_port_zero_is_refused(url: str) -> None:
    with pytest.raises(UrlRefused, match="port must be between 1 and 65535"):
        check_shape(url)


def test_default_ports_only_stand_in_for_a_missing_port() -> None:
    assert check_shape("https://example.com/x")[2] == 443
    assert check_shape("http://example.com/x")[2] == 80
    assert check_shape("http://example.com:/x")[2] == 80  # empty port: the default
    assert check_shape("http://example.com:1/x")[2] == 1


def test_non_ascii_path_is_refused_but_an_international_host_is_not() -> None:
    with pytest.raises(UrlRefused, match="ASCII"):
        check_shape("https://example.com/caf\u00e9")
    with pytest.raises(UrlRefused, match="ASCII"):
        check_shape("https://example.com/x?name=\u00fc")
    assert check_shape("https://example.com/caf%C3%A9")[1] == "example.com"
    assert check_shape("https://b\u00fccher.example/hook")[1] == "b\u00fccher.example"


@pytest.mark.parametrize("url, carried", [
    ("http://[2002:7f00:1::]/", "127.0.0.1"),            # 6to4 of loopback (the report)
    ("http://[2002:a00:1::1]/", "10.0.0.1"),              # 6to4 of a private address
    ("http://[2002:a9fe:a9fe::]/latest", "169.254.169.254"),  # 6to4 of cloud metadata
    ("http://[64:ff9b::7f00:1]/", "127.0.0.1"),           # NAT64 of loopback
    ("http://[64:ff9b::a9fe:a9fe]/", "169.254.169.254"),  # NAT64 of cloud metadata
    ("http://[::ffff:169.254.169.254]/", "169.254.169.254"),  # IPv4-mapped
])
def test_ipv6_forms_carrying_a_private_ipv4_are_refused(url: str, carried: str) -> None:
    with pytest.raises(UrlRefused, match=f"carries {carried}"):
        resolve_target(url, allow_private=False, resolver=_literal)


@pytest.mark.parametrize("url", [
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo: a relay decides
    "http://[64:ff9b:1::808:808]/",                    # local-use NAT64 (RFC 8215)
    "http://[::7f00:1]/",                              # IPv4-compatible (deprecated)
    "http://[::ffff:0:7f00:1]/",                       # IPv4-translated (SIIT)
])
def test_other_transition_forms_are_refused(url: str) -> None:
    with pytest.raises(UrlRefused, match="non-public"):
        resolve_target(url, allow_private=False, resolver=_literal)


@pytest.mark.parametrize("url", ["http://[2002:808:808::1]/", "http://[64:ff9b::808:808]/"])
def test_transition_forms_of_a_public_ipv4_are_accepted(url: str) -> None:
    assert resolve_target(url, allow_private=False, resolver=_literal).port == 80


def test_a_name_resolving_to_6to4_loopback_is_refused() -> None:
    with pytest.raises(UrlRefused, match="carries 127.0.0.1"):
        resolve_target("https://hooks.example.com/x", allow_private=False,
                       resolver=_resolves_to("2002:7f00:1::5"))


_CONTROL = st.one_of(st.characters(max_codepoint=0x1F), st.characters(min_codepoint=0x7F,
                                                                      max_codepoint=0x9F))


@given(st.text(max_size=40), _CONTROL, st.text(max_size=40))
def test_any_control_character_anywhere_is_refused(before: str, control: str,
                                                   after: str) -> None:
    with pytest.raises(UrlRefused):
        check_shape(f"https://example.com/{before}{control}{after}")
    with pytest.raises(UrlRefused, match="control characters"):
        check_shape(f"https://example.com/a{control}b")


@given(st.one_of(st.text(max_size=80),
                 st.tuples(st.sampled_from(["http://", "https://", "http://[", "https://a.b:"]),
                           st.text(max_size=60)).map("".join)))
def test_any_string_is_a_target_or_a_refusal(url: str) -> None:
    """Whatever a client sends as ``url``: UrlRefused (400) or a target, no other error."""
    try:
        t = resolve_target(url, allow_private=False, resolver=_resolves_to("93.184.215.14"))
    except UrlRefused:
        return
    assert 1 <= t.port <= 65535 and t.scheme in ("http", "https")
