"""Values that must never reach an iPXE script: refused with the field named."""

from __future__ import annotations

import pytest

from ingot.boot.checks import check_boot_url, normalize_mac
from ingot.boot.errors import BootConfigError
from ingot.boot.kernel_params import build_kernel_params, node_kernel_params
from ingot.boot.render import render_deploy_config
from tests.boot.conftest import API_URL, HTTP_URL, NODE, SIG

KERNEL = f"{HTTP_URL}/{NODE}/deploy_kernel"
RAMDISK = f"{HTTP_URL}/{NODE}/deploy_ramdisk"
FIELD = "instance_info.kernel_append_params"

UNSAFE_PARAMS = {
    "LF": "console=ttyS0\nchain http://evil/x",
    "CR": "console=ttyS0\rchain",
    "CRLF": "a=1\r\nshell",
    "NUL": "console=ttyS0\0",
    "tab": "a=1\tb=2",
    "escape": "a=\x1b[2J",
    "unicode line separator": "a=1\u2028b=2",
    "non-ASCII": "a=caf\u00e9",
    "setting expansion": "a=${net0/ip}",
    "and operator": "a=1&&shell",
    "and operator alone": "a=1 && shell",
    "or operator": "a=1||shell",
    "lone semicolon": "a=1 ; shell",
    "comment": "a=1 #rest",
    "double quote": 'a="x y"',
    "single quote": "a='x'",
    "backslash": "a=x\\y",
    "BOOTIF override": "BOOTIF=01-aa-bb-cc-dd-ee-ff",
    "initrd override": "initrd=evil",
    "ipa-api-url override": "ipa-api-url=http://evil",
}


@pytest.mark.parametrize("value", UNSAFE_PARAMS.values(), ids=UNSAFE_PARAMS.keys())
def test_unsafe_kernel_append_params_are_refused(value: str) -> None:
    with pytest.raises(BootConfigError) as caught:
        node_kernel_params(ipa_api_url=API_URL, instance_info={"kernel_append_params": value},
                           driver_info={}, default_append="nofb")
    assert caught.value.field == FIELD
    assert str(caught.value).startswith(f"{FIELD}: ")
    # The message shows the bad character escaped, never raw.
    assert "\n" not in str(caught.value) and "\r" not in str(caught.value)


@pytest.mark.parametrize("value", ["a=1", "console=ttyS0,115200n8", "ip=::::eth0:dhcp",
                                   "8250.nr_uarts=1", "quiet", "a=$x", "a=b;c",
                                   "rd.break=pre-mount", "x={y}"])
def test_ordinary_kernel_params_pass(value: str) -> None:
    line = node_kernel_params(ipa_api_url=API_URL, instance_info={},
                              driver_info={"kernel_append_params": value},
                              default_append="nofb")
    assert line.words[0] == value


@pytest.mark.parametrize(("key", "value", "field"), [
    ("ipa-debug", "1\n", "kernel parameter 'ipa-debug'"),
    ("ipa-global-request-id", "req 1", "kernel parameter 'ipa-global-request-id'"),
    ("bad key", "1", "kernel parameter 'bad key'"),
    ("a=b", "1", "kernel parameter 'a=b'"),
    ("x", "${mac}", "kernel parameter 'x'"),
    ("BOOTIF", "aa", "kernel parameter BOOTIF"),
])
def test_unsafe_extra_params_are_refused(key: str, value: str, field: str) -> None:
    with pytest.raises(BootConfigError) as caught:
        build_kernel_params(ipa_api_url=API_URL, extra={key: value})
    assert caught.value.field == field


@pytest.mark.parametrize("url", ["http://a/\nshell", "http://a b/", "http://a/${x}",
                                 "http://a/x&&y", 'http://a/"x"', "http://a/x\\y"])
def test_unsafe_api_url_is_refused(url: str) -> None:
    with pytest.raises(BootConfigError) as caught:
        build_kernel_params(ipa_api_url=url)
    assert caught.value.field == "ipa-api-url"


def test_api_url_may_be_https_because_the_agent_talks_to_it() -> None:
    line = build_kernel_params(ipa_api_url="https://api.example:6385")
    assert line.value_of("ipa-api-url") == "https://api.example:6385"


def test_too_long_command_line_is_refused() -> None:
    with pytest.raises(BootConfigError, match="kernel command line would be"):
        build_kernel_params(ipa_api_url=API_URL, append_params=" ".join(["quiet"] * 400),
                            append_field=FIELD)


