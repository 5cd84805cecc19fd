#!/usr/bin/env python3
"""The seed flow against a running ZeroTask broker, spoken by a non-Swift peer (pyzmq).

    python3 seed_flow.py REQUEST_ENDPOINT PUBLISH_ENDPOINT

A REQ client connects and submits "add" [2, 3]; a REQ node connects advertising "add", hears
the task on the publish socket (or, if PUB dropped it as slow-joiner, pulls it with the
zerotask.broker.node_task_pull extension), claims it with node_task_request, reports
node_task_finished, and the client reads client_task_result == 5. Then a batch and some errors.

Exits 0 when every check passes; otherwise prints what failed and exits 1.
"""
import json
import os
import sys
import time

try:
    import zmq
except ImportError:
    print("FAIL: pyzmq is not installed (run scripts/install-deps.sh)")
    sys.exit(2)

NS = "zerotask.broker."
TIMEOUT_MS = 5000


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)
    print("ok:", what)


class Peer:
    """A strict REQ peer: one request, one reply."""

    def __init__(self, ctx, endpoint, name):
        self.name = name
        self.sock = ctx.socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
        self.sock.setsockopt(zmq.SNDTIMEO, TIMEOUT_MS)
        self.sock.connect(endpoint)
        self.next_id = 1

    def raw(self, body):
        """Sends bytes or a JSON-able value; returns the parsed reply."""
        if not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body, separators=(",", ":")).encode()
        self.sock.send(body)
        try:
            reply = self.sock.recv()
        except zmq.Again:
            raise Failed(f"{self.name}: no reply within {TIMEOUT_MS} ms to {body[:200]!r}")
        return json.loads(reply)

    def call(self, method, params=None, notify=False):
        req = {"jsonrpc": "2.0", "method": NS + method}
        if params is not None:
            req["params"] = params
        if not notify:
            req["id"] = self.next_id
            self.next_id += 1
        reply = self.raw(req)
        if notify:
            return reply
        if not isinstance(reply, dict) or reply.get("jsonrpc") != "2.0" or reply.get("id") != req["id"]:
            raise Failed(f"{self.name}: {method}: malformed reply {reply!r}")
        return reply

    def result(self, method, params=None):
        reply = self.call(method, params)
        if "error" in reply:
            raise Failed(f"{self.name}: {method} {params!r} failed: {reply['error']!r}")
        return reply["result"]

    def error(self, method, params=None):
        reply = self.call(method, params)
        if "error" not in reply:
            raise Failed(f"{self.name}: {method} {params!r} succeeded with {reply.get('result')!r}; expected an error")
        return reply["error"]


def hear_new_task(sub, task_id, seconds):
    """Waits for the broker_new_task notification of task_id; returns the parsed message or None."""
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if dict(poller.poll(100)).get(sub):
            msg = json.loads(sub.recv())
            if msg.get("params", {}).get("task_id") == task_id:
                return msg
    return None


