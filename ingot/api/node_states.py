"""/v1/nodes/{node}/states and /validate: power and provision requests.

A request is checked against the state machine, then recorded with one conditional
UPDATE that moves the node into the transient state and leaves the work for a
conductor (``pending_action``). If the node changed meanwhile, nothing is written.
"""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from ingot.api import runbooks, validation
from ingot.api.body import read_object
from ingot.api.context import base_url, context, version
from ingot.api.errors import BadRequest, Conflict, Forbidden, NotAcceptable, PayloadTooLarge
from ingot.api.lookup import busy, find_node, until_idle
from ingot.api.node_view import states_view
from ingot.api.responses import json_response
from ingot.common import power, states
from ingot.conductor import deploy_steps
from ingot.configdrive import check as configdrive_check
from ingot.configdrive.errors import ConfigDriveRejected
from ingot.db import nodes
from ingot.db.models import Node, Runbook, utcnow
from ingot.drivers.hardware import driver_for
from ingot.drivers.interfaces import InvalidParameter
from ingot.drivers.settings import DriverSettings

_POWER_TARGETS = {
    power.POWER_ON: 1, power.POWER_OFF: 1, power.REBOOT: 1,
    power.SOFT_POWER_OFF: 27, power.SOFT_REBOOT: 27,
}


async def get_states(request: Request) -> Response:
    with context(request).db.read() as conn:
        node = find_node(conn, request.path_params["node"])
    return json_response(states_view(node, version(request).minor))


async def validate_node(request: Request) -> Response:
    ctx = context(request)
    with ctx.db.read() as conn:
        node = find_node(conn, request.path_params["node"])
    try:
        interfaces = driver_for(node).all()
    except InvalidParameter as exc:
        raise BadRequest(str(exc)) from None
    result: dict[str, Any] = {}
    for kind in sorted(interfaces):
        try:
            interfaces[kind].validate(node, ctx.drivers)
            result[kind] = {"result": True}
        except InvalidParameter as exc:
            result[kind] = {"result": False, "reason": str(exc)}
    return json_response(result)


def _states_location(request: Request, node: Node) -> dict[str, str]:
    return {"Location": f"{base_url(request)}/v1/nodes/{node.uuid}/states"}


async def set_power_state(request: Request) -> Response:
    ctx = context(request)
    minor = version(request).minor
    body = await read_object(request, ctx.settings.max_body, ctx.settings.max_body_depth)
    unknown = set(body) - {"target", "timeout"}
    if unknown:
        raise BadRequest(f"Unknown field(s) in power request: {', '.join(sorted(unknown))}.")
    target = body.get("target")
    if not isinstance(target, str) or target not in _POWER_TARGETS:
        raise BadRequest(f"Invalid power state target {target!r}; valid targets: "
                         f"{', '.join(sorted(_POWER_TARGETS))}.")
    if _POWER_TARGETS[target] > minor:
        raise NotAcceptable(f"Power target \"{target}\" needs API version "
                            f"1.{_POWER_TARGETS[target]} or later.")
    if "timeout" in body:
        if minor < 27:
            raise NotAcceptable("The power timeout needs API version 1.27 or later.")
        timeout = body["timeout"]
        if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1:
            raise BadRequest("timeout must be a positive integer (seconds).")

    def read() -> Node:
        with ctx.db.read() as conn:
            return find_node(conn, request.path_params["node"])
    await until_idle(read)
    with ctx.db.write() as conn:
        node = find_node(conn, request.path_params["node"])
        if node.reservation or node.pending_action:
            raise busy(node)
        try:
            driver_for(node).power.validate(node, ctx.drivers)
        except InvalidParameter as exc:
            raise BadRequest(f"Cannot change the power state of node {node.uuid}: "
                             f"{exc}") from None
        if node.disable_power_off and target in (power.POWER_OFF, power.SOFT_POWER_OFF):
            # Ironic 1.95: such a node may reboot but is never left off.
            raise Conflict(f"Failed to set node power state to {target}: node {node.uuid} "
                           f"has disable_power_off set.")
        recorded = nodes.update(
            conn, node.id,
            {"target_power_state": power.POWER_ON if target == power.REBOOT else target,
             "pending_action": "power",
             "pending_args": {"target": target, **({"timeout": body["timeout"]}
                                                   if "timeout" in body else {})}},
            revision=node.revision, reservation=None, pending_action=None)
        if not recorded:
            raise Conflict(f"Node {node.uuid} changed while the request was recorded; retry.")
    ctx.notify()
    return Response(status_code=202, headers=_states_location(request, node))


