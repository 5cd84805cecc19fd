"""A ZeroTask client over one ZeroMQ DEALER socket (docs/PROTOCOL.md).

Requests carry JSON-RPC ids and replies are matched by id, so an answer that arrives after its
request timed out is dropped instead of being taken for the next one. Results are waited for
with the broker's long polls (``client_call``, ``client_wait_results``): no notification
subscription is needed, and nothing is lost when the publish socket drops messages.
"""

from __future__ import annotations

import datetime
import itertools
import json
import os
import re
import secrets
import threading
import time
from enum import IntEnum
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import zmq

from .errors import (
    InvalidClientId, NotAllowed, NotComplete, Timeout, UnexpectedReply, UnknownTask, ZeroTaskError, error_from_reply,
    task_error,
)
from .keys import CurveKeys

DEFAULT_BROKER = "tcp://127.0.0.1:5555"
_PREFIX = "zerotask.broker."
# The longest a single long poll is held at the broker (the broker caps waits at 60 s).
_LONG_POLL = 25.0
# Submissions per client_new_tasks request: well under the broker's max_message_bytes.
_BATCH = 500

Params = Union[None, Sequence[Any], Dict[str, Any]]


class Status(IntEnum):
    """A task's status code."""

    QUEUED = 1000
    ASSIGNED = 3000
    RUNNING = 5000
    FINISHED = 7000
    FAILED = 9000

    @property
    def complete(self) -> bool:
        return self in (Status.FINISHED, Status.FAILED)


# Python names that differ from the wire's: `timeout` is how long this client waits.
_WIRE_NAMES = {"task_timeout": "timeout"}


def _entry(task: Union[Tuple[str, Params], Dict[str, Any]]) -> Dict[str, Any]:
    """One task of a batch or workflow: ``(method, params)`` or a dict with task fields."""
    if isinstance(task, dict):
        spec = dict(task)
        if "method" not in spec:
            raise ValueError(f"task {task!r} has no method")
        spec["params"] = _params(spec.get("params"))
        return _task_fields(spec)
    method, params = task
    return {"method": method, "params": _params(params)}


def _task_fields(options: Dict[str, Any]) -> Dict[str, Any]:
    fields = {_WIRE_NAMES.get(k, k): v for k, v in options.items() if v is not None}
    # `not_before` may be a datetime (an aware one: a naive time would be ambiguous).
    when = fields.get("not_before")
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None:
            raise ValueError("not_before must be an aware datetime (with a tzinfo) or seconds since 1970")
        fields["not_before"] = when.timestamp()
    return fields


def parse_brokers(brokers: Union[str, Sequence[str]]) -> List[str]:
    """A failover list of broker endpoints: ``"tcp://a:5555,tcp://b:5555"`` or a list of them.

    Raises ValueError naming the first entry that is not an endpoint to connect to, with its
    position in the list.
    """
    entries = brokers.split(",") if isinstance(brokers, str) else list(brokers)
    out: List[str] = []
    for position, raw in enumerate(entries, 1):
        entry = str(raw).strip()
        problem = _endpoint_problem(entry)
        if problem:
            hint = f": write tcp://{entry}" if problem == "has no scheme" and entry else ""
            raise ValueError(f"broker endpoint {position} {entry!r} {problem}{hint} "
                             "(write each as tcp://HOST:PORT, ipc://PATH or inproc://NAME, separated by commas)")
        out.append(entry)
    if not out:
        raise ValueError("the broker list is empty")
    return out


def _endpoint_problem(entry: str) -> Optional[str]:
    if not entry:
        return "is empty"
    if "://" not in entry:
        return "has no scheme"
    scheme, address = entry.split("://", 1)
    if scheme == "tcp":
        m = re.fullmatch(r"(.+):(\d+)", address)
        if not m:
            return "has no port"
        if m.group(1) == "*":
            return "names no host ('*' is for binding)"
        if not 0 < int(m.group(2)) <= 65535:
            return "has no valid port (1-65535)"
        return None
    if scheme in ("ipc", "inproc"):
        return None if address else "has no address"
    return f"has transport {scheme!r} (tcp, ipc or inproc)"


def _params(params: Params) -> Any:
    if params is None:
        return []
    if isinstance(params, (list, dict)):
        return params
    if isinstance(params, (tuple, range)):
        return list(params)
    raise TypeError(f"params must be a list, tuple or dict, not {type(params).__name__}")


