"""Ironic's provision state machine, as data.

The API checks a requested transition against it before accepting the request, and
conductors use it for every state a node enters, so the two can never disagree. It lives
in ingot/common/ because both do, and drivers that fail a waiting node use it too.
"""

from __future__ import annotations

import dataclasses

ENROLL = "enroll"
VERIFYING = "verifying"
MANAGEABLE = "manageable"
AVAILABLE = "available"
ACTIVE = "active"
DEPLOYING = "deploying"
DEPLOYWAIT = "wait call-back"
DEPLOYFAIL = "deploy failed"
DEPLOYHOLD = "deploy hold"
DELETING = "deleting"
CLEANING = "cleaning"
CLEANWAIT = "clean wait"
CLEANFAIL = "clean failed"
CLEANHOLD = "clean hold"
ERROR = "error"
INSPECTING = "inspecting"
INSPECTWAIT = "inspect wait"
INSPECTFAIL = "inspect failed"
ADOPTING = "adopting"
ADOPTFAIL = "adopt failed"
RESCUING = "rescuing"
RESCUEWAIT = "rescue wait"
RESCUEFAIL = "rescue failed"
RESCUE = "rescue"
UNRESCUING = "unrescuing"
UNRESCUEFAIL = "unrescue failed"
SERVICING = "servicing"
SERVICEWAIT = "service wait"
SERVICEFAIL = "service failed"
SERVICEHOLD = "service hold"

STABLE_STATES = frozenset({ENROLL, MANAGEABLE, AVAILABLE, ACTIVE, ERROR, RESCUE})
DELETE_ALLOWED_STATES = frozenset({AVAILABLE, MANAGEABLE, ENROLL, ADOPTFAIL})
UPDATE_ALLOWED_STATES = frozenset({
    DEPLOYFAIL, INSPECTFAIL, CLEANFAIL, ERROR, VERIFYING, ADOPTFAIL,
    RESCUEFAIL, UNRESCUEFAIL, SERVICEHOLD, SERVICEFAIL,
})
LOOKUP_ALLOWED_STATES = frozenset({
    DEPLOYING, DEPLOYWAIT, CLEANING, CLEANWAIT, INSPECTING, INSPECTWAIT,
    RESCUING, RESCUEWAIT,
})
# States in which a node waits for its agent to call back.
AGENT_WAIT_STATES = (DEPLOYWAIT, CLEANWAIT, INSPECTWAIT, RESCUEWAIT)
# States a node cannot stay in once the conductor working on it is gone.
STUCK_STATES = {
    DEPLOYING: DEPLOYFAIL, CLEANING: CLEANFAIL, VERIFYING: ENROLL,
    INSPECTING: INSPECTFAIL, ADOPTING: ADOPTFAIL, RESCUING: RESCUEFAIL,
    UNRESCUING: UNRESCUEFAIL, DELETING: ERROR, SERVICING: SERVICEFAIL,
}

# The stable state each transient state is heading for (the node's
# target_provision_state while it is in that state).
TARGETS = {
    VERIFYING: MANAGEABLE,
    DEPLOYING: ACTIVE, DEPLOYWAIT: ACTIVE, DEPLOYFAIL: ACTIVE, DEPLOYHOLD: ACTIVE,
    CLEANING: AVAILABLE, CLEANWAIT: AVAILABLE, CLEANFAIL: AVAILABLE, CLEANHOLD: AVAILABLE,
    DELETING: AVAILABLE,
    INSPECTING: MANAGEABLE, INSPECTWAIT: MANAGEABLE, INSPECTFAIL: MANAGEABLE,
    ADOPTING: ACTIVE, ADOPTFAIL: ACTIVE,
    RESCUING: RESCUE, RESCUEWAIT: RESCUE, RESCUEFAIL: RESCUE,
    UNRESCUING: ACTIVE, UNRESCUEFAIL: ACTIVE,
    SERVICING: ACTIVE, SERVICEWAIT: ACTIVE, SERVICEFAIL: ACTIVE, SERVICEHOLD: ACTIVE,
}

