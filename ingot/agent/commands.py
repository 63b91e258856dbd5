"""Agent commands as ironic-python-agent runs them: ``<extension>.<name>`` with keyword
parameters, synchronous or in a background thread, one at a time, with results in IPA's
shape (``id``, ``command_name``, ``command_params``, ``command_status``,
``command_error``, ``command_result``).

IPA 13 no longer serializes ``command_params``; ingot does, with secrets masked, so the
conductor and operators can see what a command was asked to do.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from ingot.common.redaction import redact

LOG = logging.getLogger(__name__)

RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
VERSION_MISMATCH = "CLEAN_VERSION_MISMATCH"  # IPA's text for a hardware version change
_KEEP_RESULTS = 50


class CommandError(Exception):
    """An error in IPA's REST shape: ``type``, ``code``, ``message``, ``details``."""

    type_name = "CommandExecutionError"
    code = 500
    message = "Command execution failed"

    def __init__(self, details: str, *, type_name: str | None = None,
                 message: str | None = None, code: int | None = None):
        super().__init__(details)
        self.details = details
        if type_name:
            self.type_name = type_name
        if message:
            self.message = message
        if code:
            self.code = code

    def serialize(self) -> dict[str, Any]:
        return {"type": self.type_name, "code": self.code, "message": self.message,
                "details": self.details}

    def __str__(self) -> str:
        return f"{self.message}: {self.details}"


class InvalidCommandParams(CommandError):
    type_name = "InvalidCommandParamsError"
    code = 400
    message = "Invalid command parameters"


class InvalidCommand(CommandError):
    type_name = "InvalidCommandError"
    code = 400
    message = "Invalid command"


class ExtensionNotFound(CommandError):
    type_name = "RequestedObjectNotFoundError"
    code = 404
    message = "Not found"


class AgentIsBusy(CommandError):
    type_name = "AgentIsBusy"
    code = 409
    message = "Agent is busy"


class VersionMismatch(CommandError):
    type_name = "VersionMismatch"
    code = 409
    message = "Hardware managers version mismatch, reload agent with correct version"


class CommandContext:
    """Given to a running command: lets it publish progress."""

    def __init__(self, result: CommandResult, publish: Callable[[dict[str, Any]], None]):
        self._result = result
        self._publish = publish

    def report(self, progress: Mapping[str, Any]) -> None:
        snapshot = {"command_id": self._result.id,
                    "command_name": self._result.command_name, **progress}
        self._result.set_progress(snapshot)
        self._publish(snapshot)


class CommandResult:
    def __init__(self, name: str, params: Mapping[str, Any]):
        self.id = str(uuid.uuid4())
        self.command_name = name
        self.command_params = redact(dict(params))
        self.command_status = RUNNING
        self.command_error: dict[str, Any] | None = None
        self.command_result: Any = None
        self.progress: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()

    def set_progress(self, progress: dict[str, Any]) -> None:
        with self._lock:
            self.progress = progress

    def succeed(self, result: Any) -> None:
        with self._lock:
            self.command_result = result
            self.command_status = SUCCEEDED
        self._done.set()

    def fail(self, error: CommandError, status: str = FAILED) -> None:
        with self._lock:
            self.command_error = error.serialize()
            self.command_status = status
            self.command_result = None
        self._done.set()

    def is_done(self) -> bool:
        return self._done.is_set()

    def join(self, timeout: float | None = None) -> CommandResult:
        self._done.wait(timeout)
        return self

    def serialize(self) -> dict[str, Any]:
        with self._lock:
            result = self.command_result
            if self.command_status == RUNNING and self.progress is not None:
                result = {"progress": self.progress}
            elif isinstance(result, dict) and self.progress is not None:
                result = {**result, "progress": self.progress}
            return {"id": self.id, "command_name": self.command_name,
                    "command_params": self.command_params,
                    "command_status": self.command_status,
                    "command_error": self.command_error, "command_result": result}


