"""A real headless Chromium (Debian's package, driven by Playwright from PyPI) for the
dashboard tests, and where their screenshots go. One per session (tests/conftest.py's
``browser`` fixture): Playwright's sync API runs one instance per thread."""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tests.servers.process import unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# Gitignored; the tests print each path.
ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


@contextlib.contextmanager
def launched() -> Iterator[Browser]:
    executable = chromium_path()
    if executable is None:
        unavailable("Debian's chromium is not installed (tools/test installs it)")
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415 - test extra
    except ImportError:
        unavailable("playwright is not installed (pip install -e .[test])")
    assert executable is not None
    with sync_playwright() as playwright:
        # Root (CI) cannot use Chromium's sandbox; the pages are the tests' own.
        browser = playwright.chromium.launch(executable_path=executable,
                                             args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Page, name: str) -> pathlib.Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
