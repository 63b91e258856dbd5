"""The agent's endpoints: /v1/lookup and /v1/heartbeat/{node}, with agent tokens.

As in Ironic (API >= 1.62), the first lookup of a node's agent gets a fresh random
token and every later lookup gets it masked, so only the agent that booted first can
heartbeat. A conductor that starts the agent itself (virtual media, local VMs) may set
the token beforehand and hand it over out of band; lookup then only masks it.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
import ssl
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ingot.api import validation
from ingot.api.body import read_object
from ingot.api.context import base_url, context, version
from ingot.api.errors import BadRequest, Conflict, NotFound, PayloadTooLarge, Unauthorized
from ingot.api.lookup import find_node
from ingot.api.node_view import lookup_view
from ingot.api.responses import json_response
from ingot.common import states
from ingot.common.redaction import MASK
from ingot.db import nodes
from ingot.db.models import Node, utcnow

# States in which a heartbeat continues the node's operation. Not inspect wait: the
# inventory posted to /v1/continue_inspection continues an inspection.
_CONTINUE_STATES = (states.DEPLOYWAIT, states.CLEANWAIT, states.RESCUEWAIT)
# With fast track, an agent stays up between operations and looks up in these too.
_FAST_TRACK_LOOKUP_STATES = states.LOOKUP_ALLOWED_STATES | {
    states.ENROLL, states.MANAGEABLE, states.AVAILABLE}
_AGENT_STATUSES = ("start", "end", "error")
# What a heartbeat may store: the agent's progress is a handful of counters, and the
# node is read by every API client.
MAX_PROGRESS_BYTES = 4096
# The whole heartbeat, with room for agent_verify_ca (a PEM certificate chain).
MAX_HEARTBEAT_BYTES = 65536
_MAX_URL_LENGTH = 2048
# A hostname, an IPv4 address or (urlsplit strips the brackets) an IPv6 address.
_HOST = re.compile(r"[A-Za-z0-9._-]+|[0-9A-Fa-f:.]+")


def _need_ramdisk_api(request: Request) -> int:
    minor = version(request).minor
    if minor < 22:
        raise NotFound("The lookup and heartbeat endpoints need API version 1.22 or later.")
    return minor


async def lookup(request: Request) -> Response:
    minor = _need_ramdisk_api(request)
    ctx = context(request)
    params = request.query_params
    addresses = []
    for raw in (params.get("addresses") or "").split(","):
        if raw.strip():
            try:
                addresses.append(validation.mac_value("addresses", raw))
            except Exception:  # invalid MACs are ignored, as in Ironic
                continue
    node_uuid = params.get("node_uuid")
    if node_uuid is not None:
        node_uuid = validation.uuid_value("node_uuid", node_uuid)
    if not addresses and not node_uuid:
        raise BadRequest("Lookup needs node_uuid or at least one valid MAC address in "
                         "addresses.")
    not_found = NotFound("Node could not be found.")
    with ctx.db.read() as conn:
        if node_uuid:
            node = nodes.get_by_uuid(conn, node_uuid)
        else:
            matches = nodes.get_by_macs(conn, addresses)
            node = matches[0] if len(matches) == 1 else None
    # The same answer whether the node is unknown or in the wrong state, so a lookup
    # reveals nothing about nodes not being provisioned.
    if node is None:
        raise not_found
    allowed = (_FAST_TRACK_LOOKUP_STATES if ctx.settings.fast_track
               else states.LOOKUP_ALLOWED_STATES)
    if ctx.settings.restrict_lookup and node.provision_state not in allowed:
        raise not_found

    token: str | None = None
    if minor >= 62:
        token = _issue_token(ctx, node)
    config = {
        "heartbeat_timeout": ctx.settings.heartbeat_timeout,
        "agent_token": token,
        "agent_token_required": True,
        "agent_md5_checksum_enable": False,
        "metrics": {"backend": "noop", "prepend_host": False, "prepend_uuid": False,
                    "prepend_host_reverse": True, "global_prefix": None},
        "metrics_statsd": {"statsd_host": "localhost", "statsd_port": 8125},
    }
    return json_response({"node": lookup_view(node, base_url(request)), "config": config})


def _issue_token(ctx: Any, node: Node) -> str:
    if node.agent_token:
        return MASK
    token = secrets.token_urlsafe(32)
    with ctx.db.write() as conn:
        issued = nodes.update(conn, node.id, {"agent_token": token}, agent_token=None)
    return token if issued else MASK


def _callback_url(value: Any) -> str:
    """The agent's callback URL if the conductor may call it ("" for agents that only
    heartbeat, as Anaconda's). Only the agent holding the node's token can set it, but
    the conductor sends that token there, so it must be a plain http(s) address of a
    machine: no credentials, query or fragment, no wildcard or multicast address."""
    bad = BadRequest('An issue with the supplied "callback_url" has been detected.')
    if not isinstance(value, str) or len(value) > _MAX_URL_LENGTH:
        raise bad
    if value == "":
        return value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise bad from None
    host = parts.hostname or ""
    if (parts.scheme not in ("http", "https") or not host or "@" in parts.netloc
            or parts.query or parts.fragment or port == 0 or not _HOST.fullmatch(host)):
        raise bad
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return value
    if address.is_unspecified or address.is_multicast or str(address) == "255.255.255.255":
        raise bad
    return value


async def heartbeat(request: Request) -> Response:
    minor = _need_ramdisk_api(request)
    ctx = context(request)
    body = await read_object(request, min(ctx.settings.max_body, MAX_HEARTBEAT_BYTES),
                             ctx.settings.max_body_depth)
    allowed = {"callback_url", "agent_token", "agent_version", "agent_verify_ca",
               "agent_status", "agent_status_message", "agent_progress"}
    # Ironic takes the node from the path or, on POST /v1/heartbeat, from the body.
    ident = request.path_params.get("node")
    if ident is None:
        ident = body.pop("node_ident", None)
        if not isinstance(ident, str) or not ident:
            raise BadRequest("Missing argument: \"node_ident\"")
    unknown = set(body) - allowed
    if unknown:
        raise BadRequest(f"Unknown field(s) in heartbeat: {', '.join(sorted(unknown))}.")
    if "agent_version" in body and minor < 36:
        raise BadRequest('Field "agent_version" not recognised')
    if ("agent_status" in body or "agent_status_message" in body) and minor < 72:
        raise BadRequest('Fields "agent_status" and "agent_status_message" not recognised.')
    if "agent_verify_ca" in body and minor < 68:
        raise BadRequest('Field "agent_verify_ca" not recognised in this version')
    callback_url = _callback_url(body.get("callback_url"))
    token = body.get("agent_token")
    if not isinstance(token, str) or not token:
        raise BadRequest("Agent token is required for heartbeat processing.")
    status = body.get("agent_status")
    if status is not None and status not in _AGENT_STATUSES:
        raise BadRequest(f"Agent status is invalid. Valid states are "
                         f"{','.join(_AGENT_STATUSES)}.")
    progress = body.get("agent_progress")
    if progress is not None and not isinstance(progress, dict):
        raise BadRequest("agent_progress must be an object.")
    if progress is not None and len(orjson.dumps(progress)) > MAX_PROGRESS_BYTES:
        raise PayloadTooLarge(f"agent_progress exceeds the limit of {MAX_PROGRESS_BYTES} "
                              f"bytes.")
    agent_version = validation.string_value("agent_version", body.get("agent_version"),
                                            max_length=64)
    verify_ca = _verify_ca(body.get("agent_verify_ca"))

    # An unknown node and a wrong token get the same answer: without its token, a
    # heartbeat learns nothing about which nodes exist.
    refused = Unauthorized("Invalid or missing agent token received.")
    with ctx.db.write() as conn:
        try:
            node = find_node(conn, ident)
        except NotFound:
            raise refused from None
        if not node.agent_token or not hmac.compare_digest(node.agent_token.encode(),
                                                           token.encode()):
            raise refused
        if node.agent_url and callback_url and node.agent_url != callback_url:
            raise BadRequest('Detected change in ramdisk provided "callback_url"')
        if verify_ca and node.agent_verify_ca and \
                node.agent_verify_ca.strip() != verify_ca.strip():
            raise BadRequest('Detected change in ramdisk provided "agent_verify_ca"')
        values: dict[str, Any] = {"agent_last_heartbeat": utcnow()}
        if callback_url:
            values["agent_url"] = callback_url
        if agent_version:
            values["agent_version"] = agent_version
        if verify_ca:
            values["agent_verify_ca"] = verify_ca
        if progress is not None:
            values["agent_progress"] = progress
        if not nodes.update(conn, node.id, values, agent_token=node.agent_token):
            raise Conflict("The agent token changed while the heartbeat was recorded.")
        # Continue the node's operation unless a conductor is already on it; it reads
        # the latest heartbeat when it finishes.
        continued = nodes.update(conn, node.id, {"pending_action": "heartbeat",
                                                 "pending_args": {}},
                                 provision_state=_CONTINUE_STATES, pending_action=None,
                                 reservation=None)
    if continued:
        ctx.notify()
    return Response(status_code=202)


_MAX_CA = 64 * 1024


def _verify_ca(value: Any) -> str | None:
    """The agent's CA (PEM): the conductor verifies the agent's https against it."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > _MAX_CA:
        raise BadRequest(f'"agent_verify_ca" must be a PEM certificate of at most {_MAX_CA} '
                         f'characters.')
    try:
        ssl.create_default_context(cadata=value)
    except (ssl.SSLError, ValueError):
        raise BadRequest('"agent_verify_ca" is not a PEM CA certificate.') from None
    return value
