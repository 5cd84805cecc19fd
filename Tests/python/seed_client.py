#!/usr/bin/env python3
"""A client written only from the seed message spec, with pyzmq: positional params, results by
polling `client_task_status` and `client_task_result`, no extension.

    python3 seed_client.py REQUEST_ENDPOINT BURSTS TASKS IDLE_SECONDS

Runs BURSTS bursts of TASKS tasks, idling IDLE_SECONDS between them (longer than the broker's
node_timeout, to make a silent node be dropped): task i is "add" [i, i+1] (result 2i+1), except
every tenth, "fail" [i] (error code 4242). Checks every result and error; prints
"seed client OK N" and exits 0, or "FAIL: …" and exits 1.
"""
import json
import sys
import time

import zmq

NS = "zerotask.broker."
TIMEOUT_MS = 10000
FINISHED, FAILED = 7000, 9000


class Failed(Exception):
    pass


def main(endpoint, bursts, tasks, idle):
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    next_id = [1]

    def call(method, params):
        msg = {"jsonrpc": "2.0", "method": NS + method, "params": params, "id": next_id[0]}
        next_id[0] += 1
        sock.send(json.dumps(msg).encode())
        try:
            return json.loads(sock.recv())
        except zmq.Again:
            raise Failed(f"no reply to {method} within {TIMEOUT_MS} ms")

    def result(method, params):
        reply = call(method, params)
        if "error" in reply:
            raise Failed(f"{method} {params!r} answered {reply['error']!r}")
        return reply["result"]

    try:
        client_id = result("client_connect", [])
        total = 0
        for burst in range(bursts):
            if burst > 0:
                time.sleep(idle)
            expected = {}
            for i in range(tasks):
                n = burst * tasks + i
                if n % 10 == 9:
                    tid = result("client_new_task", [client_id, "fail", [n]])
                    expected[tid] = ("error", n)
                else:
                    tid = result("client_new_task", [client_id, "add", [n, n + 1]])
                    expected[tid] = ("result", 2 * n + 1)
            pending = set(expected)
            deadline = time.monotonic() + 120
            while pending:
                if time.monotonic() > deadline:
                    raise Failed(f"burst {burst}: {len(pending)} tasks still not complete after 120 s")
                for tid in sorted(pending):
                    status = result("client_task_status", [client_id, tid])
                    if status not in (FINISHED, FAILED):
                        continue
                    pending.discard(tid)
                    kind, want = expected[tid]
                    reply = call("client_task_result", [client_id, tid])
                    if kind == "result":
                        if status != FINISHED or reply.get("result") != want:
                            raise Failed(f"{tid}: status {status}, reply {reply!r}; expected result {want}")
                    else:
                        err = reply.get("error") or {}
                        if status != FAILED or err.get("code") != 4242 or f"[{want}]" not in err.get("message", ""):
                            raise Failed(f"{tid}: status {status}, reply {reply!r}; expected error 4242")
                if pending:
                    time.sleep(0.01)
            total += tasks
            print(f"burst {burst} OK ({tasks} tasks)", flush=True)
        result("client_disconnect", [client_id])
        print("seed client OK", total, flush=True)
        return 0
    except Failed as e:
        print("FAIL:", e, flush=True)
        return 1
    finally:
        ctx.destroy(linger=0)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
