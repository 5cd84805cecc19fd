#!/usr/bin/env python3
"""A minimal broker that implements only the seed message spec, with pyzmq, for testing
clients against it: a REP socket (it reads only messages framed as a REQ peer frames them),
the five seed client methods with positional params, and -32601 for everything else,
extensions included. No batches (a batch is -32600).

    python3 seed_broker.py

Binds tcp://127.0.0.1 on a free port and prints "endpoint tcp://127.0.0.1:PORT". It runs the
tasks itself: "add" sums its params and finishes 0.3 s after submission, "fail" fails at once
with code 4242, "never" stays queued. Prints each method it was asked for. Runs until killed.
"""
import json
import sys
import time

import zmq

NS = "zerotask.broker."
QUEUED, RUNNING, FINISHED, FAILED = 1000, 5000, 7000, 9000


def main():
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REP)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    print(f"endpoint tcp://127.0.0.1:{port}", flush=True)
    clients = set()
    tasks = {}  # task id -> dict(client, method, params, due, status, result, error)
    counter = [0]

    def error(code, message):
        return {"code": code, "message": message}

    def settle(task):
        if task["status"] in (FINISHED, FAILED):
            return
        if task["method"] == "fail":
            task["status"], task["error"] = FAILED, error(4242, f"failed on purpose with {task['params']!r}")
        elif task["method"] == "add" and time.monotonic() >= task["due"]:
            task["status"], task["result"] = FINISHED, sum(task["params"])
        elif task["method"] == "add":
            task["status"] = RUNNING

    def handle(method, params):
        """Returns ("result", value) or ("error", {code, message})."""
        if not method.startswith(NS) or method[len(NS):] not in (
                "client_connect", "client_disconnect", "client_new_task", "client_task_status", "client_task_result"):
            return "error", error(-32601, f"Method not found: {method}")
        name = method[len(NS):]
        if not isinstance(params, list):
            return "error", error(-32602, f"{name}: params must be positional (a list), got {params!r}")
        if name == "client_connect":
            cid = params[0] if params else f"c{len(clients) + 1}"
            clients.add(cid)
            return "result", cid
        if not params or params[0] not in clients:
            return "error", error(-32010, "invalid client id")
        cid = params[0]
        if name == "client_disconnect":
            clients.discard(cid)
            return "result", True
        if name == "client_new_task":
            if len(params) < 3:
                return "error", error(-32602, "client_new_task: needs client_id, method, params")
            counter[0] += 1
            tid = f"{cid}-{params[3] if len(params) > 3 else counter[0]}"
            if tid in tasks:
                return "error", error(-32020, f"task id {tid} is taken")
            tasks[tid] = {"client": cid, "method": params[1], "params": params[2], "due": time.monotonic() + 0.3,
                          "status": QUEUED}
            return "result", tid
        if len(params) != 2 or params[1] not in tasks or tasks[params[1]]["client"] != cid:
            return "error", error(-32020, "invalid task id")
        task = tasks[params[1]]
        settle(task)
        if name == "client_task_status":
            return "result", task["status"]
        if task["status"] == FINISHED:
            return "result", task["result"]
        if task["status"] == FAILED:
            return "error", task["error"]
        return "error", error(-32050, "task not complete")

    while True:
        body = sock.recv()
        try:
            msg = json.loads(body)
        except ValueError:
            sock.send(json.dumps({"jsonrpc": "2.0", "error": error(-32700, "parse error"), "id": None}).encode())
            continue
        if not isinstance(msg, dict):
            print("refused a batch" if isinstance(msg, list) else "refused a non-object", flush=True)
            sock.send(json.dumps({"jsonrpc": "2.0", "error": error(-32600, "invalid request (no batches here)"),
                                  "id": None}).encode())
            continue
        method = msg.get("method", "")
        print("asked", method, flush=True)
        kind, value = handle(method, msg.get("params", []))
        sock.send(json.dumps({"jsonrpc": "2.0", kind: value, "id": msg.get("id")}).encode())


if __name__ == "__main__":
    main()
