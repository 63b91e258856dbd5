"""The proxy's configuration: ironic-proxy's format, read unchanged, plus a few options.

ironic-proxy's options: ``[DEFAULT] groups`` (a dict ``group:site``, ``_`` for the default
group), ``[group:SITE]`` sections of keystoneauth1 auth, session and adapter options, and
``[api] auth_strategy``. ingot adds ``http_basic`` and ``noauth`` strategies, ``[api]
host_ip``/``port`` as for ``ingot serve``, and a ``[proxy]`` group. The options live here,
not in ingot.conf: the proxy is a different program with a different config file.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import http_basic, loading, noauth
from oslo_config import cfg

DEFAULT_GROUP_KEY = "_"

default_opts = [
    cfg.DictOpt("groups", default={},
                help="Conductor groups mapped to sites, e.g. _:loc1,grp1:loc2,grp2:loc1 "
                     "(_ is the default, empty, group). Each site needs a [group:SITE] "
                     "section with keystoneauth1 options to reach it."),
    cfg.BoolOpt("debug", default=False, help="Log at debug level."),
    cfg.StrOpt("http_basic_auth_user_file", default="/etc/ingot/htpasswd",
               help="htpasswd file with bcrypt entries, for [api] auth_strategy "
                    "http_basic."),
]

api_group = cfg.OptGroup("api", title="The proxy's Bare Metal API")
api_opts = [
    cfg.HostAddressOpt("host_ip", default="127.0.0.1", help="Address the proxy listens on."),
    cfg.PortOpt("port", default=6385, help="Port the proxy listens on."),
    cfg.StrOpt("auth_strategy", default="keystone",
               choices=[("keystone", "Keystone tokens, checked with [keystone_authtoken]"),
                        ("none", "no authentication (ironic-proxy's name)"),
                        ("noauth", "no authentication (Ironic's name)"),
                        ("http_basic", "HTTP basic against http_basic_auth_user_file")],
               help="How callers authenticate. The default is ironic-proxy's."),
    cfg.ListOpt("keystone_allowed_roles", default=[],
                help="With auth_strategy keystone: if set, a token needs one of these "
                     "roles. Empty (the default, as in ironic-proxy): any valid token; "
                     "the sites then apply their own policies to the proxy's requests."),
    cfg.StrOpt("public_endpoint",
               help="Public URL of the proxy, used in links. Defaults to the request's "
                    "host URL."),
    cfg.IntOpt("max_limit", default=1000, min=1,
               help="Most items a list request returns at once."),
    cfg.IntOpt("max_json_body_size", default=67108864, min=1024,
               help="Largest request body forwarded to a site (a provision request may "
                    "carry a config drive)."),
    cfg.BoolOpt("debug", default=False, help="ironic-proxy's debug switch: logs at debug "
                                             "level, like [DEFAULT] debug."),
]

proxy_group = cfg.OptGroup("proxy", title="Talking to the sites")
proxy_opts = [
    cfg.FloatOpt("site_timeout", default=10.0, min=0.1,
                 help="Seconds a site may take to answer, unless its [group:SITE] "
                      "section sets timeout."),
    cfg.BoolOpt("partial_listings", default=True,
                help="When a site fails during a listing, answer with the other sites' "
                     "items and name the missing site in the X-Ingot-Missing-Sites "
                     "header. False answers 503 instead."),
    cfg.FloatOpt("discovery_interval", default=30.0, min=0.1,
                 help="Seconds between version discoveries of the sites that answer."),
    cfg.FloatOpt("down_probe_interval", default=2.0, min=0.1,
                 help="Seconds between probes of a site that is down; requests skip it "
                      "until a probe succeeds."),
    cfg.IntOpt("cache_size", default=100000, min=100,
               help="Nodes (and, separately, ports) whose site the proxy remembers."),
]


class ConfigError(Exception):
    """The configuration cannot work; the message says what to change."""


@dataclasses.dataclass(frozen=True, slots=True)
class SiteConfig:
    name: str
    groups: tuple[str, ...]
    adapter: Any  # keystoneauth1 Adapter: the site's endpoint and its auth headers
    # none and http_basic headers never change; Keystone tokens expire and are renewed.
    static_auth: bool
    timeout: float
    verify: bool | str
    cert: tuple[str, str] | str | None


@dataclasses.dataclass(frozen=True, slots=True)
class ProxySettings:
    host_ip: str = "127.0.0.1"
    port: int = 6385
    auth_strategy: str = "keystone"
    public_endpoint: str | None = None
    max_limit: int = 1000
    max_body: int = 67108864
    partial_listings: bool = True
    discovery_interval: float = 30.0
    down_probe_interval: float = 2.0
    cache_size: int = 100000
    debug: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class ProxyConfig:
    conf: cfg.ConfigOpts
    settings: ProxySettings
    sites: tuple[SiteConfig, ...]  # sorted by name: the tie-break order of listings
    groups: dict[str, str]  # conductor group ("" for the default) -> site name


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(default_opts)
    conf.register_group(api_group)
    conf.register_opts(api_opts, group=api_group)
    conf.register_group(proxy_group)
    conf.register_opts(proxy_opts, group=proxy_group)


def list_opts() -> list[tuple[str | cfg.OptGroup | None, list[cfg.Opt]]]:
    return [(None, default_opts), (api_group, api_opts), (proxy_group, proxy_opts)]


def load(args: list[str]) -> ProxyConfig:
    """Parse the command line and config files; raise ConfigError when it cannot work."""
    conf = cfg.ConfigOpts()
    register(conf)
    conf(args, project="ingot-proxy", default_config_files=[])
    return from_conf(conf)


def from_conf(conf: cfg.ConfigOpts) -> ProxyConfig:
    groups = _groups(conf.groups)
    sections = set(conf.list_all_sections())
    by_site: dict[str, list[str]] = {}
    for group, site in groups.items():
        if f"group:{site}" not in sections:
            raise ConfigError(
                f"[DEFAULT] groups maps conductor group {_shown(group)} to site {site!r}, "
                f"but the configuration has no [group:{site}] section to reach it.")
        by_site.setdefault(site, []).append(group)
    sites = tuple(_site(conf, name, tuple(sorted(by_site[name])))
                  for name in sorted(by_site))
    settings = ProxySettings(
        host_ip=conf.api.host_ip, port=conf.api.port, auth_strategy=conf.api.auth_strategy,
        public_endpoint=conf.api.public_endpoint, max_limit=conf.api.max_limit,
        max_body=conf.api.max_json_body_size, partial_listings=conf.proxy.partial_listings,
        discovery_interval=conf.proxy.discovery_interval,
        down_probe_interval=conf.proxy.down_probe_interval,
        cache_size=conf.proxy.cache_size, debug=conf.debug or conf.api.debug)
    _check_auth(conf, settings.auth_strategy)
    return ProxyConfig(conf=conf, settings=settings, sites=sites, groups=groups)


def _shown(group: str) -> str:
    return repr(group) if group else "_ (the default group)"


def _groups(raw: dict[str, str]) -> dict[str, str]:
    if not raw:
        raise ConfigError("No conductor groups are mapped to sites: set [DEFAULT] groups, "
                          "e.g. groups = _:loc1,grp1:loc2 (_ is the default group), and a "
                          "[group:SITE] section for each site.")
    groups: dict[str, str] = {}
    for key, site in raw.items():
        # Ironic stores conductor groups in lower case; "_" stands for the empty one.
        group = "" if key.strip() == DEFAULT_GROUP_KEY else key.strip().lower()
        site = (site or "").strip()
        if not site:
            raise ConfigError(f"[DEFAULT] groups maps conductor group {_shown(group)} to an "
                              f"empty site name; write group:site.")
        if group in groups and groups[group] != site:
            raise ConfigError(f"[DEFAULT] groups maps conductor group {_shown(group)} to "
                              f"two sites, {groups[group]!r} and {site!r}.")
        groups[group] = site
    return groups


def _site(conf: cfg.ConfigOpts, name: str, groups: tuple[str, ...]) -> SiteConfig:
    section = f"group:{name}"
    loading.register_auth_conf_options(conf, section)
    loading.register_session_conf_options(conf, section)
    loading.register_adapter_conf_options(conf, section)
    options = conf[section]
    try:
        auth = loading.load_auth_from_conf_options(conf, section)
        session = loading.load_session_from_conf_options(conf, section, auth=auth)
        adapter = loading.load_adapter_from_conf_options(conf, section, session=session,
                                                         auth=auth)
    except (ks_exc.ClientException, cfg.Error, ValueError) as exc:
        # keystoneauth names the missing option; never the values of the others.
        raise ConfigError(f"[{section}]: {exc}") from None
    if auth is None:
        raise ConfigError(f"[{section}] sets no auth_type: use auth_type = none with "
                          f"endpoint_override = URL, auth_type = http_basic, or a Keystone "
                          f"plugin such as password.")
    endpoint = options.endpoint_override or getattr(auth, "endpoint", None)
    static = isinstance(auth, noauth.NoAuth | http_basic.HTTPBasicAuth)
    if static and not endpoint:
        raise ConfigError(f"[{section}] uses auth_type = {options.auth_type} but sets no "
                          f"endpoint_override with the site's URL.")
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"[{section}] endpoint_override {endpoint!r} is not an http(s) URL.")
    if adapter.service_type is None:
        adapter.service_type = "baremetal"
    cert: tuple[str, str] | str | None = None
    if options.certfile:
        cert = (options.certfile, options.keyfile) if options.keyfile else options.certfile
    verify: bool | str = False if options.insecure else (options.cafile or True)
    timeout = options.timeout if options.timeout else conf.proxy.site_timeout
    return SiteConfig(name=name, groups=groups, adapter=adapter, static_auth=static,
                      timeout=float(timeout), verify=verify, cert=cert)


def _check_auth(conf: cfg.ConfigOpts, strategy: str) -> None:
    if strategy == "http_basic":
        path = conf.http_basic_auth_user_file
        if not os.access(path, os.R_OK):
            raise ConfigError(f"[api] auth_strategy = http_basic needs a readable "
                              f"[DEFAULT] http_basic_auth_user_file; cannot read {path}.")
    elif strategy == "keystone":
        from ingot.conf import keystone  # noqa: PLC0415 - heavy, only in keystone mode

        keystone.register(conf)
        if not conf[keystone.GROUP].auth_type:
            raise ConfigError("[api] auth_strategy = keystone (the default) needs "
                              "[keystone_authtoken] with auth_type and its credentials; "
                              "set [api] auth_strategy = none to run without "
                              "authentication.")