async def set_provision_state(request: Request) -> Response:
    ctx = context(request)
    minor = version(request).minor
    body = await read_object(request, ctx.settings.max_provision_body,
                             ctx.settings.max_body_depth)
    unknown = set(body) - {"target", "configdrive", "clean_steps", "deploy_steps",
                           "service_steps", "rescue_password", "disable_ramdisk", "runbook"}
    if unknown:
        raise BadRequest(f"Unknown field(s) in provision request: "
                         f"{', '.join(sorted(unknown))}.")
    target = body.get("target")
    verb = states.VERBS.get(target) if isinstance(target, str) else None
    if verb is None or not isinstance(target, str):
        raise BadRequest(f"Invalid provision state target {target!r}; valid targets: "
                         f"{', '.join(sorted(states.VERBS))}.")
    if verb.min_version > minor:
        raise NotAcceptable(f"Provision target \"{target}\" needs API version "
                            f"1.{verb.min_version} or later.")
    runbook = _runbook_request(body, verb.event, minor)
    args = _action_args(target, verb.event, body, minor, runbook is not None)

    def record() -> tuple[Node, dict[str, Any]]:
        # The update is conditional on the revision read: the reads need no transaction.
        with ctx.db.guarded_write() as conn:
            node = find_node(conn, request.path_params["node"])
            _check_request(node, verb.event, target)
            if runbook is not None:
                _apply_runbook(args, runbooks.approved(conn, request, runbook, node, minor),
                               verb.event, minor)
            if verb.event == "abort" and node.provision_state == states.DEPLOYWAIT \
                    and minor < 110:
                raise NotAcceptable("Aborting a deploy in \"wait call-back\" needs API "
                                    "version 1.110 or later.")
            if verb.event in ("deploy", "rebuild"):
                _validate_for_deploy(node, ctx.drivers)
                _check_deploy_steps(conn, node, args.get("deploy_steps"))
            values = _transition_values(node, verb.event, verb.action, args)
            if not nodes.update(conn, node.id, values, revision=node.revision,
                                reservation=None, pending_action=None):
                raise Conflict(f"Node {node.uuid} changed while the request was recorded; "
                               f"retry.")
        return node, values

    # In a thread: the commit waits for the disk (a WAL flush on PostgreSQL), and
    # requests committing side by side share one flush instead of queueing in the loop.
    node, values = await asyncio.to_thread(record)
    if values.get("pending_action"):
        ctx.notify()
    return Response(status_code=202, headers=_states_location(request, node))


def _runbook_request(body: dict[str, Any], event: str, minor: int) -> Any:
    """The runbook a clean or service request names instead of its steps (API 1.92)."""
    runbook = body.get("runbook")
    if runbook is None:
        return None
    if minor < runbooks.MIN_MINOR:
        raise NotAcceptable(f"\"runbook\" needs API version 1.{runbooks.MIN_MINOR} or "
                            f"later.")
    if event not in ("clean", "service"):
        raise BadRequest("\"runbook\" is only valid when setting target provision state to "
                         "clean or service.")
    steps = "clean_steps" if event == "clean" else "service_steps"
    if body.get(steps):
        raise BadRequest(f"Please provide either \"{steps}\" or a runbook, but not both.")
    return runbook


