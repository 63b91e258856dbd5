"""The faults a node in maintenance may carry, as Ironic names them."""

from __future__ import annotations

POWER_FAILURE = "power failure"
CLEAN_FAILURE = "clean failure"
RESCUE_ABORT_FAILURE = "rescue abort failure"
SERVICE_FAILURE = "service failure"

VALID_FAULTS = (POWER_FAILURE, CLEAN_FAILURE, RESCUE_ABORT_FAILURE, SERVICE_FAILURE)