class TaskHandle:
    """A submitted task: wait for it, ask its status, cancel it."""

    def __init__(self, client: "Client", task_id: str):
        self.client = client
        self.id = task_id

    def wait(self, timeout: Optional[float] = None) -> Any:
        """The task's result; raises :class:`TaskFailed` (or a subclass) if it failed, and
        :class:`Timeout` if it is not complete within ``timeout`` seconds (None: no limit)."""
        return self.client.wait(self.id, timeout=timeout)

    def status(self) -> Status:
        return self.client.status(self.id)

    def info(self) -> Dict[str, Any]:
        return self.client.info(self.id)

    def cancel(self) -> bool:
        return self.client.cancel(self.id)

    def __repr__(self) -> str:
        return f"TaskHandle({self.id!r})"


class Client:
    """A connection to a ZeroTask broker.

    ``Client()`` connects to ``$ZEROTASK_BROKER`` (else ``tcp://127.0.0.1:5555``). Given several
    brokers (``"tcp://a:5555,tcp://b:5555"`` or a list), it uses the first that answers and fails
    over to the next, round robin, when a request goes unanswered for ``request_timeout``: it
    connects there with its same client id and sends the request again. Submissions then always
    carry a task id the client chose, so a resent submission is the same task (the broker takes a
    resend with the same id, method and params as idempotent). With keys
    (``secret_key``: this client's ``NAME.key`` file; ``broker_key``: the broker's ``.pub`` file
    or its Z85 public key; defaults ``$ZEROTASK_SECURITY_SECRET_KEY`` and
    ``$ZEROTASK_SECURITY_BROKER_KEY``) the connection is encrypted and authenticated with CURVE.

    A client may be shared between threads: requests take turns on its socket. Use it as a
    context manager, or call :meth:`close`, to disconnect its client id.
    """

    def __init__(self, broker: Union[None, str, Sequence[str]] = None, *, client_id: Optional[str] = None,
                 secret_key: Optional[str] = None, broker_key: Optional[str] = None,
                 request_timeout: float = 30.0, context: Optional[zmq.Context] = None):
        env = os.environ
        #: The brokers, in the order they are tried.
        self.brokers: List[str] = parse_brokers(broker or env.get("ZEROTASK_BROKER") or DEFAULT_BROKER)
        self.request_timeout = request_timeout
        self._keys = CurveKeys.configured(secret_key or env.get("ZEROTASK_SECURITY_SECRET_KEY") or None,
                                          broker_key or env.get("ZEROTASK_SECURITY_BROKER_KEY") or None)
        self._context = context or zmq.Context.instance()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closed = False
        self._index = 0
        self._socket = self._open(0)
        params = [client_id] if client_id else []
        for index in range(len(self.brokers)):
            try:
                with self._lock:
                    self.client_id: str = self._exchange("client_connect", params, request_timeout)
                break
            except Timeout:
                self._socket.close(0)
                if index + 1 == len(self.brokers):
                    if len(self.brokers) > 1:
                        raise Timeout(f"no answer to client_connect from any of {', '.join(self.brokers)} "
                                      f"within {request_timeout:g} s each") from None
                    raise
                self._index = index + 1
                self._socket = self._open(self._index)
            except BaseException:
                self._socket.close(0)
                raise

    @property
    def endpoint(self) -> str:
        """The request endpoint of the broker in use."""
        return self.brokers[self._index]

    def _open(self, index: int) -> zmq.Socket:
        socket = self._context.socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        if self._keys is not None:
            self._keys.apply(socket)
        socket.connect(self.brokers[index])
        return socket

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Disconnects the client id (best effort) and closes the socket."""
        if self._closed:
            return
        try:
            self._rpc("client_disconnect", [self.client_id], timeout=min(self.request_timeout, 5.0))
        except ZeroTaskError:
            pass
        finally:
            self._closed = True
            self._socket.close(0)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- tasks -----------------------------------------------------------------------------

    def call(self, method: str, params: Params = None, *, timeout: Optional[float] = None,
             **options: Any) -> Any:
        """Runs ``method`` with ``params`` and returns its result.

        ``timeout``: seconds to wait for the result (None: no limit; :class:`Timeout` after it,
        the task keeps its place). ``options`` are task fields: ``task_id``, ``priority``,
        ``max_retries``, ``result_ttl``, ``task_timeout`` (the task's own run-time limit),
        ``delay`` (seconds before it may start) or ``not_before`` (seconds since 1970, or an
        aware ``datetime``), ``retry`` (``{"max_attempts": 3, "backoff": 1, ...}``: retries
        after the method's own errors), ``tags`` (``["gpu"]``: only a node with every one of
        them runs it; it waits queued until one serves), and any further field the broker
        accepts on submission.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        fields = {"client_id": self.client_id, "method": method, "params": _params(params)}
        fields.update(_task_fields(self._resendable(options)))
        first = _LONG_POLL if timeout is None else max(0.0, min(timeout, _LONG_POLL))
        fields["wait"] = first
        try:
            entry = self._rpc("client_call", fields, timeout=self.request_timeout + first)
        except UnknownTask as e:
            own = self._own_taken(options, fields, e)
            if own is None:
                raise
            entry = {"task_id": own}
        if not isinstance(entry, dict) or "task_id" not in entry:
            raise UnexpectedReply(f"client_call answered {entry!r}, not a task entry")
        if "result" in entry or "error" in entry:
            return _outcome(entry)
        return self.wait(entry["task_id"], timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))

    def submit(self, method: str, params: Params = None, **options: Any) -> TaskHandle:
        """Queues a task and returns its handle at once (options as for :meth:`call`)."""
        fields = {"client_id": self.client_id, "method": method, "params": _params(params)}
        fields.update(_task_fields(self._resendable(options)))
        try:
            return TaskHandle(self, self._rpc("client_new_task", fields))
        except UnknownTask as e:
            own = self._own_taken(options, fields, e)
            if own is None:
                raise
            return TaskHandle(self, own)

    def submit_many(self, tasks: Iterable[Union[Tuple[str, Params], Dict[str, Any]]]
                    ) -> List[Union[TaskHandle, ZeroTaskError]]:
        """Queues many tasks in few requests (``client_new_tasks``).

        Each task is ``(method, params)`` or a dict with ``method``, ``params`` and task fields.
        Returns one entry per task, in order: its handle, or the error the broker gave for it
        (the other tasks are queued all the same).
        """
        # As each task was given (a task id the caller chose, or none), and as sent.
        given = [_entry(task) for task in tasks]
        entries = [self._resendable(e) for e in given]
        out: List[Union[TaskHandle, ZeroTaskError]] = []
        for start in range(0, len(entries), _BATCH):
            chunk = entries[start:start + _BATCH]
            answer = self._rpc("client_new_tasks", [self.client_id, chunk])
            if not isinstance(answer, list) or len(answer) != len(chunk):
                raise UnexpectedReply(f"client_new_tasks answered {answer!r} for {len(chunk)} tasks")
            for asked, entry, a in zip(given[start:start + _BATCH], chunk, answer):
                if isinstance(a, str):
                    out.append(TaskHandle(self, a))
                    continue
                error = error_from_reply(a)
                own = self._own_taken(asked, entry, error) if isinstance(error, UnknownTask) else None
                out.append(TaskHandle(self, own) if own else error)
        return out

    def chain(self, steps: Sequence[Union[Tuple[str, Params], Dict[str, Any]]], *,
              task_id: Optional[str] = None) -> TaskHandle:
        """Runs ``steps`` one after another on the broker; one handle for all.

        Each step's result is passed to the next as its first param (so steps after the first
        take their params as a list); the chain's result is the last step's. A failing step ends
        the chain with its error; cancelling the handle stops what it has pending. Steps are as
        for :meth:`submit_many`.
        """
        return self._workflow("chain", steps, None, task_id)

    def group(self, tasks: Sequence[Union[Tuple[str, Params], Dict[str, Any]]], *,
              callback: Optional[Union[Tuple[str, Params], Dict[str, Any]]] = None,
              task_id: Optional[str] = None) -> TaskHandle:
        """Runs ``tasks`` at once; the result is the list of their results, in order.

        With ``callback``, that list is passed to the callback as its first param once every task
        has succeeded, and the callback's result is the group's.
        """
        return self._workflow("group", tasks, callback, task_id)

    def _workflow(self, kind: str, tasks: Sequence[Any], callback: Any, task_id: Optional[str]) -> TaskHandle:
        fields: Dict[str, Any] = {"client_id": self.client_id, "kind": kind,
                                  "tasks": [_entry(t) for t in tasks]}
        if callback is not None:
            fields["callback"] = _entry(callback)
        # With brokers to fail over to, a workflow resent after a failover must name itself.
        fields.update(self._resendable({} if task_id is None else {"task_id": task_id}))
        return TaskHandle(self, self._rpc("client_new_workflow", fields))

    def wait(self, task_id: str, timeout: Optional[float] = None) -> Any:
        """The result of task ``task_id`` once it is complete (see :meth:`TaskHandle.wait`)."""
        return _outcome(self.wait_many([task_id], timeout=timeout)[task_id])

    def wait_many(self, task_ids: Sequence[str], timeout: Optional[float] = None) -> Dict[str, Dict[str, Any]]:
        """Waits until every task in ``task_ids`` is complete and returns each one's entry
        (``{"task_id", "status", "result" | "error"}``) by id; :class:`Timeout` if some are not
        complete within ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        left = list(dict.fromkeys(task_ids))
        done: Dict[str, Dict[str, Any]] = {}
        while left:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise Timeout(f"{len(left)} of {len(done) + len(left)} tasks not complete within {timeout} s "
                              f"(first: {left[0]})")
            wait = _LONG_POLL if remaining is None else min(remaining, _LONG_POLL)
            answer = self._rpc("client_wait_results", [self.client_id, left, wait],
                               timeout=self.request_timeout + wait)
            if not isinstance(answer, list):
                raise UnexpectedReply(f"client_wait_results answered {answer!r}")
            for entry in answer:
                if isinstance(entry, dict) and entry.get("task_id") in left:
                    done[entry["task_id"]] = entry
            left = [t for t in left if t not in done]
        return done

    def status(self, task_id: str) -> Status:
        return Status(self._rpc("client_task_status", [self.client_id, task_id]))

    def info(self, task_id: str) -> Dict[str, Any]:
        """Status, attempts, node, times, progress and error of a task (``client_task_info``)."""
        return self._rpc("client_task_info", [self.client_id, task_id])

    def result(self, task_id: str) -> Any:
        """The result of a complete task now: :class:`NotComplete` if it is not."""
        try:
            return self._rpc("client_task_result", [self.client_id, task_id])
        except (InvalidClientId, UnknownTask, NotAllowed, NotComplete):
            raise  # the broker's own refusals
        except ZeroTaskError as e:
            # Anything else is the failed task's own error.
            raise task_error(task_id, {"code": e.code, "message": e.message, "data": e.data}) from None

    def cancel(self, task_id: str) -> bool:
        """Cancels a task: True if it was cancelled, False if it had already completed."""
        return bool(self._rpc("client_cancel_task", [self.client_id, task_id]))

    # -- discovery -------------------------------------------------------------------------

    def methods(self) -> List[Dict[str, Any]]:
        """Every method with its signature, doc, serving nodes, queued and running counts."""
        return self._rpc("methods", [])

    def nodes(self) -> List[Dict[str, Any]]:
        return self._rpc("nodes", [])

    def stats(self) -> Dict[str, Any]:
        return self._rpc("stats", [])

    # -- operations (admin methods: with keys on, this client's key must be an admin's) ----

    def pause(self, method: str) -> Dict[str, Any]:
        """Pauses ``method``'s queue: its tasks are still accepted and queued, none is handed
        out until :meth:`resume` (running ones go on). Returns ``{method, paused, queued,
        delayed?}`` (``queued`` counts the delayed tasks too)."""
        return self._rpc("admin_queue", {"method": method, "action": "pause"})

    def resume(self, method: str) -> Dict[str, Any]:
        """Hands ``method``'s queued tasks out again (see :meth:`pause`)."""
        return self._rpc("admin_queue", {"method": method, "action": "resume"})

    def purge(self, method: str) -> Dict[str, Any]:
        """Cancels every queued task of ``method``, delayed ones included; running ones are left
        alone. Returns the :meth:`pause` fields plus ``purged``, how many were cancelled."""
        return self._rpc("admin_queue", {"method": method, "action": "purge"})

    def schedule_add(self, name: str, method: str, params: Params = None, *, cron: Optional[str] = None,
                     time_zone: Optional[str] = None, every: Optional[float] = None, missed: Optional[str] = None,
                     priority: Optional[int] = None, timeout: Optional[float] = None,
                     replace: Optional[bool] = None) -> Dict[str, Any]:
        """Adds a periodic schedule: ``cron`` (five fields, in ``time_zone``, default UTC) or
        ``every`` seconds; each tick submits ``method`` with ``params`` once, with the id
        ``schedule:NAME-TIME`` (a tick runs once, across broker restarts too). ``missed``:
        ``"run_once"`` or ``"skip"`` for ticks missed while the broker was down. ``replace``: True
        to change a schedule of that name. Returns the schedule as :meth:`schedules` lists it;
        a bad field is :class:`InvalidParams` naming it."""
        fields = {"name": name, "method": method, "params": _params(params), "cron": cron, "time_zone": time_zone,
                  "every": every, "missed": missed, "priority": priority, "timeout": timeout, "replace": replace}
        return self._rpc("admin_schedule_add", {k: v for k, v in fields.items() if v is not None})

    def schedules(self) -> List[Dict[str, Any]]:
        """Every schedule, by name: its method, spec, next and last tick, last task and origin
        (``rpc``, or ``config`` for the broker's configuration file, which RPC cannot remove)."""
        answer = self._rpc("admin_schedule_list", [])
        if not isinstance(answer, dict) or not isinstance(answer.get("schedules"), list):
            raise UnexpectedReply(f"admin_schedule_list answered {answer!r}")
        return answer["schedules"]

    def schedules_by_name(self) -> Dict[str, Dict[str, Any]]:
        """:meth:`schedules` as a dict by name."""
        return {s["name"]: s for s in self.schedules()}

    def schedule_remove(self, name: str) -> Dict[str, Any]:
        """Removes a schedule (its ticks stop); returns it as it was. A name no schedule has is
        :class:`InvalidParams` naming it."""
        return self._rpc("admin_schedule_remove", {"name": name})

    # -- the wire --------------------------------------------------------------------------

    def request(self, method: str, params: Any = None, timeout: Optional[float] = None) -> Any:
        """Sends ``zerotask.broker.METHOD`` with ``params`` and returns its result: for broker
        methods this client has no wrapper for."""
        return self._rpc(method, [] if params is None else params, timeout=timeout)

    def _own_taken(self, given: Dict[str, Any], sent: Dict[str, Any], error: ZeroTaskError) -> Optional[str]:
        """The task's id when the broker refused a submission as "task id taken" for an id this
        client generated: only its own earlier send (before a failover, of a task that has
        finished since) can hold such an id, so the task is there. None otherwise."""
        if given.get("task_id") is not None or "task_id" not in sent or not error.message.endswith("is taken"):
            return None
        return f"{self.client_id}-{sent['task_id']}"

    def _resendable(self, options: Dict[str, Any]) -> Dict[str, Any]:
        """Task fields with a task id this client chose when it may fail over (a resend must
        name the same task)."""
        if len(self.brokers) < 2 or options.get("task_id") is not None:
            return options
        return {**options, "task_id": "f" + secrets.token_hex(12)}

    def _rpc(self, method: str, params: Any, timeout: Optional[float] = None) -> Any:
        if self._closed:
            raise ZeroTaskError("the client is closed")
        timeout = self.request_timeout if timeout is None else timeout
        with self._lock:
            try:
                return self._exchange(method, params, timeout)
            except Timeout:
                if len(self.brokers) < 2 or method == "client_disconnect":
                    raise
                self._fail_over()
            return self._exchange(method, params, timeout)

    def _fail_over(self) -> None:
        """Moves to the next broker that answers ``client_connect`` with this client id, round
        robin; Timeout when none of the others does. Called with the lock held."""
        for _ in range(len(self.brokers) - 1):
            self._socket.close(0)
            self._index = (self._index + 1) % len(self.brokers)
            self._socket = self._open(self._index)
            try:
                self._exchange("client_connect", [self.client_id], self.request_timeout)
                return
            except Timeout:
                continue
        raise Timeout(f"no broker of {', '.join(self.brokers)} answered within {self.request_timeout:g} s")

    def _exchange(self, method: str, params: Any, timeout: float) -> Any:
        """One request and its answer on the current socket. Called with the lock held."""
        rid = next(self._ids)
        body = json.dumps({"jsonrpc": "2.0", "method": _PREFIX + method, "params": params, "id": rid},
                          separators=(",", ":"))
        self._socket.send(body.encode())
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self._socket.poll(int(left * 1000) + 1, zmq.POLLIN):
                if time.monotonic() >= deadline:
                    raise Timeout(f"no answer to {method} from {self.endpoint} within {timeout:g} s")
                continue
            frames = self._socket.recv_multipart()
            try:
                reply = json.loads(frames[-1])
            except ValueError:
                raise UnexpectedReply(f"{method}: the broker answered invalid JSON") from None
            if not isinstance(reply, dict) or reply.get("id") != rid:
                continue  # the late answer to a request that timed out
            if "error" in reply:
                raise error_from_reply(reply["error"])
            return reply.get("result")


def _outcome(entry: Dict[str, Any]) -> Any:
    if "error" in entry:
        raise task_error(entry.get("task_id", "?"), entry["error"])
    return entry.get("result")