def run(request_endpoint, publish_endpoint):
    ctx = zmq.Context()
    suffix = f"{os.getpid()}"
    try:
        client = Peer(ctx, request_endpoint, "client")
        node = Peer(ctx, request_endpoint, "node")

        # Subscribe first, by the documented prefix, so that the subscription has time to reach
        # the broker while the peers connect (PUB drops what it sends before that).
        prefix = '{"method":"zerotask.node.broker_new_task","params":{"method":"add",'
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        sub.connect(publish_endpoint)

        client_id = f"py-client-{suffix}"
        node_id = f"py-node-{suffix}"
        check(client.result("client_connect", [client_id]) == client_id, "client_connect returns the client id")
        check(node.result("node_connect", {"node_id": node_id, "methods": ["add"]}) == node_id,
              "node_connect (named params, methods advertised) returns the node id")
        # A notification from a REQ peer gets exactly one reply: null.
        check(node.call("node_heartbeat", [node_id], notify=True) is None, "a notification is answered with null")

        task_id = client.result("client_new_task", [client_id, "add", [2, 3]])
        check(isinstance(task_id, str) and task_id.startswith(client_id + "-"),
              f"client_new_task returns a task id CLIENTID-TASKID ({task_id})")
        check(client.result("client_task_status", [client_id, task_id]) == 1000, "the new task is QUEUED (1000)")

        heard = hear_new_task(sub, task_id, 3.0)
        if heard is not None:
            check(heard == {"method": "zerotask.node.broker_new_task",
                            "params": {"method": "add", "task_id": task_id}, "jsonrpc": "2.0"},
                  "the node heard broker_new_task for the task")
            claimed = node.result("node_task_request", [task_id])
        else:
            # Notifications are hints; the protocol promises the work anyway.
            print("note: broker_new_task not heard (slow joiner); pulling with node_task_pull")
            pulled = node.result("node_task_pull", {"node_id": node_id, "max": 1})
            check(len(pulled) == 1 and pulled[0]["id"] == task_id, "node_task_pull hands over the task")
            claimed = pulled[0]
            # The task is taken now: a claim by id answers {}.
            check(node.result("node_task_request", [task_id]) == {}, "a taken task claims as {}")
        check(claimed == {"method": "add", "params": [2, 3], "id": task_id},
              "node_task_request returns {method, params, id}")
        check(node.result("node_task_request", [task_id]) == {}, "claiming it again answers {}")
        check(client.result("client_task_status", [client_id, task_id]) == 3000, "the task is ASSIGNED (3000)")
        err = client.error("client_task_result", [client_id, task_id])
        check(err["code"] == -32050, "client_task_result before completion is -32050")

        check(node.result("task_status", [node_id, task_id, 5000]) is True, "task_status RUNNING accepted")
        answer = sum(claimed["params"])
        check(node.result("node_task_finished", [task_id, answer]) is True, "node_task_finished accepted")
        check(client.result("client_task_status", [client_id, task_id]) == 7000, "the task is FINISHED (7000)")
        check(client.result("client_task_result", [client_id, task_id]) == 5, "client_task_result == 5")

        # A batch: responses matched by id, the notification unanswered, errors per member.
        batch = [
            {"jsonrpc": "2.0", "method": NS + "client_task_status", "params": [client_id, task_id], "id": "s"},
            {"jsonrpc": "2.0", "method": NS + "client_task_result", "params": {"client_id": client_id, "task_id": task_id}, "id": 0},
            {"jsonrpc": "2.0", "method": NS + "node_heartbeat", "params": [node_id]},
            {"jsonrpc": "2.0", "method": NS + "no_such_method", "id": ""},
            {"jsonrpc": "2.0", "method": NS + "client_task_status", "params": [client_id, "nope"], "id": None},
            42,
        ]
        replies = client.raw(batch)
        check(isinstance(replies, list) and len(replies) == 5, "a batch of 6 with one notification gets 5 responses")
        by_id = {json.dumps(r.get("id")): r for r in replies}
        check(by_id['"s"'].get("result") == 7000, "batch: status by position")
        check(by_id["0"].get("result") == 5, "batch: result by name, id 0")
        check(by_id['""']["error"]["code"] == -32601, "batch: unknown method is -32601")
        nulls = [r for r in replies if r.get("id") is None]
        check(sorted(r["error"]["code"] for r in nulls) == [-32600, -32020],
              "batch: unknown task is -32020 (id null) and a non-object member is -32600")

        # Errors.
        check(client.raw(b"{not json")["error"]["code"] == -32700, "a body that is not JSON is -32700")
        check(client.raw(b"{not json")["id"] is None, "a parse error carries a null id")
        check(client.error("client_task_result", [client_id, client_id + "-missing"])["code"] == -32020,
              "an unknown task is -32020")
        check(client.error("client_new_task", [client_id])["code"] == -32602, "missing params are -32602")
        check(client.error("client_task_status", ["nobody", task_id])["code"] == -32010, "an unknown client is -32010")
        check(node.error("node_heartbeat", ["ghost"])["code"] == -32030, "an unknown node is -32030")
        check(client.result("client_disconnect", [client_id]) is True, "client_disconnect")
        check(node.result("node_disconnect", [node_id]) is True, "node_disconnect")
        print("seed flow OK")
        return 0
    except Failed as e:
        print("FAIL:", e)
        return 1
    finally:
        ctx.destroy(linger=0)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    sys.exit(run(sys.argv[1], sys.argv[2]))
