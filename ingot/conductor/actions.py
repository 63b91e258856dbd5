"""What a conductor does for each kind of pending work.

The API has already moved the node into the transient state of the request (e.g.
``deploying``) and recorded the action; each function here carries the work on and
moves the node on with ``task.advance``. An exception fails the operation: the
service moves the node to the matching failure state with the message as last_error.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ingot.common import states
from ingot.common.power import POWER_OFF
from ingot.conductor import deploy_steps
from ingot.conductor.task import LostReservation, NodeTask
from ingot.db import nodes
from ingot.db.models import utcnow
from ingot.drivers.fast_track import fast_track_able
from ingot.drivers.hardware import default_interfaces
from ingot.drivers.interfaces import DriverError, InvalidParameter, Outcome
from ingot.drivers.power_actions import node_power_action
from ingot.inspection.process import InspectionFailed, process

LOG = logging.getLogger(__name__)

Action = Callable[[NodeTask, dict[str, Any]], Awaitable[None]]


def validate(task: NodeTask, kinds: tuple[str, ...]) -> None:
    interfaces = task.driver.all()
    for kind in kinds:
        try:
            interfaces[kind].validate(task.node, task.services.settings)
        except InvalidParameter as exc:
            raise DriverError(f"Failed to validate {kind} interface for node "
                              f"{task.node.uuid}: {exc}") from exc


async def verify(task: NodeTask, args: dict[str, Any]) -> None:
    validate(task, ("power", "management"))
    power_state = await task.driver.power.get_power_state(task)
    task.advance("done", power_state=power_state)


async def deploy(task: NodeTask, args: dict[str, Any]) -> None:
    validate(task, ("power", "management", "boot", "deploy"))
    try:
        if task.node.instance_info.get("traits"):
            with task.db.read() as conn:
                requested = deploy_steps.requested_steps(conn, task.node,
                                                         args.get("deploy_steps"))
        else:
            requested = deploy_steps.requested_steps(None, task.node,
                                                     args.get("deploy_steps"))
        steps = deploy_steps.plan(task.driver, requested)
    except InvalidParameter as exc:
        raise DriverError(f"Cannot deploy node {task.node.uuid}: {exc}") from exc
    async with _stopping_on_failure(task):
        await _run_deploy_steps(task, steps, 0, last_error=None)


async def continue_deploy(task: NodeTask, args: dict[str, Any]) -> None:
    """The agent called back while the node waited for it."""
    if task.node.provision_state == states.DEPLOYWAIT:
        async with _stopping_on_failure(task):
            task.advance("resume")
            # Only the deploy interface's own step waits for the agent.
            outcome = await task.driver.deploy.heartbeat(task)
            if outcome is Outcome.WAIT:
                await _after_deploy_step(task, outcome)
            else:
                info = task.node.driver_internal_info
                index = info.get(_STEP_INDEX)
                await _run_deploy_steps(task, info.get(_STEPS) or [],
                                        0 if index is None else index + 1)
    elif task.node.provision_state == states.CLEANWAIT:
        async with _stopping_on_failure(task):
            task.advance("resume")
            outcome = await task.driver.deploy.clean_heartbeat(task)
            await _after_clean(task, outcome)
    # Any other state: the heartbeat came late, nothing to continue.


# driver_internal_info keys: the deploy's plan, and the index of the step running.
_STEPS, _STEP_INDEX = "deploy_steps", "deploy_step_index"


async def _run_deploy_steps(task: NodeTask, steps: list[dict[str, Any]], start: int,
                            **values: Any) -> None:
    """Run steps from start; node.deploy_step shows the step running. One write per
    step: a conductor's deploy rate depends on it."""
    interfaces = task.driver.all()
    for index in range(start, len(steps)):
        step = steps[index]
        task.save(deploy_step=step, **values,
                  driver_internal_info=task.internal_with(**{_STEPS: steps,
                                                             _STEP_INDEX: index}))
        values = {}
        outcome = await interfaces[step["interface"]].execute_deploy_step(
            task, step["step"], dict(step["args"]))
        if outcome is Outcome.WAIT:
            await _after_deploy_step(task, outcome)
            return
    await _sync_power(task)
    task.advance("done", deploy_step={}, **values,
                 driver_internal_info=task.internal_with(**{_STEPS: None, _STEP_INDEX: None}))