def _apply_runbook(args: dict[str, Any], runbook: Runbook, event: str, minor: int) -> None:
    """The runbook's steps become the request's; its disable_ramdisk replaces the
    request's, as in Ironic."""
    args["clean_steps" if event == "clean" else "service_steps"] = [
        dict(step) for step in runbook.steps]
    args.pop("disable_ramdisk", None)
    if runbook.disable_ramdisk:
        # As Ironic: the runbook's flag is held to the request's version rules.
        if minor < (70 if event == "clean" else 108):
            raise NotAcceptable("\"disable_ramdisk\" is not acceptable in this API "
                                "version.")
        args["disable_ramdisk"] = True


def _action_args(target: str, event: str, body: dict[str, Any], minor: int,
                 runbook: bool = False) -> dict[str, Any]:
    args: dict[str, Any] = {}
    configdrive = body.get("configdrive")
    if configdrive is not None:
        if event not in ("deploy", "rebuild") or (event == "rebuild" and minor < 35):
            raise BadRequest("Adding a config drive is only supported when setting provision "
                             "state to active, deploy or rebuild.")
        args["configdrive"] = _check_configdrive(configdrive, minor)
    clean_steps = body.get("clean_steps")
    if event == "clean" and not runbook:
        if not isinstance(clean_steps, list) or not clean_steps:
            raise BadRequest("\"clean_steps\" is required when setting target provision state "
                             "to clean.")
        args["clean_steps"] = [_check_step("clean_steps", step) for step in clean_steps]
    elif clean_steps is not None:
        raise BadRequest("\"clean_steps\" is only valid when setting target provision state "
                         "to clean.")
    deploy_steps = body.get("deploy_steps")
    if deploy_steps is not None:
        if minor < 69:
            raise NotAcceptable("deploy_steps needs API version 1.69 or later.")
        if event not in ("deploy", "rebuild") or not isinstance(deploy_steps, list):
            raise BadRequest("\"deploy_steps\" is a list, valid only with the active, deploy "
                             "and rebuild targets.")
        args["deploy_steps"] = [_check_step("deploy_steps", step) for step in deploy_steps]
    rescue_password = body.get("rescue_password")
    if event == "rescue":
        if not isinstance(rescue_password, str) or not rescue_password.strip():
            raise BadRequest("A non-empty \"rescue_password\" is required when setting target "
                             "provision state to rescue.")
        args["rescue_password"] = rescue_password
    elif rescue_password is not None:
        raise BadRequest("\"rescue_password\" is only valid with the rescue target.")
    service_steps = body.get("service_steps")
    if event == "service" and not runbook:
        if not isinstance(service_steps, list) or not service_steps:
            raise BadRequest("\"service_steps\" is required when setting target provision "
                             "state to service.")
        args["service_steps"] = [_check_step("service_steps", step) for step in service_steps]
    elif service_steps is not None:
        raise BadRequest("\"service_steps\" is only valid when setting target provision "
                         "state to service.")
    if body.get("disable_ramdisk") is not None:
        # As Ironic: manual cleaning from 1.70, servicing from 1.108, nothing else.
        if event not in ("clean", "service"):
            raise BadRequest("\"disable_ramdisk\" is supported only with manual cleaning "
                             "or servicing.")
        if minor < (70 if event == "clean" else 108):
            raise NotAcceptable("\"disable_ramdisk\" is not acceptable in this API "
                                "version.")
        args["disable_ramdisk"] = validation.bool_value("disable_ramdisk",
                                                        body["disable_ramdisk"])
    return args