_TRANSITIONS: dict[tuple[str, str], str] = {
    (ENROLL, "manage"): VERIFYING,
    (VERIFYING, "done"): MANAGEABLE,
    (VERIFYING, "fail"): ENROLL,
    (MANAGEABLE, "provide"): CLEANING,
    (MANAGEABLE, "clean"): CLEANING,
    (MANAGEABLE, "inspect"): INSPECTING,
    (MANAGEABLE, "adopt"): ADOPTING,
    (AVAILABLE, "manage"): MANAGEABLE,
    (AVAILABLE, "deploy"): DEPLOYING,
    (DEPLOYING, "wait"): DEPLOYWAIT,
    (DEPLOYING, "done"): ACTIVE,
    (DEPLOYING, "fail"): DEPLOYFAIL,
    (DEPLOYWAIT, "resume"): DEPLOYING,
    (DEPLOYWAIT, "fail"): DEPLOYFAIL,
    (DEPLOYWAIT, "abort"): DEPLOYFAIL,
    (DEPLOYWAIT, "delete"): DELETING,
    (DEPLOYFAIL, "deploy"): DEPLOYING,
    (DEPLOYFAIL, "rebuild"): DEPLOYING,
    (DEPLOYFAIL, "delete"): DELETING,
    (ACTIVE, "rebuild"): DEPLOYING,
    (ACTIVE, "delete"): DELETING,
    (ACTIVE, "rescue"): RESCUING,
    (DELETING, "clean"): CLEANING,
    (DELETING, "fail"): ERROR,
    (ERROR, "rebuild"): DEPLOYING,
    (ERROR, "delete"): DELETING,
    (CLEANING, "done"): AVAILABLE,
    (CLEANING, "manage"): MANAGEABLE,
    (CLEANING, "wait"): CLEANWAIT,
    (CLEANING, "fail"): CLEANFAIL,
    (CLEANWAIT, "resume"): CLEANING,
    (CLEANWAIT, "fail"): CLEANFAIL,
    (CLEANWAIT, "abort"): CLEANFAIL,
    (CLEANFAIL, "manage"): MANAGEABLE,
    (INSPECTING, "done"): MANAGEABLE,
    (INSPECTING, "wait"): INSPECTWAIT,
    (INSPECTING, "fail"): INSPECTFAIL,
    (INSPECTWAIT, "done"): MANAGEABLE,
    (INSPECTWAIT, "fail"): INSPECTFAIL,
    (INSPECTWAIT, "abort"): INSPECTFAIL,
    (INSPECTFAIL, "manage"): MANAGEABLE,
    (INSPECTFAIL, "inspect"): INSPECTING,
    (ADOPTING, "done"): ACTIVE,
    (ADOPTING, "fail"): ADOPTFAIL,
    (ADOPTFAIL, "adopt"): ADOPTING,
    (ADOPTFAIL, "manage"): MANAGEABLE,
    (RESCUING, "done"): RESCUE,
    (RESCUING, "wait"): RESCUEWAIT,
    (RESCUING, "fail"): RESCUEFAIL,
    (RESCUEWAIT, "resume"): RESCUING,
    (RESCUEWAIT, "fail"): RESCUEFAIL,
    (RESCUEWAIT, "abort"): RESCUEFAIL,
    (RESCUEWAIT, "delete"): DELETING,
    (RESCUE, "rescue"): RESCUING,
    (RESCUE, "unrescue"): UNRESCUING,
    (RESCUE, "delete"): DELETING,
    (RESCUEFAIL, "rescue"): RESCUING,
    (RESCUEFAIL, "unrescue"): UNRESCUING,
    (RESCUEFAIL, "delete"): DELETING,
    (UNRESCUING, "done"): ACTIVE,
    (UNRESCUING, "fail"): UNRESCUEFAIL,
    (UNRESCUEFAIL, "rescue"): RESCUING,
    (UNRESCUEFAIL, "unrescue"): UNRESCUING,
    (UNRESCUEFAIL, "delete"): DELETING,
    # Holds (API 1.85): a step asked for an operator; unhold resumes waiting, abort fails.
    (DEPLOYHOLD, "unhold"): DEPLOYWAIT,
    (DEPLOYHOLD, "abort"): DEPLOYFAIL,
    (CLEANHOLD, "unhold"): CLEANWAIT,
    (CLEANHOLD, "abort"): CLEANFAIL,
    # Servicing (API 1.87): steps run on an active node, which stays deployed.
    (ACTIVE, "service"): SERVICING,
    (SERVICING, "done"): ACTIVE,
    (SERVICING, "wait"): SERVICEWAIT,
    (SERVICING, "fail"): SERVICEFAIL,
    (SERVICEWAIT, "resume"): SERVICING,
    (SERVICEWAIT, "fail"): SERVICEFAIL,
    (SERVICEWAIT, "abort"): SERVICEFAIL,
    (SERVICEWAIT, "delete"): DELETING,
    (SERVICEHOLD, "service"): SERVICING,
    (SERVICEHOLD, "unhold"): SERVICEWAIT,
    (SERVICEHOLD, "abort"): SERVICEFAIL,
    (SERVICEFAIL, "service"): SERVICING,
    (SERVICEFAIL, "rescue"): RESCUING,
    (SERVICEFAIL, "delete"): DELETING,
    (SERVICEFAIL, "abort"): ACTIVE,
}