@contextlib.asynccontextmanager
async def _stopping_on_failure(task: NodeTask) -> AsyncIterator[None]:
    """On failure, stop what runs on the node (its agent, its boot files) before the
    node goes to its failure state, as Ironic's power_off_after_deploy_failure does;
    a cleanup error is logged, the original failure is what the node reports."""
    try:
        yield
    except LostReservation:
        raise
    except Exception:
        try:
            task.set_internal(**{_STEPS: None, _STEP_INDEX: None})
            await task.driver.deploy.abort(task)
            await _sync_power(task)
        except Exception:
            LOG.exception("Cleaning up node %s after a failure failed", task.node.uuid)
        raise


async def _sync_power(task: NodeTask) -> None:
    """Record the power state a driver operation left the node in."""
    state = await task.driver.power.get_power_state(task)
    if state != task.node.power_state:
        task.save(power_state=state)


async def _after_deploy_step(task: NodeTask, outcome: Outcome) -> None:
    await _sync_power(task)
    if outcome is Outcome.WAIT:
        task.advance("wait")
    else:
        task.advance("done", deploy_step={})


async def undeploy(task: NodeTask, args: dict[str, Any]) -> None:
    await task.driver.deploy.tear_down(task)
    task.advance("clean", instance_info={}, instance_uuid=None)
    await clean(task, args)


async def clean(task: NodeTask, args: dict[str, Any]) -> None:
    """Automated cleaning (provide, undeploy) or manual cleaning with clean_steps."""
    steps = args.get("clean_steps")
    if steps is None and not _automated_clean_enabled(task):
        await _after_clean(task, Outcome.DONE)
        return
    # Not the deploy interface: that checks the instance's image, which cleaning does
    # not need (and undeploy has just removed).
    validate(task, ("power", "management"))
    outcome = await task.driver.deploy.clean(task, steps)
    await _after_clean(task, outcome)


def _automated_clean_enabled(task: NodeTask) -> bool:
    if task.node.automated_clean is not None:
        return task.node.automated_clean
    return task.settings.automated_clean


async def _after_clean(task: NodeTask, outcome: Outcome) -> None:
    await _sync_power(task)
    if outcome is Outcome.WAIT:
        task.advance("wait")
        return
    manual = task.node.target_provision_state == states.MANAGEABLE
    task.advance("manage" if manual else "done", clean_step={})


async def inspect(task: NodeTask, args: dict[str, Any]) -> None:
    validate(task, ("power", "management", "inspect"))
    task.save(inspection_started_at=utcnow(), inspection_finished_at=None, last_error=None)
    outcome = await task.driver.inspect.inspect(task)
    await _sync_power(task)
    if outcome is Outcome.WAIT:
        task.advance("wait")
    else:
        task.advance("done", inspection_finished_at=utcnow())


async def continue_inspection(task: NodeTask, args: dict[str, Any]) -> None:
    """The agent posted its inventory (stored by the API): apply it, then let the
    agent go, or with fast track keep it up for the next operation."""
    if task.node.provision_state != states.INSPECTWAIT:
        return  # aborted meanwhile
    task.flush()  # this write is not batched: the task's earlier ones go first
    try:
        with task.db.write() as conn:
            values = process(conn, task.node, task.settings.inspection,
                             functools.partial(default_interfaces,
                                               enabled_names=task.settings.hardware_types))
            if not nodes.update(conn, task.node.id, values, reservation=task.host):
                raise LostReservation(f"Node {task.node.uuid} is no longer reserved by "
                                      f"{task.host}")
    except InspectionFailed as exc:
        await _end_inspection_boot(task, keep_agent=False)
        raise DriverError(str(exc)) from None
    for name, value in values.items():
        setattr(task.node, name, value)
    await _end_inspection_boot(task, keep_agent=fast_track_able(
        task.node, task.services.settings.deploy))
    task.advance("done", inspection_finished_at=utcnow())


