"""pgqueuer on a given PostgreSQL server, measured the way `zerotask bench` measures ZeroTask:
N no-op jobs with K in flight (submitted and run together), jobs/s and the latency from enqueue
to the handler's start; and the drain rate of a backlog of N queued jobs. One JSON line per mode.

    python bench/pgqueuer_bench.py DSN [--jobs N] [--inflight K ...] [--drain N]

Run by bench/pg-compare.sh inside a venv with pgqueuer and asyncpg (PyPI); the database is a
throwaway cluster that script creates. Everything ends by itself: each mode stops after its jobs.
"""
import argparse
import asyncio
import json
import statistics
import time

from datetime import timedelta

import asyncpg
from pgqueuer import AsyncpgDriver, QueueManager
from pgqueuer.queries import Queries


async def fresh_schema(dsn):
    conn = await asyncpg.connect(dsn)
    q = Queries(AsyncpgDriver(conn))
    try:
        await q.uninstall()
    except Exception:
        pass
    await q.install()
    await conn.close()


async def until_done(runner, done, *work):
    """Waits for `done` (and `work`), failing at once if the queue manager stops first."""
    waiting = asyncio.ensure_future(asyncio.gather(done.wait(), *work))
    finished, _ = await asyncio.wait({runner, waiting}, timeout=600, return_when=asyncio.FIRST_COMPLETED)
    if waiting not in finished:
        waiting.cancel()
        if runner in finished:
            runner.result()  # raises what stopped it
        raise TimeoutError("pgqueuer did not run every job within 600 s")


async def in_flight(dsn, jobs, inflight, batch_size):
    """`jobs` jobs, at most `inflight` enqueued and not yet run at any time."""
    await fresh_schema(dsn)
    # Several producers, each on its own connection, so that enqueueing (a commit per job) is not
    # what limits the run: ZeroTask's bench gets the same from the broker's group commit.
    producers = [await asyncpg.connect(dsn) for _ in range(min(inflight, 10))]
    consumer = await asyncpg.connect(dsn)
    qm = QueueManager(Queries(AsyncpgDriver(consumer)))
    slots = asyncio.Semaphore(inflight)
    latencies = []
    done = asyncio.Event()

    @qm.entrypoint("noop")
    async def noop(job):
        latencies.append(time.perf_counter() - float(job.payload.decode()))
        slots.release()
        if len(latencies) == jobs:
            done.set()

    remaining = jobs

    async def produce(connection):
        nonlocal remaining
        pq = Queries(AsyncpgDriver(connection))
        while remaining > 0:
            remaining -= 1
            await slots.acquire()
            await pq.enqueue("noop", str(time.perf_counter()).encode())

    start = time.perf_counter()
    runner = asyncio.create_task(qm.run(batch_size=batch_size, dequeue_timeout=timedelta(seconds=1)))
    await until_done(runner, done, *(produce(c) for c in producers))
    elapsed = time.perf_counter() - start
    qm.shutdown.set()
    await asyncio.wait_for(runner, timeout=60)
    for c in producers:
        await c.close()
    await consumer.close()
    ms = sorted(x * 1000 for x in latencies)
    return {"system": "pgqueuer", "mode": "in_flight", "jobs": jobs, "inflight": inflight, "producers": len(producers),
            "jobs_per_second": round(jobs / elapsed), "latency_ms": {
                "p50": round(statistics.median(ms), 3), "p99": round(ms[int(len(ms) * 0.99) - 1], 3)}}


async def drain(dsn, jobs, batch_size):
    """The rate at which one consumer empties a backlog of `jobs` queued jobs."""
    await fresh_schema(dsn)
    producer = await asyncpg.connect(dsn)
    pq = Queries(AsyncpgDriver(producer))
    start = time.perf_counter()
    for i in range(0, jobs, 1000):
        n = min(1000, jobs - i)
        await pq.enqueue(["noop"] * n, [b"0"] * n, [0] * n)
    enqueue_rate = jobs / (time.perf_counter() - start)
    consumer = await asyncpg.connect(dsn)
    qm = QueueManager(Queries(AsyncpgDriver(consumer)))
    count = 0
    done = asyncio.Event()

    @qm.entrypoint("noop")
    async def noop(job):
        nonlocal count
        count += 1
        if count == jobs:
            done.set()

    start = time.perf_counter()
    runner = asyncio.create_task(qm.run(batch_size=batch_size, dequeue_timeout=timedelta(seconds=1)))
    await until_done(runner, done)
    elapsed = time.perf_counter() - start
    qm.shutdown.set()
    await asyncio.wait_for(runner, timeout=60)
    await producer.close()
    await consumer.close()
    return {"system": "pgqueuer", "mode": "drain", "jobs": jobs, "enqueue_per_second": round(enqueue_rate),
            "jobs_per_second": round(jobs / elapsed)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dsn")
    ap.add_argument("--jobs", type=int, default=5000)
    ap.add_argument("--inflight", type=int, nargs="+", default=[1, 200])
    ap.add_argument("--drain", type=int, default=20000)
    ap.add_argument("--batch-size", type=int, default=10)
    a = ap.parse_args()
    for k in a.inflight:
        # One in flight needs no more than a few hundred jobs for a stable median.
        n = min(a.jobs, 500) if k == 1 else a.jobs
        print(json.dumps(asyncio.run(in_flight(a.dsn, n, k, a.batch_size))), flush=True)
    if a.drain:
        print(json.dumps(asyncio.run(drain(a.dsn, a.drain, a.batch_size))), flush=True)


if __name__ == "__main__":
    main()