def _check_step(field: str, step: Any) -> dict[str, Any]:
    if not isinstance(step, dict) or not isinstance(step.get("interface"), str) \
            or not isinstance(step.get("step"), str):
        raise BadRequest(f"Each item of {field} needs string \"interface\" and \"step\" keys.")
    unknown = set(step) - {"interface", "step", "args", "priority"}
    if unknown:
        raise BadRequest(f"Unknown key(s) in {field} item: {', '.join(sorted(unknown))}.")
    if "args" in step and not isinstance(step["args"], dict):
        raise BadRequest(f"\"args\" of a {field} item must be an object.")
    return step


def _check_configdrive(value: Any, minor: int) -> Any:
    """Check what can be checked up front, so a bad drive fails the request, not the
    deploy: JSON against the schema, strings as URL or base64 of a gzipped config-2 ISO
    within the size limit."""
    if isinstance(value, dict):
        if minor < 56:
            raise BadRequest("Providing a JSON object for configdrive is only supported "
                                "starting with API version 1.56.")
        if "vendor_data" in value and minor < 59:
            raise BadRequest("configdrive vendor_data needs API version 1.59 or later.")
        try:
            configdrive_check.check_json(value, vendor_data=minor >= 59)
        except ConfigDriveRejected as exc:
            raise BadRequest(exc.message) from None
        return value
    if isinstance(value, str):
        try:
            configdrive_check.check(value)
        except ConfigDriveRejected as exc:
            if exc.status == 413:
                raise PayloadTooLarge(exc.message) from None
            raise BadRequest(exc.message) from None
        return value
    raise BadRequest("Invalid configdrive format: it is neither a JSON object, nor a URL, nor a "
                     "base64 string.")


def _check_request(node: Node, event: str, target: str) -> None:
    if node.reservation or node.pending_action:
        raise busy(node)
    if node.protected and event in ("delete", "rebuild"):
        raise Forbidden(f"Node {node.uuid} is protected and cannot be undeployed, rebuilt or "
                        f"deleted.")
    if not states.can(node.provision_state, event):
        raise BadRequest(f"The requested action \"{target}\" can not be performed on node "
                         f"\"{node.uuid}\" while it is in state \"{node.provision_state}\".")


def _validate_for_deploy(node: Node, settings: DriverSettings) -> None:
    try:
        interfaces = driver_for(node).all()
        for kind in ("power", "management", "boot", "deploy"):
            interfaces[kind].validate(node, settings)
    except InvalidParameter as exc:
        raise BadRequest(f"Cannot deploy node {node.uuid}: {exc}") from None


def _check_deploy_steps(conn: sa.Connection, node: Node,
                        requested: list[dict[str, Any]] | None) -> None:
    """The templates the instance's traits name and the request's steps must be steps
    the node's interfaces offer: a 400 now rather than a failed deploy."""
    try:
        deploy_steps.plan(driver_for(node), deploy_steps.requested_steps(conn, node,
                                                                         requested))
    except InvalidParameter as exc:
        raise BadRequest(f"Cannot deploy node {node.uuid}: {exc}") from None


def _transition_values(node: Node, event: str, action: str | None,
                       args: dict[str, Any]) -> dict[str, Any]:
    new_state = states.next_state(node.provision_state, event)
    values: dict[str, Any] = {
        "provision_state": new_state,
        "target_provision_state": states.target_of(new_state),
        "provision_updated_at": utcnow(),
        "last_error": None,
    }
    if event == "clean":
        values["target_provision_state"] = states.MANAGEABLE
    if event == "abort":
        values["last_error"] = (f"By request, the operation in state "
                                f"\"{node.provision_state}\" was aborted.")
    if (node.provision_state, event) in states.INSTANT:
        # A hold left for its wait state keeps heading where it was going.
        values["target_provision_state"] = (None if new_state in states.STABLE_STATES
                                            else states.target_of(new_state))
        return values
    values["pending_action"] = action
    values["pending_args"] = {k: v for k, v in args.items() if k != "configdrive"}
    if "configdrive" in args:
        values["instance_info"] = {**node.instance_info, "configdrive": args["configdrive"]}
    return values