async def _end_inspection_boot(task: NodeTask, *, keep_agent: bool) -> None:
    if keep_agent:
        return
    try:
        await node_power_action(task, POWER_OFF)
        await task.driver.boot.clean_up_ramdisk(task)
    except Exception:
        LOG.exception("Powering off node %s after inspection failed", task.node.uuid)
    await _sync_power(task)


async def adopt(task: NodeTask, args: dict[str, Any]) -> None:
    validate(task, ("power", "management", "boot", "deploy"))
    task.advance("done")


async def rescue(task: NodeTask, args: dict[str, Any]) -> None:
    outcome = await task.driver.rescue.rescue(task)
    task.advance("wait" if outcome is Outcome.WAIT else "done")


async def unrescue(task: NodeTask, args: dict[str, Any]) -> None:
    await task.driver.rescue.unrescue(task)
    task.advance("done")


async def abort(task: NodeTask, args: dict[str, Any]) -> None:
    """The API already moved the node to the failure state; stop what was running."""
    task.set_internal(**{_STEPS: None, _STEP_INDEX: None})
    await task.driver.deploy.abort(task)
    await _sync_power(task)


async def service(task: NodeTask, args: dict[str, Any]) -> None:
    """Service steps on an active node; a failure leaves it in service failed."""
    validate(task, ("power", "management"))
    outcome = await task.driver.deploy.service(task, list(args.get("service_steps", [])))
    await _sync_power(task)
    task.advance("wait" if outcome is Outcome.WAIT else "done", service_step={})


async def boot_mode(task: NodeTask, args: dict[str, Any]) -> None:
    await task.driver.management.set_boot_mode(task, args["target"])
    task.save(boot_mode=args["target"], last_error=None)


async def secure_boot(task: NodeTask, args: dict[str, Any]) -> None:
    await task.driver.management.set_secure_boot(task, args["target"])
    task.save(secure_boot=args["target"], last_error=None)


async def vmedia(task: NodeTask, args: dict[str, Any]) -> None:
    """Attach or detach virtual media (API 1.89); a failure is the node's last_error."""
    management = task.driver.management
    if "attach" in args:
        media = args["attach"]
        try:
            await management.attach_virtual_media(task, media["device_type"],
                                                   media["image_url"],
                                                   media["image_download_source"])
        except DriverError as exc:
            raise DriverError(f"Could not attach virtual media {media['device_type']}: "
                              f"{exc}") from None
    else:
        devices = args.get("detach")
        try:
            await management.detach_virtual_media(task, devices)
        except DriverError as exc:
            which = "all devices" if devices is None else ", ".join(devices)
            raise DriverError(f"Could not detach virtual media ({which}): {exc}") from None
    task.save(last_error=None)


async def power(task: NodeTask, args: dict[str, Any]) -> None:
    await node_power_action(task, args["target"], timeout=args.get("timeout"))
    task.save(power_state=await task.driver.power.get_power_state(task),
              target_power_state=None, last_error=None)


ACTIONS: dict[str, Action] = {
    "verify": verify,
    "deploy": deploy,
    "heartbeat": continue_deploy,
    "undeploy": undeploy,
    "clean": clean,
    "inspect": inspect,
    "continue_inspection": continue_inspection,
    "adopt": adopt,
    "rescue": rescue,
    "unrescue": unrescue,
    "abort": abort,
    "power": power,
    "service": service,
    "boot_mode": boot_mode,
    "secure_boot": secure_boot,
    "vmedia": vmedia,
}
