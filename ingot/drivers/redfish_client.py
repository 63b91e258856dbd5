"""Talking to a node's Redfish BMC through sushy: one connection per operation, its
errors turned into DriverErrors whose message says what went wrong (BMC unreachable,
credentials refused, TLS verification failed) without a secret."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sushy
from sushy import auth as sushy_auth
from sushy import exceptions as sushy_exc

from ingot.common.redaction import redact_text
from ingot.db.models import Node
from ingot.drivers import redfish_info
from ingot.drivers.interfaces import DriverError
from ingot.drivers.settings import DriverSettings

LOG = logging.getLogger(__name__)
T = TypeVar("T")


def _auth(info: redfish_info.RedfishInfo) -> Any:
    kinds = {"basic": sushy_auth.BasicAuth, "session": sushy_auth.SessionAuth,
             "auto": sushy_auth.SessionOrBasicAuth}
    return kinds[info.auth_type](username=info.username, password=info.password)


def _describe(exc: Exception, info: redfish_info.RedfishInfo) -> str:
    where = f"Redfish BMC {info.address}"
    if isinstance(exc, sushy_exc.AccessError):
        return f"{where} refused the credentials of driver_info redfish_username " \
               f"(HTTP {exc.status_code})."
    if isinstance(exc, sushy_exc.ResourceNotFoundError):
        return f"{where} has no system {info.system_id or '(the only one)'}: check " \
               f"driver_info redfish_system_id."
    text = str(exc)
    if isinstance(exc, sushy_exc.ConnectionError):
        if "CERTIFICATE_VERIFY_FAILED" in text or "SSLError" in text:
            return f"{where}: TLS verification of its certificate failed (set " \
                   f"driver_info redfish_verify_ca to its CA bundle): {_reason(text)}"
        return f"{where} cannot be reached: {_reason(text)}"
    if isinstance(exc, sushy_exc.UnknownDefaultError):
        return f"{where} has several systems: set driver_info redfish_system_id."
    # The BMC's own message may quote what it was sent, such as an image URL.
    return f"{where}: {redact_text(text)}"


def _reason(text: str) -> str:
    # requests' messages nest the cause in a long repr; its last part says it.
    return redact_text(text.rsplit("Error: ", 1)[-1])[:300]


def _connect(info: redfish_info.RedfishInfo, settings: DriverSettings) -> Any:
    return sushy.Sushy(info.address, verify=info.verify, auth=_auth(info),
                       server_side_retries=settings.bmc.connection_attempts - 1,
                       server_side_retries_delay=int(settings.bmc.connection_retry_interval),
                       connect_timeout=settings.bmc.connect_timeout,
                       read_timeout=settings.bmc.read_timeout)


def call_blocking(node: Node, settings: DriverSettings, operation: Callable[[Any], T]) -> T:
    """Run ``operation(system)`` against the node's system, retrying a BMC that cannot
    be reached; any failure is a DriverError with a clear message."""
    info = redfish_info.parse(node, settings)
    attempts = settings.bmc.connection_attempts
    for attempt in range(1, attempts + 1):
        try:
            system = _connect(info, settings).get_system(info.system_id)
            return operation(system)
        except sushy_exc.ConnectionError as exc:
            message = _describe(exc, info)
            if attempt == attempts or "TLS verification" in message:
                raise DriverError(message) from None
            LOG.warning("Node %s: %s (attempt %d of %d)", node.uuid, message, attempt,
                        attempts)
            time.sleep(settings.bmc.connection_retry_interval)
        except sushy_exc.SushyError as exc:
            raise DriverError(_describe(exc, info)) from None
    raise AssertionError("unreachable")  # the loop returns or raises


async def call(node: Node, settings: DriverSettings, operation: Callable[[Any], T]) -> T:
    return await asyncio.to_thread(call_blocking, node, settings, operation)
