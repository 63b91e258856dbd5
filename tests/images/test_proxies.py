"""Proxy URLs and no_proxy lists: parsing, errors naming the field, per-URL decisions."""

from __future__ import annotations

import pytest

from ingot.images.proxies import (
    InvalidProxySetting,
    ProxyPolicy,
    normalize_proxy,
    parse_no_proxy,
)


@pytest.mark.parametrize(("value", "expected"), [
    ("proxy.example.com:3128", "http://proxy.example.com:3128"),
    ("http://proxy.example.com:3128", "http://proxy.example.com:3128"),
    ("http://proxy.example.com:3128/", "http://proxy.example.com:3128"),
    ("HTTPS://Proxy.Example.COM:443", "https://proxy.example.com:443"),
    ("10.0.0.1:3128", "http://10.0.0.1:3128"),
    ("[2001:db8::1]:3128", "http://[2001:db8::1]:3128"),
    ("http://[2001:0db8:0::1]:8080", "http://[2001:db8::1]:8080"),
    ("http://user:pa%40ss@proxy:3128", "http://user:pa%40ss@proxy:3128"),
])
def test_proxy_urls_are_normalized(value: str, expected: str) -> None:
    assert normalize_proxy("image_http_proxy", value) == expected


@pytest.mark.parametrize(("value", "reason"), [
    ("socks5://proxy:1080", "scheme"),
    ("ftp://proxy:21", "scheme"),
    ("http://:3128", "host is empty"),
    ("proxy.example.com", "port"),
    ("http://proxy:0", "port"),
    ("http://proxy:70000", "Port"),
    ("http://proxy:abc", "Port"),
    ("http://proxy:3128/path", "path"),
    ("http://proxy:3128?x=1", "query"),
    ("http://pro xy:3128", "whitespace"),
    (" proxy:3128", "whitespace"),
    ("http://bad_host!:3128", "host name"),
    ("http://[::1:3128", "IPv6"),
    ("", "empty"),
])
def test_bad_proxy_urls_are_rejected_naming_field_and_value(value: str, reason: str) -> None:
    with pytest.raises(InvalidProxySetting) as caught:
        normalize_proxy("image_https_proxy", value)
    message = str(caught.value)
    assert message.startswith("image_https_proxy ")
    assert reason in message
    assert repr(value) in message or not value


def test_proxy_errors_never_echo_passwords() -> None:
    with pytest.raises(InvalidProxySetting) as caught:
        normalize_proxy("image_http_proxy", "http://admin:hunter2@proxy:3128/oops")
    assert "hunter2" not in str(caught.value)
    assert "admin" not in str(caught.value)
    assert "proxy:3128/oops" in str(caught.value)
    policy = ProxyPolicy.from_image_info({"proxies": {"http": "http://u:hunter2@p:1"}})
    assert "hunter2" not in repr(policy)


def test_no_proxy_entries_parse_and_garbage_names_entry_and_field() -> None:
    parsed = parse_no_proxy("image_no_proxy", "a.example, .b.example,*.c.example,*,"
                                              "10.0.0.0/8,::1,[fe80::1]:8080,fd00::/8,"
                                              "[2001:db8::]/32,host:8080,192.0.2.1:22,,")
    assert len(parsed.entries) == 11
    for garbage in ("a b", "a..b", "-a.example", "1.2.3.999", "[10.0.0.1]", "host:0",
                    "host:99999", "*.", "*foo", "http://x", "a/b"):
        with pytest.raises(InvalidProxySetting) as caught:
            parse_no_proxy("image_no_proxy", f"ok.example,{garbage}")
        assert "image_no_proxy" in str(caught.value)
        assert repr(garbage) in str(caught.value)


POLICY = ProxyPolicy.from_image_info({
    "proxies": {"http": "proxy:3128", "https": "https://sproxy:3129"},
    "no_proxy": "images.example,.internal,*.lab.example,10.0.0.0/8,192.0.2.7,"
                "[2001:db8::]/32,::1,cache.example:8080,[fe80::5]:80",
})


@pytest.mark.parametrize(("url", "proxy"), [
    ("http://images.example/disk.img", None),
    ("http://www.images.example/disk.img", None),
    ("http://notimages.example/disk.img", "http://proxy:3128"),
    ("http://internal/disk.img", None),
    ("http://a.b.internal/disk.img", None),
    ("http://a.lab.example/x", None),
    ("http://lab.example/x", None),
    ("http://10.1.2.3/x", None),
    ("http://11.1.2.3/x", "http://proxy:3128"),
    ("http://192.0.2.7:8000/x", None),
    ("http://192.0.2.8/x", "http://proxy:3128"),
    ("http://[2001:db8:1::5]/x", None),
    ("http://[2001:db9::5]/x", "http://proxy:3128"),
    ("http://[::1]:9000/x", None),
    ("http://cache.example:8080/x", None),
    ("http://cache.example/x", "http://proxy:3128"),
    ("http://[fe80::5]/x", None),
    ("http://[fe80::5]:81/x", "http://proxy:3128"),
    ("https://secure.example/x", "https://sproxy:3129"),
    ("https://10.0.0.1/x", None),
    ("HTTP://IMAGES.EXAMPLE./x", None),
])
def test_proxy_is_decided_per_url(url: str, proxy: str | None) -> None:
    assert POLICY.proxy_for(url) == proxy


def test_star_bypasses_everything_and_scheme_picks_the_proxy() -> None:
    star = ProxyPolicy(http="http://p:1", https=None,
                       no_proxy=parse_no_proxy("image_no_proxy", "*"))
    assert star.proxy_for("http://anything.example/") is None
    only_http = ProxyPolicy(http="http://p:1")
    assert only_http.proxy_for("http://x/") == "http://p:1"
    assert only_http.proxy_for("https://x/") is None


def test_image_info_and_driver_info_round_trip() -> None:
    policy = ProxyPolicy.from_driver_info({"image_http_proxy": "p.example:3128",
                                           "image_no_proxy": "10.0.0.0/8,.lan"})
    fields = policy.image_info_fields()
    assert fields == {"proxies": {"http": "http://p.example:3128"},
                      "no_proxy": "10.0.0.0/8,.lan"}
    assert ProxyPolicy.from_image_info(fields) == policy
    assert ProxyPolicy().image_info_fields() == {}
    with pytest.raises(InvalidProxySetting, match="image_no_proxy"):
        ProxyPolicy.from_driver_info({"image_http_proxy": "p:1", "image_no_proxy": "a b"})
    with pytest.raises(InvalidProxySetting, match="unsupported key"):
        ProxyPolicy.from_image_info({"proxies": {"all": "p:1"}})