UNSAFE_URLS = {
    "https": (f"https://192.0.2.20/v1/AUTH_t/glance/x?temp_url_sig={SIG}", "no HTTPS"),
    "ftp": ("ftp://192.0.2.20/kernel", "must be an http://"),
    "space": ("http://192.0.2.20/my kernel", "space"),
    "LF": ("http://192.0.2.20/k\nchain http://evil/", "U+000A"),
    "CR": ("http://192.0.2.20/k\r", "U+000D"),
    "NUL": ("http://192.0.2.20/k\0", "U+0000"),
    "setting": ("http://192.0.2.20/${net0/ip}/k", "'${'"),
    "and": ("http://192.0.2.20/k?a=1&&b=2", "'&&'"),
    "or": ("http://192.0.2.20/k||chain", "'||'"),
    "quote": ('http://192.0.2.20/k"', "not allowed in a URL"),
    "single quote": ("http://192.0.2.20/k'", "quote"),
    "backslash": ("http://192.0.2.20/k\\", "not allowed in a URL"),
    "pipe": ("http://192.0.2.20/k|x", "not allowed in a URL"),
    "fragment": ("http://192.0.2.20/k#frag", "fragment"),
    "credentials": ("http://user:pw@192.0.2.20/k", "credentials"),
    "no host": ("http:///k", "no host"),
    "%26 in query": ("http://192.0.2.20/k?filename=a%26b", "%26"),
    "%2B in query": ("http://192.0.2.20/k?temp_url_sig=ab%2Bcd", "%2B"),
    "%2F in query": ("http://192.0.2.20/k?temp_url_sig=ab%2fcd", "%2f"),
    "%3D in query": ("http://192.0.2.20/k?temp_url_sig=sha512:ab%3D", "%3D"),
    "%2F in path": ("http://192.0.2.20/v1/AUTH_t/c/a%2Fb", "%2F"),
    "broken escape": ("http://192.0.2.20/k?a=%zz", "no %XX escape"),
    "empty": ("", "required"),
}


@pytest.mark.parametrize(("url", "why"), UNSAFE_URLS.values(), ids=UNSAFE_URLS.keys())
def test_unsafe_boot_urls_are_refused_with_the_field_named(url: str, why: str) -> None:
    with pytest.raises(BootConfigError) as caught:
        render_deploy_config(url, RAMDISK, f"ipa-api-url={API_URL}", node_uuid=NODE)
    assert caught.value.field == "deploy_kernel URL"
    assert why in str(caught.value)
    with pytest.raises(BootConfigError) as caught:
        render_deploy_config(KERNEL, url, f"ipa-api-url={API_URL}", node_uuid=NODE)
    assert caught.value.field == "deploy_ramdisk URL"


def test_refused_temp_url_is_shown_without_its_signature() -> None:
    with pytest.raises(BootConfigError) as caught:
        check_boot_url("deploy_kernel URL",
                       f"https://swift/v1/AUTH_t/glance/x?temp_url_sig={SIG}&temp_url_expires=1")
    assert SIG not in str(caught.value) and "temp_url_sig=******" in str(caught.value)


@pytest.mark.parametrize("url", [
    f"http://192.0.2.20:8080/v1/AUTH_t/glance/x?temp_url_sig={SIG}&temp_url_expires=1900000000",
    f"http://192.0.2.20/v1/AUTH_t/glance/x?temp_url_sig={SIG}&temp_url_expires=19&inline",
    "http://192.0.2.20/v1/AUTH_t/c/with%20space%3Aand%40at",  # the ROM keeps these escaped
    "http://192.0.2.20/a%41b",  # unreserved: decoding changes nothing
    "http://192.0.2.20/x?filename=a:b@c",  # the ROM escapes ':' and '@' itself
    "http://[2001:db8::1]:8080/k",
])
def test_urls_that_arrive_intact_are_accepted(url: str) -> None:
    assert check_boot_url("url", url) == url


@pytest.mark.parametrize("mac", ["52:54:00:12:34:56", "52-54-00-12-34-56",
                                 "52:54:00:AB:CD:EF"])
def test_macs_are_normalized_as_ipxe_prints_them(mac: str) -> None:
    assert normalize_mac("mac", mac) == mac.lower().replace(":", "-")


@pytest.mark.parametrize("mac", ["52:54:00:12:34", "../../etc/passwd", "52:54:00:12:34:5g",
                                 "52:54:00:12:34:56\n"])
def test_bad_macs_are_refused(mac: str) -> None:
    with pytest.raises(BootConfigError, match=r"^port MAC: "):
        normalize_mac("port MAC", mac)


@pytest.mark.parametrize("uuid", ["../etc", "1BE26C0B-03F2-4D2E-AE87-C02D7F33C123x", ""])
def test_node_uuid_must_be_a_uuid(uuid: str) -> None:
    with pytest.raises(BootConfigError, match="node uuid"):
        render_deploy_config(KERNEL, RAMDISK, f"ipa-api-url={API_URL}", node_uuid=uuid)
