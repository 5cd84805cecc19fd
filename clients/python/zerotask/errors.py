"""Typed errors of the ZeroTask protocol (docs/PROTOCOL.md, "Identifiers and codes").

Every error the broker answers becomes a subclass of :class:`ZeroTaskError` chosen by its code,
so callers can ``except UnknownTask`` instead of comparing numbers. A task that ran and failed
raises :class:`TaskFailed` (or a subclass naming why: timed out, worker crashed, cancelled, ...)
carrying the task id and the task's own error.
"""

from __future__ import annotations

from typing import Any, Optional


class ZeroTaskError(Exception):
    """An error answered by the broker: a JSON-RPC error object."""

    code: int = 0

    def __init__(self, message: str, code: Optional[int] = None, data: Any = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.data = data

    def __str__(self) -> str:
        return f"{self.message} (code {self.code})"


class ParseError(ZeroTaskError):
    code = -32700


class InvalidRequest(ZeroTaskError):
    """Not a JSON-RPC 2.0 request, or over the broker's max_message_bytes."""

    code = -32600


class MethodNotFound(ZeroTaskError):
    """No such broker method, or no node serves (or can load) the task's method."""

    code = -32601


class InvalidParams(ZeroTaskError):
    """Params missing, extra or of the wrong type; the message names the parameter."""

    code = -32602


class InternalError(ZeroTaskError):
    code = -32603


class InvalidClientId(ZeroTaskError):
    code = -32010


class UnknownTask(ZeroTaskError):
    """The task id is unknown (or belongs to another tenant), invalid, or already taken."""

    code = -32020


class InvalidNodeId(ZeroTaskError):
    code = -32030


class NotAllowed(ZeroTaskError):
    """The caller's role or identity may not make this call (security)."""

    code = -32040


class NotComplete(ZeroTaskError):
    """The task has no result yet."""

    code = -32050


class Overloaded(ZeroTaskError):
    """The broker refused to park another wait (too many parked waits)."""

    code = -32070


class TaskFailed(ZeroTaskError):
    """The task ran and failed: ``error`` is the task's own error (a plugin's code and message,
    or one of the codes of the subclasses below)."""

    def __init__(self, task_id: str, message: str, code: int, data: Any = None):
        super().__init__(message, code, data)
        self.task_id = task_id

    def __str__(self) -> str:
        return f"task {self.task_id} failed: {self.message} (code {self.code})"


class TaskTimedOut(TaskFailed):
    """The task ran past its timeout and its worker was stopped (-32060)."""


class WorkerCrashed(TaskFailed):
    """The worker running the task died (-32061); ``data`` says the signal or exit status."""


class TaskCancelled(TaskFailed):
    """The task was cancelled (-32062)."""


class NodeLost(TaskFailed):
    """The task's node was lost and its retries are exhausted (-32063)."""


class ResourceLimit(TaskFailed):
    """The task exceeded a limit of the plugin sandbox (-32064); ``data["limit"]`` names it."""


class Timeout(ZeroTaskError):
    """Raised by this client: no answer within the time asked for (the broker may be down,
    or the task is still queued or running)."""

    code = 0


class UnexpectedReply(ZeroTaskError):
    """The broker's answer did not have the shape the protocol promises."""

    code = 0


_BY_CODE = {cls.code: cls for cls in (
    ParseError, InvalidRequest, MethodNotFound, InvalidParams, InternalError, InvalidClientId,
    UnknownTask, InvalidNodeId, NotAllowed, NotComplete, Overloaded,
)}

_TASK_BY_CODE = {-32060: TaskTimedOut, -32061: WorkerCrashed, -32062: TaskCancelled, -32063: NodeLost,
                 -32064: ResourceLimit}


def error_from_reply(error: Any) -> ZeroTaskError:
    """The typed error for a JSON-RPC error object answered by the broker."""
    if not isinstance(error, dict):
        return UnexpectedReply(f"malformed error object: {error!r}")
    code = error.get("code", 0)
    cls = _BY_CODE.get(code, ZeroTaskError)
    return cls(str(error.get("message", "")), code, error.get("data"))


def task_error(task_id: str, error: Any) -> TaskFailed:
    """The typed error for a failed task's own error object."""
    if not isinstance(error, dict):
        return TaskFailed(task_id, f"malformed task error: {error!r}", 0)
    code = error.get("code", 0)
    cls = _TASK_BY_CODE.get(code, TaskFailed)
    return cls(task_id, str(error.get("message", "")), code, error.get("data"))
