"""Shared values of the boot library tests."""

from __future__ import annotations

import pathlib

import pytest

from ingot.boot.http_root import HttpRoot

NODE = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"
OTHER_NODE = "5f0a5a8e-6c1d-4d3a-9e55-2b7f0c9d1e22"
API_URL = "http://192.0.2.10:6385"
HTTP_URL = "http://192.0.2.10:8080"
SIG = "9b1c0e8f4a7d2c3b6e5f8a9d0c1b2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d"
TEMP_KERNEL = (f"http://192.0.2.20:8080/v1/AUTH_test/glance/"
               f"0b9c6f1e-7a55-4c1e-8d2a-3f4b5c6d7e8f?temp_url_sig={SIG}"
               f"&temp_url_expires=1900000000")
TEMP_RAMDISK = (f"http://192.0.2.20:8080/v1/AUTH_test/glance/"
                f"7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f?temp_url_sig={SIG}"
                f"&temp_url_expires=1900000000")


@pytest.fixture
def http_root(tmp_path: pathlib.Path) -> HttpRoot:
    return HttpRoot(tmp_path / "httpboot")
