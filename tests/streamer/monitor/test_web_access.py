"""Listening addresses, the Host check and the Origin check of the web outputs."""

from __future__ import annotations

import pytest

from damer_core.errors import ConfigError
from streamer.monitor.address import ListenAddress, parse_listen_address
from streamer.monitor.policy import AccessPolicy, check_origin, host_name


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("8765", "127.0.0.1", 8765),
        ("0", "127.0.0.1", 0),
        ("127.0.0.1:8765", "127.0.0.1", 8765),
        ("localhost:1", "localhost", 1),
        ("[::1]:8765", "::1", 8765),
        ("0.0.0.0:80", "0.0.0.0", 80),
        (" 192.168.1.5:65535 ", "192.168.1.5", 65535),
    ],
)
def test_listen_addresses(text: str, host: str, port: int) -> None:
    assert parse_listen_address(text) == ListenAddress(host, port)


@pytest.mark.parametrize("text", ["", "host", "host:", ":8765", "65536", "1.2.3.4:99999", "::1:8765", "a b:1", "-1"])
def test_malformed_listen_addresses(text: str) -> None:
    with pytest.raises(ConfigError, match=r"\[HOST:\]PORT|0\.\.65535"):
        parse_listen_address(text)


def test_addresses_know_their_reach_and_url() -> None:
    assert ListenAddress("127.0.0.1", 1).loopback and ListenAddress("localhost", 1).loopback
    assert ListenAddress("::1", 1).loopback and ListenAddress("127.4.5.6", 1).loopback
    assert not ListenAddress("0.0.0.0", 1).loopback and ListenAddress("0.0.0.0", 1).wildcard
    assert not ListenAddress("192.168.1.5", 1).loopback
    assert ListenAddress("::1", 0).url("ws", 8766) == "ws://[::1]:8766/"
    assert ListenAddress("0.0.0.0", 0).url("http", 8765) == "http://127.0.0.1:8765/"


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("http://localhost:8000", "http://localhost:8000"),
        ("HTTPS://Example.org", "https://example.org"),
        ("null", "null"),
    ],
)
def test_origins(text: str, origin: str) -> None:
    assert check_origin(text) == origin


@pytest.mark.parametrize("text", ["localhost:8000", "http://localhost:8000/", "http://x/path", "*", "ftp://x", ""])
def test_malformed_origins(text: str) -> None:
    with pytest.raises(ConfigError, match="expected an origin"):
        check_origin(text)


def test_host_names() -> None:
    assert host_name("LocalHost:8765") == "localhost"
    assert host_name("[::1]:8765") == "::1"
    assert host_name("127.0.0.1") == "127.0.0.1"
    assert host_name("a:b:c") is None


def test_host_check_refuses_names_of_other_sites_on_loopback() -> None:
    policy = AccessPolicy.build(ListenAddress("127.0.0.1", 8765), (), same_origin=True)
    for header in ("127.0.0.1:8765", "localhost:8765", "[::1]:8765", "localhost"):
        assert policy.host_allowed(header), header
    for header in ("evil.example:8765", "192.168.1.5:8765", "", None):
        assert not policy.host_allowed(header), header


def test_host_check_on_a_given_address_and_on_every_interface() -> None:
    specific = AccessPolicy.build(ListenAddress("192.168.1.5", 8765), (), same_origin=True)
    assert specific.host_allowed("192.168.1.5:8765")
    assert not specific.host_allowed("evil.example:8765") and not specific.host_allowed("localhost:8765")
    everywhere = AccessPolicy.build(ListenAddress("0.0.0.0", 8765), (), same_origin=True)
    assert everywhere.host_allowed("anything.local:8765") and everywhere.host_allowed(None)


def test_origin_check() -> None:
    address = ListenAddress("127.0.0.1", 8765)
    monitor = AccessPolicy.build(address, ["http://localhost:8000"], same_origin=True)
    assert monitor.origin_allowed(None, "127.0.0.1:8765")  # not a browser
    assert monitor.origin_allowed("http://127.0.0.1:8765", "127.0.0.1:8765")  # its own page
    assert monitor.origin_allowed("http://LOCALHOST:8765", "localhost:8765")
    assert monitor.origin_allowed("http://localhost:8000", "127.0.0.1:8765")  # allowed explicitly
    assert not monitor.origin_allowed("http://localhost:8765", "127.0.0.1:8765")  # not the page it was served as
    assert not monitor.origin_allowed("http://evil.example", "127.0.0.1:8765")
    assert not monitor.origin_allowed("null", "127.0.0.1:8765")
    ws = AccessPolicy.build(address, [], same_origin=False)
    assert not ws.origin_allowed("http://127.0.0.1:8765", "127.0.0.1:8765")
    assert ws.origin_allowed(None, "127.0.0.1:8765")
