"""Fixtures of the image source tests: allowed directories for file:// sources and an
image cache (the HTTP origin and the session's Glance are tests/conftest.py's)."""

from __future__ import annotations

import pathlib

import pytest

from ingot.images.cache import CacheSettings, ImageCache
from ingot.images.sources.file import FileAccess


@pytest.fixture
def allowed_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "images"
    path.mkdir()
    return path


@pytest.fixture
def file_access(allowed_dir: pathlib.Path) -> FileAccess:
    return FileAccess((str(allowed_dir),))


@pytest.fixture
def cache(tmp_path: pathlib.Path) -> ImageCache:
    return ImageCache(CacheSettings(str(tmp_path / "master"), max_size=1 << 30,
                                    ttl=3600.0, lock_timeout=60.0))
