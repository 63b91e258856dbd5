"""Where a BMC fetches an image attached as virtual media (API 1.89), per the request's
image_download_source, as Ironic decides it:

* ``local`` (the default): this conductor downloads the http(s) image and serves it
  from its HTTP root ([deploy] external_http_url, else http_url), so BMCs need not
  reach the image's server; nfs/cifs/smb images cannot be (the API refuses those);
* ``http``: the BMC fetches the URL as given;
* ``swift``: as ``http`` (Ironic makes Glance images temp URLs; the API accepts no
  Glance references here).

A node's published images live in ``<http root>/virtual_media/<node uuid>/``, one file
per device type, removed when the device is detached.
"""

from __future__ import annotations

import contextlib
import logging
import pathlib
import shutil

from ingot.common.redaction import redact_url
from ingot.drivers.interfaces import DriverError
from ingot.drivers.services import Services
from ingot.drivers.settings import DriverSettings
from ingot.images.sources.errors import ImageSourceError
from ingot.images.sources.http import HttpOptions, download_url

LOG = logging.getLogger(__name__)
DIRECTORY = "virtual_media"


def _path(settings: DriverSettings, node_uuid: str, device_type: str) -> pathlib.Path:
    suffix = "iso" if device_type == "cdrom" else "img"
    return settings.endpoints.http_root / DIRECTORY / node_uuid / f"{device_type}.{suffix}"


def publish(node_uuid: str, services: Services, device_type: str, image_url: str,
            download_source: str) -> str:
    """The URL the BMC is to fetch (blocking: a local source is downloaded here)."""
    settings = services.settings
    unpublish(node_uuid, settings, [device_type])
    if download_source != "local":
        return image_url
    dest = _path(settings, node_uuid, device_type)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.part")
    partial.unlink(missing_ok=True)
    # The conductor's own proxies, as for its other downloads.
    options = HttpOptions(settings.conductor_proxies)
    try:
        with options.client() as client:
            fetched = download_url(client, image_url, str(partial), "sha256")
    except ImageSourceError as exc:
        partial.unlink(missing_ok=True)
        unpublish(node_uuid, settings, [device_type])
        raise DriverError(f"Cannot download image_url {redact_url(image_url)} to serve it "
                          f"to the BMC (image_download_source local): {exc}") from None
    partial.replace(dest)  # never a half-written image at the served path
    LOG.info("Node %s: serving %s (%d bytes) as its %s virtual media", node_uuid,
             redact_url(image_url), fetched.size, device_type)
    base = settings.endpoints.external_http_url or settings.endpoints.http_url
    return f"{base}/{DIRECTORY}/{node_uuid}/{dest.name}"


def unpublish(node_uuid: str, settings: DriverSettings, device_types: list[str] | None) -> None:
    """Remove what publish served for device_types (None: all of them), and the
    node's directory once it holds nothing."""
    directory = settings.endpoints.http_root / DIRECTORY / node_uuid
    if device_types is None:
        shutil.rmtree(directory, ignore_errors=True)
        return
    for device_type in device_types:
        _path(settings, node_uuid, device_type).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # absent, or another device's image is in it
        directory.rmdir()
