"""Per-request proxy policy: which proxy, if any, a given image URL goes through.

Built from a node's ``image_http_proxy``/``image_https_proxy``/``image_no_proxy``
(conductor) or from IPA's ``image_info['proxies']``/``['no_proxy']`` (agent). Unlike
IPA, the decision is made per URL by this module (host names, domain suffixes, IPv4/IPv6
addresses, CIDR ranges, ports) and never through ``os.environ``.

``no_proxy`` semantics (as curl and Python's urllib): ``example.com``, ``.example.com``
and ``*.example.com`` all match example.com and every name below it, on label
boundaries (never ``notexample.com``); ``*`` matches everything; addresses and CIDR
ranges match URLs whose host is a literal address in them (names are not resolved);
``:port`` restricts an entry to URLs with that port (explicit or the scheme default).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import threading
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from ingot.common.redaction import redact_text

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_PORT = re.compile(r"^[0-9]{1,5}$")


class InvalidProxySetting(ValueError):
    """A proxy or no_proxy value is malformed; the message names the field and value."""


def _is_hostname(name: str) -> bool:
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    if not all(_LABEL.match(label) for label in labels):
        return False
    # "300.1.1.1" is neither an address nor a name (top-level labels are never numeric).
    return not labels[-1].isdigit()


def _port(text: str) -> int | None:
    if not _PORT.match(text):
        return None
    port = int(text)
    return port if 0 < port < 65536 else None


def normalize_proxy(field: str, value: str) -> str:
    """A proxy URL as ``http(s)://[user:pass@]host:port``; ``host:port`` means http.

    Raises InvalidProxySetting naming ``field`` and the (password-masked) value.
    """
    shown = redact_text(value) if isinstance(value, str) else repr(value)

    def invalid(reason: str) -> InvalidProxySetting:
        return InvalidProxySetting(f"{field} {shown!r} is not a valid proxy: {reason}. "
                                   f"Expected http://host:port, https://host:port or "
                                   f"host:port.")

    if not isinstance(value, str) or not value:
        raise invalid("it is empty or not a string")
    if any(char.isspace() for char in value):
        raise invalid("it contains whitespace")
    text = value
    if text.startswith("//"):
        text = "http:" + text
    elif "://" not in text:
        text = "http://" + text
    scheme = text.split("://", 1)[0].lower()
    if scheme not in _DEFAULT_PORTS:
        raise invalid(f"the scheme must be http or https, not {scheme!r}")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise invalid(str(exc)) from None
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in text \
            or "#" in text:
        raise invalid("a proxy URL has no path, query or fragment")
    hostport = parts.netloc.rsplit("@", 1)[-1]
    host = parts.hostname or ""
    if not host:
        raise invalid("the host is empty")
    if port is None or port == 0:
        raise invalid("a port between 1 and 65535 is required")
    if hostport.startswith("["):
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            raise invalid(f"{host!r} is not an IPv6 address") from None
        host_text = f"[{address.compressed}]"
    else:
        try:
            host_text = str(ipaddress.IPv4Address(host))
        except ValueError:
            if not _is_hostname(host):
                raise invalid(f"{host!r} is not a host name or IP address") from None
            host_text = host
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    if userinfo == "@":
        raise invalid("the user name is empty")
    return f"{scheme}://{userinfo}{host_text}:{port}"


@dataclasses.dataclass(frozen=True)
class NoProxyEntry:
    """One ``no_proxy`` entry: ``*``, a domain, or an address range, with an optional port."""

    text: str
    domain: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    def matches(self, host: str, address: IPAddress | None, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            return address is not None and address.version == self.network.version \
                and address in self.network
        if self.domain is not None:
            return address is None and (host == self.domain
                                        or host.endswith("." + self.domain))
        return True  # "*"


def _entry(text: str) -> NoProxyEntry | None:
    """Parse one entry; None when it is not valid."""
    body, port = text, None
    if body.startswith("["):  # [v6] or [v6]:port or [v6]/len
        close = body.find("]")
        if close < 0:
            return None
        rest = body[close + 1:]
        body = body[1:close] + (rest if rest.startswith("/") else "")
        if rest and not rest.startswith("/") and (
                not rest.startswith(":") or (port := _port(rest[1:])) is None):
            return None
        if ":" not in body.split("/")[0]:
            return None  # brackets are for IPv6 only
    elif body.count(":") == 1:  # name:port or v4:port
        body, port_text = body.split(":")
        if (port := _port(port_text)) is None:
            return None
    if body == "*":
        return NoProxyEntry(text, port=port)
    if ":" in body or "/" in body or body.replace(".", "").isdigit():
        try:
            network = ipaddress.ip_network(body, strict=False)
        except ValueError:
            return None
        return NoProxyEntry(text, network=network, port=port)
    domain = body.lower()
    if domain.startswith("*."):
        domain = domain[2:]
    elif domain.startswith("."):
        domain = domain[1:]
    domain = domain.removesuffix(".")
    if not _is_hostname(domain):
        return None
    return NoProxyEntry(text, domain=domain, port=port)


@dataclasses.dataclass(frozen=True)
class NoProxy:
    """The parsed ``no_proxy`` list."""

    entries: tuple[NoProxyEntry, ...] = ()

    def matches(self, url: str) -> bool:
        if not self.entries:
            return False
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().removesuffix(".")
        try:
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
        except ValueError:
            return False
        try:
            address: IPAddress | None = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            address = None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(entry.matches(host, address, port) for entry in self.entries)

    def __str__(self) -> str:
        return ",".join(entry.text for entry in self.entries)


def parse_no_proxy(field: str, value: object) -> NoProxy:
    """Parse a comma-separated ``no_proxy`` list; empty items are skipped."""
    if value is None:
        return NoProxy()
    if not isinstance(value, str):
        raise InvalidProxySetting(f"{field} must be a comma-separated string, got "
                                  f"{type(value).__name__}.")
    entries = []
    for raw in value.split(","):
        text = raw.strip()
        if not text:
            continue
        entry = None if any(char.isspace() for char in text) else _entry(text)
        if entry is None:
            raise InvalidProxySetting(
                f"{field} entry {text!r} is not valid: use host names, .domain or "
                f"*.domain suffixes, *, IPv4/IPv6 addresses or CIDR ranges, each "
                f"optionally with :port (IPv6 with a port as [addr]:port).")
        entries.append(entry)
    return NoProxy(tuple(entries))


@dataclasses.dataclass(frozen=True)
class ProxyPolicy:
    """Which proxy each URL uses: ``http`` for http URLs, ``https`` for https URLs,
    nothing for URLs matching ``no_proxy``. Values are normalized proxy URLs.
    """

    http: str | None = None
    https: str | None = None
    no_proxy: NoProxy = dataclasses.field(default_factory=NoProxy)

    def proxy_for(self, url: str) -> str | None:
        scheme = urlsplit(url).scheme.lower()
        proxy = self.http if scheme == "http" else self.https if scheme == "https" else None
        if proxy is None or self.no_proxy.matches(url):
            return None
        return proxy

    @property
    def has_proxies(self) -> bool:
        return bool(self.http or self.https)

    @classmethod
    def from_image_info(cls, image_info: Mapping[str, Any]) -> ProxyPolicy:
        """From IPA's ``image_info``: ``proxies`` ({'http':..., 'https':...}) and
        ``no_proxy``."""
        proxies = image_info.get("proxies") or {}
        if not isinstance(proxies, Mapping):
            raise InvalidProxySetting("image_info proxies must be an object with 'http' "
                                      "and/or 'https' keys.")
        unknown = sorted(set(proxies) - {"http", "https"})
        if unknown:
            # Silently ignoring e.g. {'all': ...} would send traffic direct unexpectedly.
            raise InvalidProxySetting(f"image_info proxies has unsupported key(s) "
                                      f"{', '.join(map(repr, unknown))}; only 'http' and "
                                      f"'https' are supported.")
        return cls._build(proxies.get("http"), proxies.get("https"),
                          image_info.get("no_proxy"),
                          ("proxies.http", "proxies.https", "no_proxy"))

    @classmethod
    def from_driver_info(cls, driver_info: Mapping[str, Any]) -> ProxyPolicy:
        """From a node's ``image_http_proxy``, ``image_https_proxy`` and
        ``image_no_proxy``; errors name those fields."""
        return cls._build(driver_info.get("image_http_proxy"),
                          driver_info.get("image_https_proxy"),
                          driver_info.get("image_no_proxy"),
                          ("image_http_proxy", "image_https_proxy", "image_no_proxy"))

    @classmethod
    def from_environment(cls) -> ProxyPolicy:
        """The conductor's own proxies: http_proxy, https_proxy and no_proxy from its
        environment. A node's proxies may be reachable only from the nodes' network,
        so the conductor never uses them for its own requests."""
        found = urllib.request.getproxies_environment()
        return cls._build(found.get("http"), found.get("https"), found.get("no"),
                          ("http_proxy", "https_proxy", "no_proxy"))

    @classmethod
    def _build(cls, http: Any, https: Any, no_proxy: Any,
               fields: tuple[str, str, str]) -> ProxyPolicy:
        return cls(
            http=normalize_proxy(fields[0], http) if http not in (None, "") else None,
            https=normalize_proxy(fields[1], https) if https not in (None, "") else None,
            no_proxy=parse_no_proxy(fields[2], no_proxy) if no_proxy else NoProxy())

    def image_info_fields(self) -> dict[str, Any]:
        """The ``proxies``/``no_proxy`` keys to put into IPA's image_info (none if
        there are no proxies, as Ironic does)."""
        proxies = {key: value for key, value in (("http", self.http),
                                                 ("https", self.https)) if value}
        if not proxies:
            return {}
        fields: dict[str, Any] = {"proxies": proxies}
        if self.no_proxy.entries:
            fields["no_proxy"] = str(self.no_proxy)
        return fields

    def __repr__(self) -> str:
        return (f"ProxyPolicy(http={self.http and redact_text(self.http)!r}, "
                f"https={self.https and redact_text(self.https)!r}, "
                f"no_proxy={str(self.no_proxy)!r})")


class ProxyRoutingTransport(httpx.BaseTransport):
    """An httpx transport choosing the proxy per request (redirects included) from a
    ProxyPolicy; one pooled transport per distinct proxy."""

    def __init__(self, policy: ProxyPolicy, **transport_options: Any):
        self.policy = policy
        self._options = transport_options
        self._transports: dict[str | None, httpx.HTTPTransport] = {}
        self._lock = threading.Lock()

    def transport_for(self, url: str) -> httpx.HTTPTransport:
        proxy = self.policy.proxy_for(url)
        with self._lock:
            transport = self._transports.get(proxy)
            if transport is None:
                transport = httpx.HTTPTransport(proxy=proxy, **self._options)
                self._transports[proxy] = transport
            return transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.transport_for(str(request.url)).handle_request(request)

    def close(self) -> None:
        with self._lock:
            transports, self._transports = list(self._transports.values()), {}
        for transport in transports:
            transport.close()


def http_client(policy: ProxyPolicy, *, timeout: httpx.Timeout | float = 30.0,
                verify: bool | str = True, **client_options: Any) -> httpx.Client:
    """An httpx client that ignores the environment and routes by ``policy``."""
    return httpx.Client(transport=ProxyRoutingTransport(policy, verify=verify),
                        trust_env=False, timeout=timeout, follow_redirects=True,
                        **client_options)
