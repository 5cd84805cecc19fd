"""ZeroTask's Python client: call native plugin methods on a ZeroTask broker.

    from zerotask import Client
    with Client("tcp://127.0.0.1:5555") as c:
        c.call("math.add", [2, 3])            # 5
        t = c.submit("text.upper", ["hi"])
        t.wait()                              # "HI"
"""

from .client import Client, Status, TaskHandle
from .errors import (
    InternalError, InvalidClientId, InvalidNodeId, InvalidParams, InvalidRequest, MethodNotFound,
    NodeLost, NotAllowed, NotComplete, Overloaded, ParseError, ResourceLimit, TaskCancelled,
    TaskFailed, TaskTimedOut, Timeout, UnexpectedReply, UnknownTask, WorkerCrashed, ZeroTaskError,
)
from .keys import KeyFileError

__all__ = [
    "Client", "Status", "TaskHandle", "KeyFileError",
    "ZeroTaskError", "ParseError", "InvalidRequest", "MethodNotFound", "InvalidParams", "InternalError",
    "InvalidClientId", "UnknownTask", "InvalidNodeId", "NotAllowed", "NotComplete", "Overloaded",
    "TaskFailed", "TaskTimedOut", "WorkerCrashed", "TaskCancelled", "NodeLost", "ResourceLimit",
    "Timeout", "UnexpectedReply",
]
__version__ = "0.1.0"
