#!/usr/bin/env python3
"""A node written only from the seed message spec (the prototype's messages.md), with pyzmq.

    python3 seed_node.py REQUEST_ENDPOINT PUBLISH_ENDPOINT

What it does, and what it deliberately does not:
- one REQ socket; registers with `node_connect` and no params (it advertises nothing);
- reacts only to the prototype's notification `zerotask.node.task_ready` (it subscribes to that
  name alone), claiming each task with `node_task_request(task_id)`;
- reports with the seed's positional forms `node_task_finished(task_id, result)` and
  `node_task_failed(task_id, error)`;
- never sends `node_heartbeat`, so a broker drops it whenever it idles past `node_timeout`.

Methods: "add" and "math.add" sum their params; "fail" fails with code 4242; "slow" sleeps
params[0] seconds, then answers params[1]; anything else fails with -32601.

Prints "ready NODE_ID" once registered and subscribed, "done N" every 50 tasks, and "FAIL: …"
(then exits 1) on anything the spec does not allow. Runs until killed.
"""
import json
import sys
import time

import zmq

NS = "zerotask.broker."
TIMEOUT_MS = 20000


def main(request_endpoint, publish_endpoint):
    ctx = zmq.Context()
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(request_endpoint)
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b'{"method":"zerotask.node.task_ready"')
    sub.connect(publish_endpoint)
    next_id = [1]

    def call(method, params=None):
        msg = {"jsonrpc": "2.0", "method": NS + method, "id": next_id[0]}
        if params is not None:
            msg["params"] = params
        next_id[0] += 1
        req.send(json.dumps(msg).encode())
        try:
            reply = json.loads(req.recv())
        except zmq.Again:
            print(f"FAIL: no reply to {method} within {TIMEOUT_MS} ms", flush=True)
            sys.exit(1)
        if "error" in reply:
            print(f"FAIL: {method} {params!r} answered {reply['error']!r}", flush=True)
            sys.exit(1)
        return reply["result"]

    node_id = call("node_connect")
    # PUB drops what it sends before the subscription reaches it (slow joiner): give it time.
    time.sleep(1.0)
    print("ready", node_id, flush=True)
    done = 0
    while True:
        note = json.loads(sub.recv())
        if note.get("method") != "zerotask.node.task_ready":
            print(f"FAIL: heard {note!r}, which it never subscribed to", flush=True)
            sys.exit(1)
        task = call("node_task_request", [note["params"]["task_id"]])
        if not task:
            continue  # {}: taken by somebody else, or no longer there
        method, params, task_id = task["method"], task["params"], task["id"]
        if method in ("add", "math.add"):
            call("node_task_finished", [task_id, sum(params)])
        elif method == "fail":
            call("node_task_failed", [task_id, {"code": 4242, "message": f"failed on purpose with {params!r}"}])
        elif method == "slow":
            time.sleep(params[0])
            call("node_task_finished", [task_id, params[1]])
        else:
            call("node_task_failed", [task_id, {"code": -32601, "message": f"method not found: {method}"}])
        done += 1
        if done % 50 == 0:
            print("done", done, flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2])
