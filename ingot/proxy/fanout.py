"""Asking many sites at once: each once, in parallel, each within its own timeout."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from ingot.proxy.sites import Site, SiteFailure
from ingot.proxy.versions import VersionBook

LOG = logging.getLogger("ingot.proxy")

T = TypeVar("T")

MISSING_HEADER = "X-Ingot-Missing-Sites"


@dataclasses.dataclass(frozen=True, slots=True)
class FanOut(Generic[T]):
    results: dict[str, T]  # by site name, in the sites' order
    failures: dict[str, str]  # site name -> why it is missing

    def headers(self) -> dict[str, str]:
        """The response header naming the sites whose answer is missing."""
        return {MISSING_HEADER: ",".join(self.failures)} if self.failures else {}

    def describe_failures(self) -> str:
        return "; ".join(f"{site}: {reason}" for site, reason in self.failures.items())


async def fan_out(sites: Sequence[Site], call: Callable[[Site], Awaitable[T]],
                  book: VersionBook, what: str) -> FanOut[T]:
    """Run call for every site concurrently; a site that fails or is down is reported
    in failures (and logged) instead of failing the whole answer."""

    async def guarded(site: Site) -> T | Exception:
        if not site.up:
            return SiteFailure(site.name, f"down ({site.down_reason})")
        try:
            # Covers every request call makes for this site (a marker scan may make
            # several), so no site can hold the answer longer than its timeout.
            async with asyncio.timeout(site.timeout):
                return await call(site)
        except TimeoutError:
            failure = SiteFailure(site.name, f"no answer within {site.timeout:g} s")
        except SiteFailure as exc:
            failure = exc
        except Exception as exc:
            # Not the site's fault (the caller's request was refused, say): raised once
            # every site is done, so no task is left running unwatched.
            return exc
        if failure.unreachable:
            book.mark_down(site, failure.reason)
        return failure

    outcomes = await asyncio.gather(*(guarded(site) for site in sites))
    for outcome in outcomes:
        if isinstance(outcome, Exception) and not isinstance(outcome, SiteFailure):
            raise outcome
    results: dict[str, T] = {}
    failures: dict[str, str] = {}
    for site, outcome in zip(sites, outcomes, strict=True):
        if isinstance(outcome, SiteFailure):
            failures[site.name] = outcome.reason
        else:
            results[site.name] = outcome  # type: ignore[assignment]
    if failures:
        LOG.warning("%s: no answer from site(s) %s", what,
                    "; ".join(f"{name} ({reason})" for name, reason in failures.items()))
    return FanOut(results, failures)
