#!/usr/bin/env python3
"""Replays the broker attacks of issue 12 against a broker this script starts, on loopback.

    bench/attack-broker.py [--zerotask .build/release/zerotask] [--only wait,params,bench]
                           [--waits 100] [--repeats 1000] [--tasks 400] [--param-bytes 1000000]
                           [--bench-runs 3] [--bench-tasks 30000] [-- EXTRA BROKER FLAGS]

Attacks, each on a fresh `zerotask broker --store memory` (and, for `bench`, a node with two
workers serving Plugins/):

  wait    WAITS `client_wait_results` long polls, each naming one queued task REPEATS times, then
          that task's `client_cancel_task`; a second connection pings (`stats`) all along. Prints
          the slowest ping during the attack and the time from the cancel to the ping after it.
          (Before the fix: 100 x 1000 froze a release broker for ~22 s.)
  params  TASKS `client_new_task` of a method nobody serves, each with PARAM-BYTES of params;
          prints how many were accepted, what the rest were answered, and the broker's RSS.
  bench   BENCH-RUNS runs of `zerotask bench --tasks BENCH-TASKS`; prints the RSS after each.

Everything is bounded: every receive has a timeout, the broker and node are stopped by PID
(SIGTERM, then SIGKILL), and each subprocess run has a deadline. Exits 1 if the broker stopped
answering (a ping took longer than --ping-limit seconds) or died.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time

import zmq


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Broker:
    """A `zerotask broker` process on two free loopback ports."""

    def __init__(self, zerotask, extra):
        self.port = free_port()
        self.pub = free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [zerotask, "broker", "--store", "memory", "--request", self.endpoint,
             "--publish", f"tcp://127.0.0.1:{self.pub}"] + extra,
            stdout=subprocess.DEVNULL, stderr=open(os.devnull, "w"))
        self.ctx = zmq.Context()

    def peer(self, kind=zmq.DEALER):
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVTIMEO, 30000)
        s.setsockopt(zmq.SNDTIMEO, 30000)
        s.connect(self.endpoint)
        return s

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.ctx.destroy(linger=0)


_ids = iter(range(1, 1 << 62))


def call(sock, method, params, timeout=30.0):
    """One request on a DEALER; replies to other ids (late long polls) are skipped."""
    rid = next(_ids)
    sock.send(json.dumps({"jsonrpc": "2.0", "method": "zerotask.broker." + method, "params": params,
                          "id": rid}).encode())
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not sock.poll(int(left * 1000)):
            raise TimeoutError(f"{method}: no answer within {timeout} s")
        reply = json.loads(sock.recv())
        if isinstance(reply, dict) and reply.get("id") == rid:
            return reply


def ping(sock, timeout):
    t = time.monotonic()
    call(sock, "stats", [], timeout)
    return time.monotonic() - t


def wait_for_broker(b):
    s = b.peer()
    for _ in range(100):
        try:
            ping(s, 0.5)
            return s
        except TimeoutError:
            if b.proc.poll() is not None:
                raise SystemExit(f"broker exited with status {b.proc.returncode}")
    raise SystemExit("broker did not answer within 50 s")


def attack_wait(b, args):
    pinger = wait_for_broker(b)
    client = b.peer()
    call(client, "client_connect", ["attacker"])
    task = call(client, "client_new_task", ["attacker", "nobody.serves", [], "t"])["result"]
    waiter = b.peer()
    ids = [task] * args.repeats
    worst = 0.0
    for i in range(args.waits):
        waiter.send(json.dumps({"jsonrpc": "2.0", "method": "zerotask.broker.client_wait_results",
                                "params": ["attacker", ids, 60], "id": f"w{i}"}).encode())
        if i % 10 == 0:
            worst = max(worst, ping(pinger, args.ping_limit))
    worst = max(worst, ping(pinger, args.ping_limit))
    parked = call(pinger, "stats", [])["result"].get("parked_waits")
    t = time.monotonic()
    reply = call(client, "client_cancel_task", ["attacker", task], args.ping_limit)
    after = ping(pinger, args.ping_limit)
    cancel_to_ping = time.monotonic() - t
    answered = 0
    while answered < args.waits and waiter.poll(10000):
        waiter.recv()
        answered += 1
    return {"attack": "wait", "waits": args.waits, "repeats": args.repeats, "parked": parked,
            "cancel": reply.get("result", reply.get("error")), "slowest_ping_during_s": round(worst, 4),
            "cancel_to_next_ping_s": round(cancel_to_ping, 4), "ping_after_s": round(after, 4),
            "waits_answered": answered}


def attack_params(b, args):
    s = wait_for_broker(b)
    call(s, "client_connect", ["hog"])
    before = rss_mib(b.proc.pid)
    blob = "x" * args.param_bytes
    accepted, refused = 0, {}
    for i in range(args.tasks):
        r = call(s, "client_new_task", ["hog", "nobody.serves", [blob]], 60)
        if "result" in r:
            accepted += 1
        else:
            key = f'{r["error"]["code"]}: {r["error"]["message"][:90]}'
            refused[key] = refused.get(key, 0) + 1
    stats = call(s, "stats", [])["result"]
    return {"attack": "params", "tasks": args.tasks, "param_bytes": args.param_bytes, "accepted": accepted,
            "refused": refused, "queued_bytes": stats.get("queued_bytes"), "rss_before_mib": round(before, 1),
            "rss_after_mib": round(rss_mib(b.proc.pid), 1), "ping_after_s": round(ping(s, args.ping_limit), 4)}


def attack_bench(b, args):
    s = wait_for_broker(b)
    node = subprocess.Popen(
        [args.zerotask, "node", "--broker", b.endpoint, "--broker-publish", f"tcp://127.0.0.1:{b.pub}",
         "--workers", "2", "--plugins", "Plugins"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if call(s, "stats", [])["result"]["nodes"] > 0:
                break
            time.sleep(0.2)
        rss = [round(rss_mib(b.proc.pid), 1)]
        for _ in range(args.bench_runs):
            subprocess.run([args.zerotask, "bench", "--broker", b.endpoint, "--tasks", str(args.bench_tasks),
                            "--inflight", "200", "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=600, check=False)
            rss.append(round(rss_mib(b.proc.pid), 1))
        stats = call(s, "stats", [])["result"]
    finally:
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(40)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait(10)
    return {"attack": "bench", "runs": args.bench_runs, "tasks_per_run": args.bench_tasks, "rss_mib": rss,
            "results": stats.get("results"), "result_bytes": stats.get("result_bytes"),
            "results_evicted_total": stats.get("results_evicted_total")}


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zerotask", default=".build/release/zerotask")
    ap.add_argument("--only", default="wait,params,bench")
    ap.add_argument("--waits", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=1000)
    ap.add_argument("--tasks", type=int, default=400)
    ap.add_argument("--param-bytes", type=int, default=1_000_000)
    ap.add_argument("--bench-runs", type=int, default=3)
    ap.add_argument("--bench-tasks", type=int, default=30000)
    ap.add_argument("--ping-limit", type=float, default=120.0, help="seconds a ping may take before the broker counts as frozen")
    args = ap.parse_args(argv)
    attacks = {"wait": attack_wait, "params": attack_params, "bench": attack_bench}
    ok = True
    for name in args.only.split(","):
        b = Broker(args.zerotask, extra)
        try:
            out = attacks[name](b, args)
        except TimeoutError as e:
            out, ok = {"attack": name, "frozen": str(e)}, False
        finally:
            alive = b.proc.poll() is None
            b.stop()
        if not alive:
            out["broker_died"], ok = True, False
        print(json.dumps(out), flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
