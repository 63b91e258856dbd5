"""Failing a node at once when the process standing in for its ramdisk dies.

A local agent (or the QEMU running a ramdisk) that exits will never call back; the
node would otherwise wait for [conductor] deploy_callback_timeout. The node fails as
a callback timeout does, with the process's exit code and the last lines of its log,
and the abort action then cleans up after it.
"""

from __future__ import annotations

import logging
import time

from ingot.common import states
from ingot.common.redaction import redact_url
from ingot.db import history, nodes
from ingot.db.engine import Database
from ingot.db.models import utcnow

LOG = logging.getLogger(__name__)

# The deploy that started the process may still hold the node for a moment.
_SETTLE_TIMEOUT = 60.0
_SETTLE_INTERVAL = 0.2


def exit_message(what: str, code: int | None, log_tail: str) -> str:
    """code: the exit code (negative: the signal), None if no conductor watched it end."""
    if code is None:
        how = "ended while no conductor watched it (the conductor restarted)"
    elif code < 0:
        how = f"was killed by signal {-code}"
    else:
        how = f"exited with code {code}"
    message = f"{what} {how} before the operation finished."
    if log_tail:
        message += f" Last lines of its log: {redact_url(log_tail)}"
    return message


def fail_waiting_node(db: Database, node_id: int, agent_token: str | None,
                      message: str, *, history_max_entries: int,
                      settle_timeout: float = _SETTLE_TIMEOUT) -> bool:
    """Fail the node if it still waits for the ramdisk booted with agent_token.

    Returns True if the node was failed. Gives up once the node has moved on (another
    boot, another state) or after waiting settle_timeout for a conductor holding it.
    The failure's history event keeps the node within history_max_entries ([conductor]
    node_history_max_entries), as a conductor's do.
    """
    deadline = time.monotonic() + settle_timeout
    while True:  # at least once, then until the deadline
        with db.read() as conn:
            node = nodes.get_by_id(conn, node_id)
        if node is None or node.agent_token != agent_token \
                or node.provision_state not in states.LOOKUP_ALLOWED_STATES:
            return False
        if node.provision_state in states.AGENT_WAIT_STATES and node.reservation is None \
                and node.pending_action is None:
            new_state = states.next_state(node.provision_state, "fail")
            with db.write() as conn:
                done = nodes.update(
                    conn, node.id,
                    {"provision_state": new_state, "last_error": message,
                     "target_provision_state": states.target_of(new_state),
                     "provision_updated_at": utcnow(), "pending_action": "abort",
                     "pending_args": {}},
                    reservation=None, pending_action=None, agent_token=agent_token,
                    provision_state=node.provision_state)
                if done:
                    history.record(conn, node, message, event_type=node.provision_state,
                                   error=True, max_entries=history_max_entries)
            if done:
                LOG.warning("Node %s: %s", node.uuid, message)
                return True
        if time.monotonic() + _SETTLE_INTERVAL >= deadline:
            break
        time.sleep(_SETTLE_INTERVAL)
    return False
