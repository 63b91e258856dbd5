"""The ``direct`` deploy interface: the agent downloads the image and writes it.

Deploy, as Ironic's agent deploy: boot the agent (or, with fast track, use the one
still running), send ``standby.prepare_image``, follow it on every heartbeat (the agent
heartbeats at once when a command ends), then tear the agent down: flush through it
(``standby.sync``) and power off out of band when driver_info deploy_forces_oob_reboot
is set, otherwise ask it to power the node off (``standby.power_off``) and wait,
powering off out of band if it does not; then boot the node from its disk. A power
interface that cannot power on (``agent``) instead has the agent flush and reboot into
the instance (``standby.sync``, ``standby.run_image``), as Ironic does.

Cleaning boots the agent, asks it for its clean steps (``clean.get_clean_steps``) on
its first heartbeat and runs them one by one (``clean.execute_clean_step``, with the
hardware managers' versions as clean_version).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ingot.common.power import POWER_OFF, POWER_ON, REBOOT
from ingot.configdrive.build import build_iso, encode
from ingot.db.models import Node
from ingot.drivers import clean_steps, image_delivery
from ingot.drivers.agent_client import (
    FAILED,
    RUNNING,
    SUCCEEDED,
    AgentClient,
    CommandStatus,
    for_task,
)
from ingot.drivers.fast_track import is_fast_track
from ingot.drivers.interfaces import (
    DeployInterface,
    DriverError,
    InvalidParameter,
    Outcome,
    Task,
)
from ingot.drivers.ipxe import boot_mode
from ingot.drivers.power_actions import node_power_action, wipe_agent
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
_BOOTLOADER_COMMAND = "bootloader_command_id"
_BOOTLOADER_STAGE = "installing_bootloader"
_CLEAN_COMMAND = "clean_command_id"
_CLEAN_REQUESTED = "clean_requested_steps"
_CLEAN_STEPS = "clean_steps"
_CLEAN_INDEX = "clean_step_index"
_VERSION_MISMATCH = "CLEAN_VERSION_MISMATCH"
# Ironic's [deploy] defaults for the agent's erase steps, sent in the node's
# driver_internal_info as Ironic's agent_add_clean_params does.
_ERASE_PARAMS = {
    "agent_erase_devices_iterations": 1, "agent_erase_devices_zeroize": True,
    "agent_continue_if_ata_erase_failed": False, "agent_enable_ata_secure_erase": True,
    "agent_enable_nvme_secure_erase": True, "agent_continue_if_secure_erase_failed": False,
    "disk_erasure_concurrency": 4, "agent_erase_skip_read_only": False,
}


def _forces_oob_reboot(node: Node) -> bool:
    return _flag(node, "deploy_forces_oob_reboot")


def _flag(node: Node, field: str) -> bool:
    """A boolean driver_info field, false when absent."""
    value = node.driver_info.get(field, False)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise InvalidParameter(f"driver_info {field} must be a boolean, got {value!r}.")


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
        "deploy_forces_oob_reboot": "Whether to flush the agent's writes (standby.sync) "
                                    "and power off out of band at the end of a deploy, "
                                    "instead of asking the agent to power the node off. "
                                    "Default false. Optional.",
        "ignore_bootloader_failure": "Whether a partition image whose bootloader cannot "
                                     "be installed still deploys. Default false. "
                                     "Optional.",
        "agent_verify_ca": "How to verify an https agent that does not send its CA: true, "
                           "false or the path of a CA bundle on the conductor. Default "
                           "[agent] verify_ca. Optional.",
    }

    def validate(self, node: Node, settings: DriverSettings) -> None:
        _forces_oob_reboot(node)
        _flag(node, "ignore_bootloader_failure")
        try:
            image_info.validate(node.instance_info, node.driver_info,
                                allow_md5=settings.agent.allow_md5,
                                properties=node.properties, boot_mode=boot_mode(node))
        except InvalidImage as exc:
            raise InvalidParameter(str(exc)) from None
        image_delivery.download_source(node, settings.agent.image_download_source)

    # --- deploy -----------------------------------------------------------------------

    async def deploy(self, task: Task) -> Outcome:
        # The deploy action has validated every interface, this one included.
        # Resolve the image (and fetch it into this conductor's cache when it serves
        # it) before the agent boots, so a bad image fails fast and nothing waits.
        try:
            info = await asyncio.to_thread(image_delivery.plan, task.node, task.services,
                                           boot_mode(task.node))
        except (ImageSourceError, ChecksumError, CacheError) as exc:
            raise DriverError(f"Preparing the image failed: {exc}") from None
        except InvalidImage as exc:
            raise InvalidParameter(str(exc)) from None
        task.set_internal(**{_DEPLOY_COMMAND: None, _IMAGE_INFO: info,
                             _BOOTLOADER_COMMAND: None, _BOOTLOADER_STAGE: None})
        if await is_fast_track(task):
            # The agent that cleaned the node still runs: no reboot, write at once.
            LOG.info("Fast track deploy of node %s with its running agent", task.node.uuid)
            status = await for_task(task).execute("standby.prepare_image",
                                                  await _prepare_params(task))
            task.set_internal(**{_DEPLOY_COMMAND: status.id})
        else:
            await _boot_agent(task)
        return Outcome.WAIT

    async def heartbeat(self, task: Task) -> Outcome:
        if not task.node.driver_internal_info.get(_BOOTLOADER_STAGE):
            status = await _follow_command(task, _DEPLOY_COMMAND, "standby.prepare_image",
                                           _prepare_params)
            if status is None:
                return Outcome.WAIT
            if status.status != SUCCEEDED:
                await _forget_deploy_files(task)
            _raise_if_failed(status, "Writing the image")
            if not _is_partition_image(task):
                await self._boot_instance(task)
                return Outcome.DONE
            # A partition image boots with the image's own bootloader: install it.
            task.set_internal(**{_BOOTLOADER_STAGE: True})
        status = await _follow_command(task, _BOOTLOADER_COMMAND, "image.install_bootloader",
                                       _bootloader_params)
        if status is None:
            return Outcome.WAIT
        task.set_internal(**{_BOOTLOADER_STAGE: None})
        if status.status != SUCCEEDED:
            await _forget_deploy_files(task)
        _raise_if_failed(status, "Installing the bootloader")
        await self._boot_instance(task)
        return Outcome.DONE

    async def _boot_instance(self, task: Task) -> None:
        await _forget_deploy_files(task)
        if POWER_ON not in task.driver.power.supported_power_states:
            # As Ironic, when the power interface cannot power on (the agent power
            # interface): the instance's boot is prepared, then the agent flushes its
            # writes and reboots into it (standby.run_image).
            LOG.info("Power interface of node %s does not support power on, using reboot "
                     "to switch to the instance", task.node.uuid)
            await task.driver.boot.clean_up_ramdisk(task)
            await task.driver.boot.prepare_instance(task)
            await _sync(task, for_task(task))
            await node_power_action(task, REBOOT)
            return
        await _tear_down_agent(task)
        await task.driver.boot.clean_up_ramdisk(task)
        await task.driver.boot.prepare_instance(task)
        await node_power_action(task, POWER_ON)

    async def tear_down(self, task: Task) -> None:
        await node_power_action(task, POWER_OFF)
        await task.driver.boot.clean_up_instance(task)
        await _forget_deploy_files(task)

    async def abort(self, task: Task) -> None:
        await node_power_action(task, POWER_OFF)
        await task.driver.boot.clean_up_ramdisk(task)
        await _forget_deploy_files(task)
        task.set_internal(**{**_cleaning_reset(), _DEPLOY_COMMAND: None,
                             _BOOTLOADER_COMMAND: None, _BOOTLOADER_STAGE: None})

    # --- cleaning ---------------------------------------------------------------------

    async def clean(self, task: Task, steps: list[dict[str, Any]] | None) -> Outcome:
        task.set_internal(**{**_cleaning_reset(), _CLEAN_REQUESTED: steps})
        if await is_fast_track(task):
            LOG.info("Fast track cleaning of node %s with its running agent", task.node.uuid)
            return await self.clean_heartbeat(task)
        await _boot_agent(task)
        return Outcome.WAIT

    async def clean_heartbeat(self, task: Task) -> Outcome:
        info = task.node.driver_internal_info
        if info.get(_CLEAN_STEPS) is None:
            # The agent just booted: learn its steps, then run the first.
            await _refresh_clean_steps(task)
            task.set_internal(**{_CLEAN_STEPS: _steps_to_run(task), _CLEAN_INDEX: None})
            return await _next_clean_step(task)
        command_id = info.get(_CLEAN_COMMAND)
        if not command_id:
            return await _next_clean_step(task, again=True)
        status = await for_task(task).status(str(command_id))
        if status.status == RUNNING:
            return Outcome.WAIT
        task.set_internal(**{_CLEAN_COMMAND: None})
        if status.status == _VERSION_MISMATCH:
            # The agent's hardware managers changed (a new ramdisk): as Ironic, take its
            # steps again; automated cleaning starts over, manual cleaning repeats the
            # step.
            LOG.info("Node %s: clean version mismatch, refreshing the agent's steps",
                     task.node.uuid)
            await _refresh_clean_steps(task)
            if info.get(_CLEAN_REQUESTED) is None:
                task.set_internal(**{_CLEAN_STEPS: _steps_to_run(task), _CLEAN_INDEX: None})
                return await _next_clean_step(task)
            return await _next_clean_step(task, again=True)
        step = task.node.clean_step or {}
        _raise_if_failed(status, f"Clean step {step.get('interface')}.{step.get('step')}")
        return await _next_clean_step(task)


async def _refresh_clean_steps(task: Task) -> None:
    status = await for_task(task).execute(
        "clean.get_clean_steps", {"node": _agent_node(task), "ports": _agent_ports(task)},
        wait=True)
    _raise_if_failed(status, "Getting the clean steps")
    task.set_internal(**clean_steps.AgentSteps(status.result).as_internal())


def _steps_to_run(task: Task) -> list[dict[str, Any]]:
    info = task.node.driver_internal_info
    cached = info.get("agent_cached_clean_steps") or {}
    requested = info.get(_CLEAN_REQUESTED)
    if requested is not None:
        return clean_steps.manual(cached, requested)
    deploy = task.services.settings.deploy
    return clean_steps.automated(cached, {
        "erase_devices": deploy.erase_devices_priority,
        "erase_devices_metadata": deploy.erase_devices_metadata_priority})


async def _next_clean_step(task: Task, again: bool = False) -> Outcome:
    info = task.node.driver_internal_info
    steps = info.get(_CLEAN_STEPS) or []
    index = info.get(_CLEAN_INDEX)
    index = 0 if index is None else index + (0 if again else 1)
    if index >= len(steps):
        await _tear_down_cleaning(task)
        return Outcome.DONE
    step = steps[index]
    params = {"step": step, "node": _agent_node(task), "ports": _agent_ports(task),
              "clean_version": info.get("hardware_manager_version")}
    LOG.info("Node %s: clean step %s.%s (priority %s)", task.node.uuid, step["interface"],
             step["step"], step.get("priority"))
    task.save(clean_step=step)
    status = await for_task(task).execute("clean.execute_clean_step", params)
    task.set_internal(**{_CLEAN_INDEX: index, _CLEAN_COMMAND: status.id})
    # The agent heartbeats as soon as the step ends; the next heartbeat follows it.
    return Outcome.WAIT


async def _tear_down_cleaning(task: Task) -> None:
    if not await is_fast_track(task):
        await node_power_action(task, POWER_OFF)
    await task.driver.boot.clean_up_ramdisk(task)
    task.set_internal(**_cleaning_reset())


def _cleaning_reset() -> dict[str, Any]:
    return {_CLEAN_COMMAND: None, _CLEAN_REQUESTED: None, _CLEAN_STEPS: None,
            _CLEAN_INDEX: None}


def _agent_node(task: Task) -> dict[str, Any]:
    """The node as the agent's steps read it; no driver_info or instance_info (which
    may hold secrets), which no clean step needs."""
    node = task.node
    return {"uuid": node.uuid, "name": node.name, "properties": node.properties,
            "driver_info": {}, "instance_info": {},
            "driver_internal_info": dict(_ERASE_PARAMS)}


def _agent_ports(task: Task) -> list[dict[str, Any]]:
    return [{"address": mac} for mac in task.macs]


async def _tear_down_agent(task: Task) -> None:
    """Ironic's tear_down_agent: the written image must reach the disk before the
    power goes."""
    node = task.node
    agent = for_task(task)
    if _forces_oob_reboot(node):
        await _sync(task, agent)
        await node_power_action(task, POWER_OFF)
    else:
        await _soft_power_off(task, agent)
    # The agent is gone either way.
    wipe_agent(task)


async def _sync(task: Task, agent: AgentClient) -> None:
    """Ask the agent to flush its writes; a failure is logged, as Ironic does."""
    try:
        status = await agent.execute("standby.sync", {}, wait=True)
        if status.status != SUCCEEDED:
            LOG.warning("Flushing the agent's writes on node %s failed: %s", task.node.uuid,
                        status.error)
    except DriverError as exc:
        LOG.warning("Flushing the agent's writes on node %s failed: %s", task.node.uuid, exc)


async def _soft_power_off(task: Task, agent: AgentClient) -> None:
    try:
        await agent.execute("standby.power_off", {})
    except DriverError as exc:
        LOG.warning("Asking the agent of node %s to power off failed: %s", task.node.uuid,
                    exc)
    settings = task.services.settings.agent
    interval = settings.post_deploy_get_power_state_retry_interval
    wait = interval * settings.post_deploy_get_power_state_retries
    deadline = time.monotonic() + wait
    while True:
        if await task.driver.power.get_power_state(task) == POWER_OFF:
            return
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(min(0.5, interval))
    LOG.warning("Node %s did not power off through its agent in %d s; powering off out of "
                "band", task.node.uuid, wait)
    await node_power_action(task, POWER_OFF)


async def _follow_command(task: Task, key: str, name: str,
                          params: Callable[[Task], Awaitable[dict[str, Any]]]
                          ) -> CommandStatus | None:
    """Start the agent command (when no command id is recorded), else check it.

    Returns the finished command's status, or None while it runs. The command id is
    kept in driver_internal_info[key], so any conductor can take the next heartbeat.
    """
    command_id = task.node.driver_internal_info.get(key)
    agent = for_task(task)
    if command_id:
        status = await agent.status(str(command_id))
    else:
        status = await agent.execute(name, await params(task))
        task.set_internal(**{key: status.id})
    if status.status == RUNNING:
        return None
    task.set_internal(**{key: None})
    return status


async def _boot_agent(task: Task) -> None:
    await task.driver.boot.prepare_ramdisk(
        task, task.services.settings.endpoints.ramdisk_params)
    await node_power_action(task, REBOOT)


def _raise_if_failed(status: CommandStatus, what: str) -> None:
    if status.status == FAILED:
        raise DriverError(f"{what} failed on the agent: {status.error or 'no details'}")
    if status.status != SUCCEEDED:
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


def _is_partition_image(task: Task) -> bool:
    info = task.node.driver_internal_info.get(_IMAGE_INFO) or {}
    return bool(info.get("image_type") == "partition")


async def _bootloader_params(task: Task) -> dict[str, Any]:
    """Ironic's install_bootloader call: the partitions prepare_image reported."""
    status = await for_task(task).execute("standby.get_partition_uuids", {}, wait=True)
    _raise_if_failed(status, "Reading the partition UUIDs")
    uuids = status.result if isinstance(status.result, dict) else {}
    if not uuids.get("root uuid"):
        raise DriverError("The agent reported no root partition UUID.")
    return {"root_uuid": uuids["root uuid"],
            "efi_system_part_uuid": uuids.get("efi system partition uuid"),
            "prep_boot_part_uuid": None, "target_boot_mode": boot_mode(task.node),
            "ignore_bootloader_failure": _flag(task.node, "ignore_bootloader_failure")}


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
