"""What the proxy's handlers share: the sites, the version book and the caches."""

from __future__ import annotations

import dataclasses

from starlette.requests import Request

from ingot.proxy.config import ProxyConfig, ProxySettings
from ingot.proxy.continuation import RecentPages
from ingot.proxy.locator import Locator
from ingot.proxy.sites import Site
from ingot.proxy.versions import VersionBook

# The collections besides nodes and ports whose items the proxy routes by UUID.
OTHER_PATHS = ("/v1/portgroups", "/v1/chassis", "/v1/volume/connectors",
               "/v1/volume/targets", "/v1/allocations", "/v1/deploy_templates", "/v1/runbooks",
               "/v1/inspection_rules")


@dataclasses.dataclass(slots=True)
class ProxyContext:
    settings: ProxySettings
    sites: tuple[Site, ...]  # in rank (site name) order
    groups: dict[str, Site]  # conductor group ("" is the default) -> site
    versions: VersionBook
    nodes: Locator
    ports: Locator
    pages: RecentPages
    # The OTHER_PATHS items, by collection path.
    others: dict[str, Locator]

    @classmethod
    def from_config(cls, config: ProxyConfig) -> ProxyContext:
        sites = tuple(Site(site, rank) for rank, site in enumerate(config.sites))
        by_name = {site.name: site for site in sites}
        settings = config.settings
        return cls(settings=settings, sites=sites,
                   groups={group: by_name[name] for group, name in config.groups.items()},
                   versions=VersionBook(sites, interval=settings.discovery_interval,
                                        down_interval=settings.down_probe_interval),
                   nodes=Locator(settings.cache_size), ports=Locator(settings.cache_size),
                   pages=RecentPages(),
                   others={path: Locator(settings.cache_size) for path in OTHER_PATHS})

    def site(self, name: str) -> Site | None:
        for site in self.sites:
            if site.name == name:
                return site
        return None

    def mapped_groups(self) -> str:
        return ", ".join(group or "_" for group in sorted(self.groups))


def context(request: Request) -> ProxyContext:
    ctx: ProxyContext = request.app.state.ctx
    return ctx
