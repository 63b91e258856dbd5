"""The ``direct`` deploy interface: the agent downloads the image and writes it.

Deploy: boot the agent, wait for its first heartbeat, send ``standby.prepare_image``,
follow it on every heartbeat (the agent heartbeats at once when a command ends), then
boot the node from its disk. Cleaning (after undeploy, or on provide) boots the agent
again to erase the disk's partition tables.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ingot.common.power import POWER_OFF
from ingot.configdrive.build import build_iso, encode
from ingot.db.models import Node
from ingot.drivers import image_delivery
from ingot.drivers.agent_client import FAILED, RUNNING, AgentClient, CommandStatus
from ingot.drivers.interfaces import (
    DeployInterface,
    DriverError,
    InvalidParameter,
    Outcome,
    Task,
)
from ingot.drivers.settings import DriverSettings
from ingot.images import image_info
from ingot.images.cache import CacheError
from ingot.images.checksum import ChecksumError
from ingot.images.image_info import InvalidImage
from ingot.images.sources.errors import ImageSourceError

LOG = logging.getLogger(__name__)

_DEPLOY_COMMAND = "deploy_command_id"
_CONFIGDRIVE_IN_SWIFT = "configdrive_in_swift"
_IMAGE_INFO = "agent_image_info"
_CLEAN_COMMAND = "clean_command_id"
_CLEAN_STEPS = ("erase_devices_metadata",)


class DirectDeploy(DeployInterface):
    name = "direct"
    properties = {
        "image_http_proxy": "Proxy for the agent's http image downloads: "
                            "[http://]host:port. Optional.",
        "image_https_proxy": "Proxy for the agent's https image downloads: "
                             "[http(s)://]host:port. Optional.",
        "image_no_proxy": "Comma-separated hosts, .domains, IP addresses and CIDR ranges "
                          "(each optionally with :port) the agent reaches without proxy. "
                          "Optional.",
    }

    def validate(self, node: Node, settings: DriverSettings) -> None:
        try:
            image_info.validate(node.instance_info, node.driver_info,
                                allow_md5=settings.agent.allow_md5)
        except InvalidImage as exc:
            raise InvalidParameter(str(exc)) from None
        image_delivery.download_source(node, settings.agent.image_download_source)

    # --- deploy -----------------------------------------------------------------------

    async def deploy(self, task: Task) -> Outcome:
        # The deploy action has validated every interface, this one included.
        # Resolve the image (and fetch it into this conductor's cache when it serves
        # it) before the agent boots, so a bad image fails fast and nothing waits.
        try:
            info = await asyncio.to_thread(image_delivery.plan, task.node, task.services)
        except (ImageSourceError, ChecksumError, CacheError) as exc:
            raise DriverError(f"Preparing the image failed: {exc}") from None
        task.set_internal(**{_DEPLOY_COMMAND: None, _IMAGE_INFO: info})
        await _boot_agent(task)
        return Outcome.WAIT

    async def heartbeat(self, task: Task) -> Outcome:
        status = await _follow_command(task, _DEPLOY_COMMAND, "standby.prepare_image",
                                       _prepare_params)
        if status is None:
            return Outcome.WAIT
        await _forget_deploy_files(task)
        _raise_if_failed(status, "Writing the image")
        await task.driver.boot.clean_up_ramdisk(task)
        await task.driver.boot.prepare_instance(task)
        await task.driver.power.reboot(task)
        return Outcome.DONE

    async def tear_down(self, task: Task) -> None:
        await task.driver.power.set_power_state(task, POWER_OFF)
        await task.driver.boot.clean_up_instance(task)
        await _forget_deploy_files(task)

    async def abort(self, task: Task) -> None:
        await task.driver.power.set_power_state(task, POWER_OFF)
        await task.driver.boot.clean_up_ramdisk(task)
        await _forget_deploy_files(task)
        task.set_internal(**{_DEPLOY_COMMAND: None, _CLEAN_COMMAND: None})

    # --- cleaning ---------------------------------------------------------------------

    async def clean(self, task: Task, steps: list[dict[str, Any]] | None) -> Outcome:
        wanted = [s["step"] for s in steps] if steps else list(_CLEAN_STEPS)
        unknown = [s for s in wanted if s not in _CLEAN_STEPS]
        if unknown:
            raise DriverError(f"Unsupported clean step(s): {', '.join(unknown)}; the direct "
                              f"deploy interface offers {', '.join(_CLEAN_STEPS)}.")
        task.set_internal(**{_CLEAN_COMMAND: None})
        await _boot_agent(task)
        return Outcome.WAIT

    async def clean_heartbeat(self, task: Task) -> Outcome:
        status = await _follow_command(task, _CLEAN_COMMAND, "clean.execute_clean_step",
                                       _clean_params)
        if status is None:
            return Outcome.WAIT
        _raise_if_failed(status, "Erasing the disk metadata")
        await task.driver.power.set_power_state(task, POWER_OFF)
        await task.driver.boot.clean_up_ramdisk(task)
        return Outcome.DONE


async def _follow_command(task: Task, key: str, name: str,
                          params: Callable[[Task], Awaitable[dict[str, Any]]]
                          ) -> CommandStatus | None:
    """Start the agent command on the first heartbeat, then check it on each one.

    Returns the finished command's status, or None while it runs. The command id is
    kept in driver_internal_info[key], so any conductor can take the next heartbeat.
    """
    command_id = task.node.driver_internal_info.get(key)
    agent = _client(task)
    if command_id:
        status = await agent.status(str(command_id))
    else:
        status = await agent.execute(name, await params(task))
        task.set_internal(**{key: status.id})
    if status.status == RUNNING:
        return None
    task.set_internal(**{key: None})
    return status


async def _clean_params(task: Task) -> dict[str, Any]:
    step = {"step": "erase_devices_metadata", "interface": "deploy", "priority": 99,
            "args": {}}
    return {"step": step, "node": {"uuid": task.node.uuid}, "ports": [],
            "clean_version": None}


async def _boot_agent(task: Task) -> None:
    await task.driver.boot.prepare_ramdisk(
        task, task.services.settings.endpoints.ramdisk_params)
    await task.driver.power.reboot(task)


def _client(task: Task) -> AgentClient:
    return AgentClient(task.node.agent_url, task.node.agent_token,
                       timeout=task.services.settings.agent.command_timeout)


def _raise_if_failed(status: CommandStatus, what: str) -> None:
    if status.status == FAILED:
        raise DriverError(f"{what} failed on the agent: {status.error or 'no details'}")
    if status.status != "SUCCEEDED":
        raise DriverError(f"{what}: the agent reported an unexpected status "
                          f"{status.status!r}.")


async def _prepare_params(task: Task) -> dict[str, Any]:
    node = task.node
    info = node.driver_internal_info.get(_IMAGE_INFO)
    if not info:
        raise DriverError("The deploy lost its image plan; deploy the node again.")
    params: dict[str, Any] = {"image_info": info}
    drive = _configdrive(node)
    if drive is None:
        return params
    swift = task.services.swift
    if swift.configdrives.use_object_store and not drive.startswith(("http://", "https://")):
        # The agent fetches it with a temp URL; X-Delete-After removes it even if the
        # deploy never ends, and the drive stays in the database for rebuilds.
        stored = await asyncio.to_thread(swift.store_configdrive, node.uuid, drive)
        task.set_internal(**{_CONFIGDRIVE_IN_SWIFT: True})
        params["configdrive"] = stored.url
    else:
        params["configdrive"] = drive
    return params


def _configdrive(node: Node) -> str | None:
    """The node's config drive as the agent takes it: a URL or gzip+base64 ISO."""
    configdrive = node.instance_info.get("configdrive")
    if isinstance(configdrive, dict):
        # A JSON drive (API >= 1.56) is built here; the agent only writes ISOs.
        iso = build_iso(meta_data=dict(configdrive.get("meta_data") or {}),
                        user_data=configdrive.get("user_data"),
                        network_data=configdrive.get("network_data"),
                        vendor_data=configdrive.get("vendor_data"),
                        node_uuid=node.uuid, node_name=node.name)
        return encode(iso)
    return str(configdrive) if configdrive else None


async def _forget_deploy_files(task: Task) -> None:
    """The agent no longer needs the image link or the config drive object."""
    await asyncio.to_thread(image_delivery.forget, task.node.uuid, task.services)
    task.set_internal(**{_IMAGE_INFO: None})
    if task.node.driver_internal_info.get(_CONFIGDRIVE_IN_SWIFT):
        swift = task.services.swift
        await asyncio.to_thread(swift.delete_configdrive, task.node.uuid)
        task.set_internal(**{_CONFIGDRIVE_IN_SWIFT: None})
