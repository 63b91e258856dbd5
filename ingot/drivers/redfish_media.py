"""A Redfish system's virtual media slots, through sushy: listing them, inserting an
image into the slot that takes a kind of media, ejecting.

The redfish boot interface (its agent ISO as the virtual CD) and management interface
(API 1.89 attach/detach, 1.93 list) share these. As Ironic, slots are the system's own
VirtualMedia when the BMC has them (newer Redfish), else its managers'; a CD goes into
a slot that takes CDs or DVDs. Operations run inside redfish_client.call, so sushy's
errors become the node's DriverErrors there.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import sushy
from sushy import exceptions as sushy_exc

from ingot.common.redaction import redact_text, redact_url
from ingot.drivers.interfaces import DriverError

LOG = logging.getLogger(__name__)

CD = sushy.VIRTUAL_MEDIA_CD
# Ironic's for an insert the BMC answers with a server error (5xx): some BMCs are still
# ejecting, or their image fetch failed for a moment. Sushy itself retries only GETs.
INSERT_ATTEMPTS, INSERT_RETRY_DELAY = 3, 3.0
# The API's device types (Ironic's VMEDIA_DEVICES) as Redfish media types.
MEDIA_TYPES = {"cdrom": CD, "floppy": sushy.VIRTUAL_MEDIA_FLOPPY,
               "disk": sushy.VIRTUAL_MEDIA_USBSTICK}


def slots(system: Any) -> list[Any]:
    """Every virtual media slot of the system: its own, else its managers'."""
    try:
        return list(system.virtual_media.get_members())
    except sushy_exc.MissingAttributeError:
        pass
    found = []
    for manager in system.managers:
        try:
            found.extend(manager.virtual_media.get_members())
        except sushy_exc.MissingAttributeError:
            continue
    return found


def _takes(slot: Any, media_type: Any) -> bool:
    # Some BMCs (Cisco UCS) only offer DVD slots; a CD image goes there as well.
    return media_type in slot.media_types or (
        media_type == CD and sushy.VIRTUAL_MEDIA_DVD in slot.media_types)


def _taking(system: Any, media_type: Any) -> list[Any]:
    return [slot for slot in slots(system) if _takes(slot, media_type)]


def describe(system: Any) -> list[dict[str, Any]]:
    """The slots as API 1.93 shows them (Ironic's fields), image URLs redacted."""
    return [{"media_types": [kind.value for kind in slot.media_types],
             "inserted": slot.inserted,
             "image": redact_url(slot.image) if isinstance(slot.image, str) else slot.image}
            for slot in slots(system)]


def eject(system: Any, media_type: Any | None = None) -> bool:
    """Eject what is inserted in the slots taking media_type (None: every slot);
    whether anything was."""
    ejected = False
    for slot in slots(system) if media_type is None else _taking(system, media_type):
        if slot.inserted:
            slot.eject_media()
            ejected = True
    return ejected


def insert(system: Any, media_type: Any, url: str, *, attempts: int = INSERT_ATTEMPTS,
           delay: float = INSERT_RETRY_DELAY) -> None:
    """Put url into the first slot taking media_type that accepts it, after ejecting
    what those slots held (a BMC may still show a stale image as inserted); all of it
    again, after delay, when the BMC answers with a server error, up to attempts."""
    for attempt in range(1, attempts + 1):
        try:
            _insert(system, media_type, url)
            return
        except sushy_exc.ServerSideError as exc:
            if attempt == attempts:
                raise
            LOG.warning("Inserting %s failed with a BMC server error, retrying in %g s "
                        "(attempt %d of %d): %s", redact_url(url), delay, attempt, attempts,
                        _reason(exc))
            time.sleep(delay)


def _insert(system: Any, media_type: Any, url: str) -> None:
    candidates = _taking(system, media_type)
    if not candidates:
        raise DriverError(f"The BMC offers no virtual media slot for {media_type.value} "
                          f"images on this system.")
    refused = []
    for slot in candidates:
        if slot.inserted:
            slot.eject_media()
    for slot in candidates:
        try:
            slot.insert_media(url, inserted=True, write_protected=True)
            LOG.info("Inserted %s into virtual media slot %s", redact_url(url), slot.identity)
            return
        # Slots kept for the BMC's own console refuse remote images: try the next one.
        except (sushy_exc.MissingActionError, sushy_exc.BadRequestError) as exc:
            refused.append(f"slot {slot.identity}: {_reason(exc)}")
        except sushy_exc.HTTPError as exc:
            if exc.status_code != 405:
                raise
            refused.append(f"slot {slot.identity}: {_reason(exc)}")
    raise DriverError(f"The BMC refused to insert {redact_url(url)} as {media_type.value} "
                      f"media: {'; '.join(refused)}")


def _reason(exc: Exception) -> str:
    return redact_text(str(exc))[:300]
