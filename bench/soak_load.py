#!/usr/bin/env python3
"""The load of bench/soak.sh: one client keeping K tasks in flight for a set time.

A mix of math.add (result checked), short math.sleep, math.div by zero (must fail), and
long math.sleep cancelled soon after submission (queued or running). Tasks are submitted with
client_new_tasks and collected with client_wait_results long polls, over one DEALER (replies
matched by id). Every task carries result_ttl, so the broker's kept results stay bounded.

    soak_load.py --broker tcp://127.0.0.1:7755 --duration 300 [--inflight 32] [--interval 30]

Prints a progress line every interval and a summary at the end; exits 1 if any task had an
unexpected outcome.
"""
import argparse
import json
import os
import random
import sys
import time

import zmq

CANCELLED = -32062


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--inflight", type=int, default=32)
    ap.add_argument("--interval", type=float, default=30)
    ap.add_argument("--result-ttl", type=float, default=10)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(args.broker)
    next_id = [0]
    pending = {}  # request id -> (kind, data)

    def send(method, params, kind, data=None):
        next_id[0] += 1
        rid = next_id[0]
        sock.send(json.dumps({"jsonrpc": "2.0", "method": "zerotask.broker." + method, "params": params,
                              "id": rid}).encode())
        pending[rid] = (kind, data)

    client = "soak-%d" % os.getpid()
    send("client_connect", [client], "connect")

    # task id -> (kind, expected, cancel_at)
    outstanding = {}
    counts = {"submitted": 0, "ok": 0, "failed_as_expected": 0, "cancelled": 0, "finished_before_cancel": 0,
              "refused": 0, "unexpected": 0}
    unexpected = []
    submit_in_flight = False
    wait_in_flight = False
    connected = False
    seq = [0]

    def new_task():
        seq[0] += 1
        i = seq[0]
        r = rng.random()
        if r < 0.70:
            return {"method": "math.add", "params": [i, i + 1]}, ("add", 2 * i + 1)
        if r < 0.85:
            ms = rng.randint(1, 20)
            return {"method": "math.sleep", "params": [ms]}, ("sleep", ms)
        if r < 0.97:
            return {"method": "math.div", "params": [i, 0]}, ("div", None)
        return {"method": "math.sleep", "params": [5000]}, ("cancel", None)

    def settle(entry):
        tid = entry.get("task_id")
        kind, expected, _ = outstanding.pop(tid, (None, None, None))
        if kind is None:
            return
        err = entry.get("error")
        res = entry.get("result")
        good = False
        if kind in ("add", "sleep"):
            good = err is None and res == expected
            if good:
                counts["ok"] += 1
        elif kind == "div":
            good = err is not None and err.get("code") != CANCELLED
            if good:
                counts["failed_as_expected"] += 1
        elif kind == "cancel":
            if err is not None and err.get("code") == CANCELLED:
                counts["cancelled"] += 1
                good = True
            elif err is None and res == 5000:
                counts["finished_before_cancel"] += 1
                good = True
        if not good:
            counts["unexpected"] += 1
            if len(unexpected) < 5:
                unexpected.append((kind, expected, entry))

    start = time.monotonic()
    end = start + args.duration
    next_report = start + args.interval
    last_done = 0
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    while True:
        now = time.monotonic()
        stopping = now >= end
        if stopping and not outstanding and not submit_in_flight:
            break
        if now > end + 60:
            print("soak load: %d tasks still outstanding 60 s after the end" % len(outstanding), flush=True)
            counts["unexpected"] += len(outstanding)
            break
        if connected and not stopping and not submit_in_flight and len(outstanding) < args.inflight:
            tasks, kinds = [], []
            for _ in range(args.inflight - len(outstanding)):
                t, k = new_task()
                t["result_ttl"] = args.result_ttl
                tasks.append(t)
                kinds.append(k)
            send("client_new_tasks", {"client_id": client, "tasks": tasks}, "submit", kinds)
            submit_in_flight = True
        if connected and outstanding and not wait_in_flight:
            send("client_wait_results", [client, list(outstanding.keys()), 1], "wait")
            wait_in_flight = True
        for tid, (kind, expected, cancel_at) in list(outstanding.items()):
            if cancel_at is not None and now >= cancel_at:
                send("client_cancel_task", [client, tid], "cancel")
                outstanding[tid] = (kind, expected, None)
        if now >= next_report:
            done = sum(counts[k] for k in ("ok", "failed_as_expected", "cancelled", "finished_before_cancel", "unexpected"))
            print("soak load: t=%4.0f s  %d tasks done (%.0f/s over the last %.0f s), %d unexpected" % (
                now - start, done, (done - last_done) / args.interval, args.interval, counts["unexpected"]), flush=True)
            last_done = done
            next_report += args.interval
        for s, _ in poller.poll(50):
            while True:
                try:
                    body = sock.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                reply = json.loads(body)
                kind, data = pending.pop(reply.get("id"), (None, None))
                if kind == "connect":
                    connected = True
                elif kind == "submit":
                    submit_in_flight = False
                    at = time.monotonic()
                    for tid, k in zip(reply.get("result") or [], data):
                        if isinstance(tid, str):
                            counts["submitted"] += 1
                            cancel_at = at + rng.uniform(0.0, 0.2) if k[0] == "cancel" else None
                            outstanding[tid] = (k[0], k[1], cancel_at)
                        else:
                            counts["refused"] += 1
                elif kind == "wait":
                    wait_in_flight = False
                    for entry in reply.get("result") or []:
                        settle(entry)
                    if "error" in reply:
                        print("soak load: client_wait_results failed: %s" % reply["error"], flush=True)
    elapsed = time.monotonic() - start
    done = sum(counts[k] for k in ("ok", "failed_as_expected", "cancelled", "finished_before_cancel", "unexpected"))
    print("soak load: %.0f s, %d tasks done (%.0f/s): %s" % (elapsed, done, done / elapsed, json.dumps(counts)), flush=True)
    for u in unexpected:
        print("soak load: unexpected outcome: %s" % (u,), flush=True)
    sock.close()
    ctx.term()
    sys.exit(1 if counts["unexpected"] else 0)


if __name__ == "__main__":
    main()
