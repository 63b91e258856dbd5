"""Version discovery: the microversions every answering site supports.

A background task asks each site for its range (``GET /``) in parallel: every
discovery_interval for the sites that answer, every down_probe_interval for those that
do not. In between it sleeps until the next probe is due (or a request finds a site
down), rather than waking on a fixed tick. A site that does not answer leaves the
intersection until it does again, so one dead site neither hangs requests nor narrows
the range forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from ingot.api.microversion import VersionRange, parse_version
from ingot.proxy.sites import Site, SiteFailure

LOG = logging.getLogger("ingot.proxy")


class VersionBook:
    def __init__(self, sites: Sequence[Site], *, interval: float, down_interval: float):
        self.sites = list(sites)
        self.interval = interval
        self.down_interval = down_interval
        self._ranges: dict[str, VersionRange] = {}
        self._checked: dict[str, float] = {}
        self._current: VersionRange | None = None
        self._disjoint_logged = False
        self._wake = asyncio.Event()  # a site went down: its probes come sooner

    def current(self) -> VersionRange | None:
        """The intersection over the sites that answer; None before any site answered.

        When no site answers, the last known ranges of all sites are used, so requests
        still parse and then fail naming the sites.
        """
        return self._current

    def _recompute(self) -> None:
        live = [self._ranges[s.name] for s in self.sites if s.up and s.name in self._ranges]
        ranges = live or list(self._ranges.values())
        if not ranges:
            self._current = None
            return
        result: VersionRange | None = ranges[0]
        for item in ranges[1:]:
            result = result.intersect(item) if result else None
        if result is None and not self._disjoint_logged:
            LOG.error("The sites' microversion ranges do not overlap: %s",
                      ", ".join(f"{name} {r}" for name, r in self._ranges.items()))
            self._disjoint_logged = True
        if result != self._current:
            LOG.info("Microversions supported through the proxy: %s", result)
        self._current = result

    def mark_down(self, site: Site, reason: str) -> None:
        site.mark_down(reason)
        self._recompute()
        self._wake.set()

    async def probe(self, site: Site) -> None:
        try:
            async with asyncio.timeout(site.timeout):
                reply = await site.request("GET", "/", headers={"Accept": "application/json"})
            if reply.status != 200:
                raise SiteFailure(site.name, f"version discovery answered {reply.status}")
            body = reply.json()
            default = body.get("default_version") or (body.get("versions") or [{}])[0]
            found = VersionRange(parse_version(default.get("min_version") or "1.1"),
                                 parse_version(default.get("version") or "1.1"))
            for link in default.get("links", []):
                site.learn_base(str(link.get("href", "")))
        except (SiteFailure, TimeoutError, ValueError, AttributeError, TypeError) as exc:
            reason = exc.reason if isinstance(exc, SiteFailure) else \
                f"version discovery failed: {exc or exc.__class__.__name__}"
            site.mark_down(reason)
        else:
            if self._ranges.get(site.name) != found:
                LOG.info("Site %s supports microversions %s", site.name, found)
            self._ranges[site.name] = found
            site.mark_up()
        finally:
            self._checked[site.name] = time.monotonic()

    async def refresh(self, sites: Sequence[Site] | None = None) -> None:
        await asyncio.gather(*(self.probe(site) for site in (sites or self.sites)))
        self._recompute()

    def _due_in(self, site: Site, now: float) -> float:
        """Seconds until the site's next probe: discovery_interval after its last, or
        down_probe_interval after its last probe or going down, whichever is later."""
        checked = self._checked.get(site.name, 0.0)
        if site.down_since is None:
            return checked + self.interval - now
        return max(checked, site.down_since) + self.down_interval - now

    async def run(self) -> None:
        """Probe forever: due sites in parallel, down ones more often."""
        # Sites due within this much of each other are probed together.
        slack = min(self.interval, self.down_interval) / 10
        while True:
            now = time.monotonic()
            due_in = {site.name: self._due_in(site, now) for site in self.sites}
            wait = min(due_in.values(), default=self.interval)
            if wait > slack:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                continue
            due = [site for site in self.sites if due_in[site.name] <= slack]
            try:
                await self.refresh(due)
            except Exception:
                # The refresher must outlive any surprise, or the range freezes.
                LOG.exception("Version discovery failed")
                await asyncio.sleep(slack)
