"""The ``ramdisk`` deploy interface, as Ironic's: the instance is a kernel and a ramdisk
(instance_info ``kernel``/``ramdisk``: a Glance image, http(s)://, file:// or swift://),
or an ISO (instance_info ``boot_iso``, preferred when given, as in Ironic; iPXE
sanboots it over HTTP), that the machine boots over iPXE every time; nothing is written
to its disk. Any hardware type whose node boots with the ``ipxe`` boot interface.

Deploying renders the node's iPXE config for them (drivers/ipxe.py; with [pxe]
ipxe_use_swift, objects in Swift as temporary URLs, re-rendered by the conductor's
periodic checks before they expire) and powers the machine on. Cleaning is the agent's,
as for ``direct``.
"""

from __future__ import annotations

from ingot.common.power import REBOOT
from ingot.db.models import Node
from ingot.drivers.direct import DirectDeploy
from ingot.drivers.hardware import driver_for
from ingot.drivers.interfaces import (
    DriverError,
    InvalidParameter,
    MissingParameter,
    Outcome,
    Task,
)
from ingot.drivers.ipxe import BOOT_ISO, INSTANCE_BOOT_FILES, IpxeBootInterface, boot_mode
from ingot.drivers.power_actions import node_power_action
from ingot.drivers.settings import DriverSettings
from ingot.images.sources import dispatch
from ingot.images.sources.errors import ImageSourceError, MissingImageInfo


class RamdiskDeploy(DirectDeploy):
    name = "ramdisk"

    def validate(self, node: Node, settings: DriverSettings) -> None:
        info = node.instance_info
        boot = driver_for(node).boot.name
        if boot != IpxeBootInterface.name:
            raise InvalidParameter(
                f"The ramdisk deploy of ingot boots the instance over iPXE: boot_interface "
                f"{boot!r} cannot, use {IpxeBootInterface.name!r}.")
        if info.get("image_source"):
            raise InvalidParameter(
                "instance_info image_source is not used by the ramdisk deploy: give "
                "instance_info kernel and ramdisk, or boot_iso.")
        for field in (BOOT_ISO,) if info.get(BOOT_ISO) else INSTANCE_BOOT_FILES:
            reference = info.get(field)
            if not reference:
                raise MissingParameter(f"instance_info is missing {field}, which the "
                                       f"ramdisk deploy boots (or give boot_iso).")
            checksum = info.get(f"{field}_checksum")
            try:
                dispatch.check_reference(reference,
                                         {"image_checksum": checksum} if checksum else {},
                                         allow_md5=settings.agent.allow_md5)
            except MissingImageInfo:
                raise MissingParameter(f"instance_info {field}_checksum is required for a "
                                       f"{field} that is not a Glance image.") from None
            except ImageSourceError as exc:
                message = str(exc).replace("instance_info image_checksum",
                                           f"instance_info {field}_checksum")
                raise InvalidParameter(f"instance_info {field}: "
                                       f"{message.removeprefix('image_source ')}") from None
        boot_mode(node)

    async def deploy(self, task: Task) -> Outcome:
        await task.driver.boot.prepare_instance(task)
        await node_power_action(task, REBOOT)
        return Outcome.DONE

    async def heartbeat(self, task: Task) -> Outcome:
        raise DriverError("A ramdisk deploy waits for no agent.")