ALL_STATES = frozenset({state for state, _event in _TRANSITIONS} | set(_TRANSITIONS.values()))


class InvalidTransition(ValueError):
    def __init__(self, state: str, event: str):
        super().__init__(f'"{event}" is not possible in state "{state}"')
        self.state = state
        self.event = event


def next_state(state: str, event: str) -> str:
    try:
        return _TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(state, event) from None


def can(state: str, event: str) -> bool:
    return (state, event) in _TRANSITIONS


def target_of(state: str) -> str | None:
    return TARGETS.get(state)


@dataclasses.dataclass(frozen=True, slots=True)
class Verb:
    """A provision target accepted by ``PUT /v1/nodes/{node}/states/provision``."""

    event: str
    min_version: int  # the minor API version that introduced it
    # Conductor action that carries the work out; None when the transition needs no
    # driver work and the API completes it on its own.
    action: str | None


VERBS: dict[str, Verb] = {
    "active": Verb("deploy", 1, "deploy"),
    "deploy": Verb("deploy", 73, "deploy"),
    "rebuild": Verb("rebuild", 1, "deploy"),
    "deleted": Verb("delete", 1, "undeploy"),
    "undeploy": Verb("delete", 73, "undeploy"),
    "manage": Verb("manage", 4, "verify"),
    "provide": Verb("provide", 4, "clean"),
    "inspect": Verb("inspect", 6, "inspect"),
    "abort": Verb("abort", 13, "abort"),
    "clean": Verb("clean", 15, "clean"),
    "adopt": Verb("adopt", 17, "adopt"),
    "rescue": Verb("rescue", 38, "rescue"),
    "unrescue": Verb("unrescue", 38, "unrescue"),
    "unhold": Verb("unhold", 85, None),
    "service": Verb("service", 87, "service"),
}

# Transitions that need no driver work: the API completes them directly.
INSTANT = frozenset({
    (AVAILABLE, "manage"), (CLEANFAIL, "manage"), (INSPECTFAIL, "manage"),
    (ADOPTFAIL, "manage"),
    # Leaves a hold for the wait state, where the agent's next heartbeat continues.
    (DEPLOYHOLD, "unhold"), (CLEANHOLD, "unhold"), (SERVICEHOLD, "unhold"),
    # A failed servicing gives the node back as it is: nothing to undo on it.
    (SERVICEFAIL, "abort"),
})
