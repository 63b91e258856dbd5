"""The ``redfish-virtual-media`` boot interface: the agent's ISO as the server's virtual CD.

The ISO is either the node's driver_info ``deploy_iso`` (a Glance image, http(s)://,
file:// or swift://, e.g. one ``ingot ramdisk build --iso-append 'ipa-api-url=...'``
makes), which like Ironic's prebuilt ISO gets no kernel parameters and must carry
ipa-api-url itself; or, without one, a per-node ISO built from ``deploy_kernel`` and
``deploy_ramdisk`` with the parameters the conductor hands the ramdisk (vmedia_iso.py).
A deploy_iso in Swift reaches the BMC as a temp URL; anything else is served from this
conductor's HTTP root ([deploy] external_http_url, else http_url). The BMC inserts it,
the server boots from it once, and it is ejected once the agent is done.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import shutil
from typing import Any

from ingot.db.models import Node
from ingot.drivers import image_delivery, redfish_media, vmedia_iso
from ingot.drivers.interfaces import (
    BootInterface,
    DriverError,
    InvalidParameter,
    MissingParameter,
    Task,
)
from ingot.drivers.ipxe import IpxeBootInterface, boot_mode
from ingot.drivers.redfish_client import call
from ingot.drivers.services import Services
from ingot.drivers.settings import DriverSettings
from ingot.images.cache import CacheError
from ingot.images.checksum import ChecksumError
from ingot.images.sources import dispatch
from ingot.images.sources.errors import ImageSourceError, MissingImageInfo

LOG = logging.getLogger(__name__)
ISO_NAME = "deploy.iso"
_URL_LIFETIME = 3 * 3600  # a Swift temp URL outlives any boot of the ISO


def _info(node: Node) -> dict[str, Any]:
    checksum = node.driver_info.get("deploy_iso_checksum")
    return {"image_checksum": checksum} if checksum else {}


def _iso_path(settings: DriverSettings, node_uuid: str) -> pathlib.Path:
    return settings.endpoints.http_root / node_uuid / ISO_NAME


def _publish(node: Node, services: Services, params: dict[str, str]) -> str:
    """The URL the BMC fetches the node's ISO from (blocking: may download or build)."""
    dest = _iso_path(services.settings, node.uuid)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    if node.driver_info.get("deploy_iso"):
        access = image_delivery.access(node, services)
        source = dispatch.resolve(node.driver_info["deploy_iso"], _info(node), access)
        if source.swift is not None and access.swift_temp_url:
            return services.swift.object_url(source.swift, valid_for=_URL_LIFETIME).url
        services.image_cache.fetch(source, dispatch.fetcher(source, access),
                                   dispatch.expected_digest(source, access), str(dest))
    else:
        vmedia_iso.build(node, services, params, dest)
    base = services.settings.endpoints.external_http_url \
        or services.settings.endpoints.http_url
    return f"{base}/{node.uuid}/{ISO_NAME}"


class RedfishVirtualMediaBoot(BootInterface):
    name = "redfish-virtual-media"
    properties = {
        "deploy_iso": "The agent's bootable ISO: a Glance image, or an http(s)://, file:// "
                      "or swift:// reference. Required unless deploy_kernel and "
                      "deploy_ramdisk are given.",
        "deploy_iso_checksum": "Digest (or checksum file URL) of a non-Glance deploy_iso. "
                               "Required for those.",
        **IpxeBootInterface.properties,
    }

    def validate(self, node: Node, settings: DriverSettings) -> None:
        reference = node.driver_info.get("deploy_iso")
        if not reference:
            if not any(node.driver_info.get(field) for field in vmedia_iso.BOOT_FILES):
                raise MissingParameter("driver_info is missing deploy_iso (or deploy_kernel "
                                       "and deploy_ramdisk).")
            # A per-node ISO of those: the same fields and checks as an iPXE boot.
            IpxeBootInterface().validate(node, settings)
            return
        try:
            dispatch.check_reference(reference, _info(node), allow_md5=settings.agent.allow_md5)
        except MissingImageInfo:
            raise MissingParameter("driver_info deploy_iso_checksum is required for a "
                                   "deploy_iso that is not a Glance image.") from None
        except ImageSourceError as exc:
            message = str(exc).replace("instance_info image_checksum",
                                       "driver_info deploy_iso_checksum")
            raise InvalidParameter(
                f"driver_info deploy_iso: {message.removeprefix('image_source ')}") from None
        boot_mode(node)

    async def prepare_ramdisk(self, task: Task, params: dict[str, Any]) -> None:
        try:
            url = await asyncio.to_thread(_publish, task.node, task.services, params)
        except (ImageSourceError, ChecksumError, CacheError) as exc:
            raise DriverError(f"Cannot fetch the deploy ISO: {exc}") from None
        await call(task.node, task.services.settings,
                   lambda system: redfish_media.insert(system, redfish_media.CD, url))
        await task.driver.management.set_boot_device(task, "cdrom")

    async def clean_up_ramdisk(self, task: Task) -> None:
        await _eject_and_unpublish(task)

    async def prepare_instance(self, task: Task) -> None:
        await task.driver.management.set_boot_device(task, "disk", persistent=True)

    async def clean_up_instance(self, task: Task) -> None:
        # Also here: an undeploy of a node still waiting for its agent comes this way.
        await _eject_and_unpublish(task)


async def _eject_and_unpublish(task: Task) -> None:
    await call(task.node, task.services.settings,
               lambda system: redfish_media.eject(system, redfish_media.CD))
    await asyncio.to_thread(shutil.rmtree,
                            _iso_path(task.services.settings, task.node.uuid).parent, True)