# A command: (context, **params) -> result; validators raise InvalidCommandParams.
CommandFunction = Callable[..., Any]
Validator = Callable[[Mapping[str, Any]], None]


@dataclasses.dataclass(frozen=True)
class Command:
    function: CommandFunction
    asynchronous: bool
    validator: Validator | None = None


def _as_command_error(exc: BaseException) -> CommandError:
    if isinstance(exc, CommandError):
        return exc
    return CommandError(str(exc) or type(exc).__name__)


class CommandRunner:
    """Runs commands one at a time and keeps their results."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}
        self._extensions: set[str] = set()
        self._results: OrderedDict[str, CommandResult] = OrderedDict()
        self._lock = threading.Lock()
        self._progress: dict[str, Any] | None = None
        self.on_done: Callable[[CommandResult], None] = lambda result: None

    def register(self, name: str, function: CommandFunction, *, asynchronous: bool,
                 validator: Validator | None = None) -> None:
        self._extensions.add(name.split(".", 1)[0])
        self._commands[name] = Command(function, asynchronous, validator)

    def progress(self) -> dict[str, Any] | None:
        """The latest progress any command published (for heartbeats)."""
        with self._lock:
            return dict(self._progress) if self._progress is not None else None

    def running(self) -> bool:
        with self._lock:
            return any(not result.is_done() for result in self._results.values())

    def _publish(self, progress: dict[str, Any]) -> None:
        with self._lock:
            self._progress = progress

    def execute(self, name: str, params: Mapping[str, Any]) -> CommandResult:
        """Start (or run) a command. Raises CommandError for requests that are wrong
        or arrive while another command runs; failures while running are recorded in
        the result."""
        extension, _, short = name.partition(".")
        if not short:
            raise InvalidCommand("Command name must be of the form <extension>.<name>")
        if extension not in self._extensions:
            raise ExtensionNotFound(f"Extension with id {extension} not found.")
        command = self._commands.get(name)
        if command is None:
            raise InvalidCommand(f"Unknown command: {short}")
        with self._lock:
            busy = next((result for result in self._results.values()
                         if not result.is_done()), None)
            if busy is not None:
                raise AgentIsBusy(f"executing command {busy.command_name}")
            if command.validator is not None:
                command.validator(params)
            result = CommandResult(name, params)
            self._results[result.id] = result
            while len(self._results) > _KEEP_RESULTS:
                self._results.popitem(last=False)
        context = CommandContext(result, self._publish)
        if command.asynchronous:
            threading.Thread(target=self._run, args=(command, result, context, params),
                             name=f"agent-command-{result.id}", daemon=True).start()
        else:
            self._run(command, result, context, params, notify=False)
        return result

    def _run(self, command: Command, result: CommandResult, context: CommandContext,
             params: Mapping[str, Any], notify: bool = True) -> None:
        try:
            value = command.function(context, **params)
        except VersionMismatch as exc:
            result.fail(exc, VERSION_MISMATCH)
        except Exception as exc:
            LOG.error("Command %s failed: %s", result.command_name, exc)
            LOG.debug("Command %s failed", result.command_name, exc_info=True)
            result.fail(_as_command_error(exc))
        else:
            if isinstance(value, str | bytes):
                text = value.decode() if isinstance(value, bytes) else value
                value = {"result": f"{result.command_name.split('.', 1)[1]}: {text}"
                         if command.asynchronous else text}
            result.succeed(value)
            LOG.info("Command %s succeeded", result.command_name)
        if notify:
            self.on_done(result)

    def list(self) -> list[CommandResult]:
        with self._lock:
            return list(self._results.values())

    def get(self, command_id: str) -> CommandResult:
        with self._lock:
            result = self._results.get(command_id)
        if result is None:
            raise ExtensionNotFound(f"Command Result with id {command_id} not found.")
        return result
