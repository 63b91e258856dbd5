"""The ``ipxe`` boot interface: per-node iPXE configs in this conductor's HTTP root.

The deploy kernel and ramdisk (driver_info ``deploy_kernel``/``deploy_ramdisk``: a
Glance image, http(s)://, file:// or swift://) go into the config as Swift temp URLs
when [pxe] ipxe_use_swift is on and they are in Swift, valid for the whole callback
window; anything else is fetched into the image cache and served from the HTTP root.
Non-Glance boot files need ``deploy_kernel_checksum``/``deploy_ramdisk_checksum``: a
kernel is code the machine runs, so ingot checks it like any image.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import re
import shutil
import time
from typing import Any

from ingot.boot import (
    BootConfigError,
    BootUrl,
    CachedFile,
    IpxeBoot,
    NodeBoot,
    PxeSettings,
    UrlExpiresTooSoon,
)
from ingot.boot.sources import BootSource
from ingot.db import nodes, ports
from ingot.db.models import Node
from ingot.drivers import image_delivery
from ingot.drivers.interfaces import (
    BootInterface,
    DriverError,
    InvalidParameter,
    MissingParameter,
    Task,
)
from ingot.drivers.services import Services
from ingot.drivers.settings import DriverSettings
from ingot.images.cache import CacheError
from ingot.images.checksum import ChecksumError
from ingot.images.sources import dispatch
from ingot.images.sources.errors import ImageSourceError, MissingImageInfo

LOG = logging.getLogger(__name__)
BOOT_FILES = ("deploy_kernel", "deploy_ramdisk")
INSTANCE_BOOT_FILES = ("kernel", "ramdisk")
BOOT_ISO = "boot_iso"  # a ramdisk instance's ISO, instead of its kernel and ramdisk
_INSTANCE_FIELDS = (*INSTANCE_BOOT_FILES, BOOT_ISO)  # read from instance_info
RAMDISK_DEPLOY = "ramdisk"
# {"rendered": t, "expires": t} of a ramdisk instance's config with temporary URLs.
INSTANCE_EXPIRY = "instance_boot_urls"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def boot_mode(node: Node) -> str:
    """instance_info deploy_boot_mode, else the boot_mode capability, else bios."""
    mode = node.instance_info.get("deploy_boot_mode")
    if not mode:
        capabilities = str(node.properties.get("capabilities", ""))
        for item in capabilities.split(","):
            key, _, value = item.partition(":")
            if key.strip() == "boot_mode":
                mode = value.strip()
    mode = mode or "bios"
    if mode not in ("bios", "uefi"):
        raise InvalidParameter(f"boot mode {mode!r} is not bios or uefi.")
    return str(mode)


def _boot_files_info(node: Node, field: str) -> dict[str, Any]:
    """What dispatch needs about a boot file, from driver_info (an instance's kernel,
    ramdisk or ISO: instance_info)."""
    info = node.instance_info if field in _INSTANCE_FIELDS else node.driver_info
    checksum = info.get(f"{field}_checksum")
    return {"image_checksum": checksum} if checksum else {}


def _settings(services: Services) -> PxeSettings:
    try:
        return services.pxe()
    except BootConfigError as exc:
        raise DriverError(str(exc)) from None


def _staging(services: Services, node_uuid: str, field: str) -> pathlib.Path:
    """Where the cache links a boot file before the boot library places it."""
    return services.settings.state_path / "boot-files" / node_uuid / field


class IpxeBootInterface(BootInterface):
    name = "ipxe"
    properties = {
        "deploy_kernel": "The deploy kernel: a Glance image, or an http(s)://, file:// or "
                         "swift:// reference. Required.",
        "deploy_ramdisk": "The deploy ramdisk, as deploy_kernel. Required.",
        "deploy_kernel_checksum": "Digest (or checksum file URL) of a non-Glance "
                                  "deploy_kernel. Required for those.",
        "deploy_ramdisk_checksum": "As deploy_kernel_checksum, for deploy_ramdisk.",
        "kernel_append_params": "Extra kernel parameters for the deploy ramdisk (also "
                                "read from instance_info; %default% expands to "
                                "[pxe] kernel_append_params). Optional.",
    }

    def validate(self, node: Node, settings: DriverSettings) -> None:
        for field in BOOT_FILES:
            reference = node.driver_info.get(field)
            if not reference:
                raise MissingParameter(f"driver_info is missing {field}.")
            try:
                dispatch.check_reference(reference, _boot_files_info(node, field),
                                         allow_md5=settings.agent.allow_md5)
            except MissingImageInfo:
                # The message would name instance_info's fields; a boot file has one.
                raise MissingParameter(f"driver_info {field}_checksum is required for a "
                                       f"{field} that is not a Glance image.") from None
            except ImageSourceError as exc:
                message = str(exc).replace("instance_info image_checksum",
                                           f"driver_info {field}_checksum")
                # The checks speak of image_source; here the field is this one.
                message = message.removeprefix("image_source ")
                raise InvalidParameter(f"driver_info {field}: {message}") from None
        boot_mode(node)

    async def prepare_ramdisk(self, task: Task, params: dict[str, Any]) -> None:
        settings = _settings(task.services)
        node = task.node
        boot = IpxeBoot(settings)
        node_boot = NodeBoot(node.uuid, tuple(task.pxe_macs), node.instance_info,
                             node.driver_info, boot_mode(node))  # type: ignore[arg-type]
        try:
            kernel, ramdisk = await asyncio.to_thread(
                lambda: [_boot_source(node, task.services, field, settings,
                                      settings.url_lifetime_needed)
                         for field in BOOT_FILES])
            prepared = await asyncio.to_thread(boot.prepare_deploy, node_boot, kernel=kernel,
                                               ramdisk=ramdisk, ramdisk_params=params)
        except (BootConfigError, UrlExpiresTooSoon) as exc:
            raise DriverError(f"Cannot prepare the iPXE boot: {exc}") from None
        except (ImageSourceError, ChecksumError, CacheError) as exc:
            raise DriverError(f"Cannot fetch the deploy kernel or ramdisk: {exc}") from None
        task.set_internal(boot_config_expires_at=prepared.expires_at)
        await task.driver.management.set_boot_device(task, "pxe")

    async def clean_up_ramdisk(self, task: Task) -> None:
        # As Ironic's: the config, MAC links and deploy files go, so that a machine
        # booting from the network later (after an inspection, say) finds nothing stale.
        # prepare_instance writes what the instance needs afresh.
        task.set_internal(boot_config_expires_at=None)
        await asyncio.to_thread(IpxeBoot(_settings(task.services)).clean_up, task.node.uuid,
                                tuple(task.pxe_macs))
        await asyncio.to_thread(_drop_staging, task.services, task.node.uuid)

    async def prepare_instance(self, task: Task) -> None:
        node = task.node
        node_boot = NodeBoot(node.uuid, tuple(task.pxe_macs), node.instance_info,
                             node.driver_info, boot_mode(node))  # type: ignore[arg-type]
        if node.deploy_interface == RAMDISK_DEPLOY:
            expires_at = await asyncio.to_thread(prepare_ramdisk_instance, node, node_boot,
                                                 task.services)
            task.set_internal(**{INSTANCE_EXPIRY: expires_at})
            await task.driver.management.set_boot_device(task, "pxe", persistent=True)
            return
        await asyncio.to_thread(IpxeBoot(_settings(task.services)).prepare_local_boot,
                                node_boot)
        await asyncio.to_thread(_drop_staging, task.services, node.uuid)
        await task.driver.management.set_boot_device(task, "disk", persistent=True)

    async def clean_up_instance(self, task: Task) -> None:
        task.set_internal(**{INSTANCE_EXPIRY: None})
        await asyncio.to_thread(IpxeBoot(_settings(task.services)).clean_up, task.node.uuid,
                                tuple(task.pxe_macs))
        await asyncio.to_thread(_drop_staging, task.services, task.node.uuid)


def remove_orphans(services: Services) -> list[str]:
    """Housekeeping: remove the boot files of nodes that no longer exist (a node deleted
    through the API leaves them, as the API may run on another host)."""
    root = services.settings.endpoints.http_root
    if not root.is_dir():
        return []
    found = [entry.name for entry in root.iterdir()
             if entry.is_dir() and _UUID.match(entry.name)]
    if not found:
        return []
    with services.db.read() as conn:
        gone = [name for name in found if nodes.get_by_uuid(conn, name) is None]
    boot = IpxeBoot(_settings(services))
    for name in gone:
        boot.clean_up(name)
        _drop_staging(services, name)
    return gone


def _drop_staging(services: Services, node_uuid: str) -> None:
    shutil.rmtree(_staging(services, node_uuid, "x").parent, ignore_errors=True)


def prepare_ramdisk_instance(node: Node, node_boot: NodeBoot, services: Services
                             ) -> dict[str, float] | None:
    """Render a ramdisk instance's config (its boot_iso if it has one, as Ironic
    prefers it, else its kernel and ramdisk); when of temporary URLs, when it was
    rendered and when its first URL expires (renew_ramdisk_instances re-renders)."""
    settings = _settings(services)
    try:
        if node.instance_info.get(BOOT_ISO):
            iso = _boot_source(node, services, BOOT_ISO, settings, valid_for=None)
            prepared = IpxeBoot(settings).prepare_iso_instance(node_boot, iso=iso,
                                                               valid_for=None)
        else:
            kernel, ramdisk = (_boot_source(node, services, field, settings, valid_for=None)
                               for field in INSTANCE_BOOT_FILES)
            prepared = IpxeBoot(settings).prepare_ramdisk_instance(
                node_boot, kernel=kernel, ramdisk=ramdisk, valid_for=None)
    except (BootConfigError, UrlExpiresTooSoon) as exc:
        raise DriverError(f"Cannot prepare the instance's iPXE boot: {exc}") from None
    except (ImageSourceError, ChecksumError, CacheError) as exc:
        raise DriverError(f"Cannot fetch the instance's boot files: {exc}") from None
    if prepared.expires_at is None:
        return None
    return {"rendered": time.time(), "expires": prepared.expires_at}


def renew_ramdisk_instances(services: Services) -> list[str]:
    """Housekeeping: re-render the config of active ramdisk instances whose temporary
    URLs are past half their lifetime, so a reboot at any time finds valid URLs."""
    renewed = []
    now = time.time()
    with services.db.read() as conn:
        found = nodes.active_with_deploy_interface(conn, RAMDISK_DEPLOY)
    for node in found:
        urls = node.driver_internal_info.get(INSTANCE_EXPIRY)
        if not isinstance(urls, dict) or now < (urls["rendered"] + urls["expires"]) / 2:
            continue
        with services.db.read() as conn:
            macs = tuple(ports.pxe_macs(conn, node.id))
        node_boot = NodeBoot(node.uuid, macs, node.instance_info, node.driver_info,
                             boot_mode(node))  # type: ignore[arg-type]
        try:
            fresh = prepare_ramdisk_instance(node, node_boot, services)
        except (DriverError, InvalidParameter) as exc:
            LOG.warning("Renewing the boot URLs of node %s failed: %s", node.uuid, exc)
            continue
        with services.db.write() as conn:
            internal = {**node.driver_internal_info, INSTANCE_EXPIRY: fresh}
            nodes.update(conn, node.id, {"driver_internal_info": internal},
                         provision_state="active", reservation=None)
        LOG.info("Renewed the temporary boot URLs of ramdisk instance %s", node.uuid)
        renewed.append(node.uuid)
    return renewed


def _boot_source(node: Node, services: Services, field: str, settings: PxeSettings,
                 valid_for: int | None) -> BootSource:
    """A temp URL for a boot file in Swift (with ipxe_use_swift), else a cached file.
    ``valid_for``: seconds the URL must stay usable (None: the configured lifetime)."""
    access = image_delivery.access(node, services)
    info = node.instance_info if field in _INSTANCE_FIELDS else node.driver_info
    source = dispatch.resolve(info[field], _boot_files_info(node, field), access)
    if settings.use_swift and source.swift is not None and access.swift_temp_url:
        url = services.swift.object_url(source.swift, valid_for=valid_for)
        return BootUrl(url.url, url.expires_at)
    dest = _staging(services, node.uuid, field)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    services.image_cache.fetch(source, dispatch.fetcher(source, access),
                               dispatch.expected_digest(source, access), str(dest))
    return CachedFile(dest)
