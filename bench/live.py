"""Live load: meters publishing at a fixed total rate while the ingest worker keeps up.

    .venv/bin/python bench/live.py [--meters 10000] [--rate 2000] [--seconds 60] [--publishers 4]
                                   [--batch N] [--db-url postgresql+psycopg://...]

Set-up (not timed): the project's Mosquitto on a free port with an account per meter, a fresh
database with a customer registered for every meter and a first reading of each stored (it arms
the meter's cycle and day checks, a cost paid once a day), the worker (`python -m ingest`) running.
Then publisher processes connect every meter (one MQTT connection each, as the ACL wants) and
publish one reading per meter every meters/rate seconds (10,000 meters at 2,000 readings/s is a
reading every 5 s), spread evenly, QoS 1, timestamps of the wall clock.

Measured, once every meter has published, for --seconds: every --every seconds the
readings the broker acknowledged to the meters against the readings the worker stored (the
backlog between them must not grow), and the CPU time of the worker and of the broker
(utime + stime from /proc/<pid>/stat) per reading stored and as a share of one core.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    Broker, Plan, WorkerProcess, cpu_seconds, fresh_database, machine, prepare_database, raise_file_limit, split,
    start_publishers, versions, wait_for,
)

STORED = "energy_ingest_stored_total"


def main() -> int:
    """Set up, run the load, sample, print."""
    args = parse_args()
    raise_file_limit()
    meters = range(1, args.meters + 1)
    period = args.meters / args.rate
    work = Path(tempfile.mkdtemp(prefix="bench-live-"))
    db_url, drop_database = fresh_database(args.db_url, work)
    broker = worker = None
    processes: list[multiprocessing.Process] = []
    try:
        started = time.perf_counter()
        prepare_database(db_url, meters, int(time.time() * 1000) - 1000)
        print(f"set-up: {args.meters:,} customers registered, a first reading of each stored "
              f"in {time.perf_counter() - started:.0f} s", flush=True)
        broker = Broker(work / "data", meters, queue=args.rate * 600).start()
        env = {**broker.env(), "ENERGY_DB_URL": db_url, "INGEST_CLIENT_ID": "bench-live-ingest"}
        if args.batch:
            env["INGEST_BATCH_SIZE"] = str(args.batch)
        worker = WorkerProcess(env, work / "worker.log").start()
        worker.wait_subscribed()

        rounds = math.ceil((args.seconds + 2 * period) / period) + 1
        first_ts = int(time.time() * 1000)
        plans = [Plan(broker.port, broker.data_dir, part, rounds, first_ts, period_s=period, step_ms=round(period * 1000))
                 for part in split(meters, args.publishers) if part]
        connected = multiprocessing.Value("i", 0)
        processes, acknowledged = start_publishers(plans, connected)
        wait_for(lambda: connected.value == len(plans), 600, "every meter to connect", every=0.2)
        print(f"{args.meters:,} meters connected through {len(plans)} publisher processes; "
              f"{args.rate:,} readings/s, each meter every {period:g} s", flush=True)
        time.sleep(period)  # every meter has published: the stream is steady

        samples = sample(args, worker, broker.pid, acknowledged)
        report(samples, args)
        print(f"database: {db_url.split('://')[0]}; machine: {machine()}")
        print(versions())
        backlogs = [published - stored for _, published, stored, _, _ in samples]
        grew = backlogs[-1] > max(backlogs[0], args.rate) * 2
        if grew:
            print(f"FAILED: the backlog grew from {backlogs[0]:,} to {backlogs[-1]:,}", file=sys.stderr)
        return 1 if grew else 0
    finally:
        for process in processes:
            process.terminate()
        if worker and worker.process:
            worker.stop()
        if broker:
            broker.close()
        drop_database()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=2_000, help="readings per second, all meters together")
    parser.add_argument("--seconds", type=float, default=60, help="how long to measure")
    parser.add_argument("--every", type=float, default=5, help="seconds between samples")
    parser.add_argument("--publishers", type=int, default=4, help="publisher processes")
    parser.add_argument("--batch", type=int, help="INGEST_BATCH_SIZE of the worker (default: its own)")
    parser.add_argument("--db-url", help="a PostgreSQL URL to bench on a fresh database of that server (default SQLite)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (database, worker log)")
    return parser.parse_args()


Sample = tuple[float, int, int, float, float]  # time, published, stored, worker CPU s, broker CPU s


def sample(args: argparse.Namespace, worker: WorkerProcess, broker_pid: int, acknowledged) -> list[Sample]:
    """Every `args.every` seconds for `args.seconds`: published, stored, CPU of both; printed as it goes."""
    samples: list[Sample] = []
    started = time.monotonic()
    print(f"{'s':>5} {'published':>10} {'stored':>10} {'backlog':>8}")
    while True:
        moment = time.monotonic()
        stored = int(worker.metrics().get(STORED, 0))
        samples.append((moment, acknowledged.value, stored, cpu_seconds(worker.pid), cpu_seconds(broker_pid)))
        print(f"{moment - started:5.0f} {samples[-1][1]:>10,} {stored:>10,} {samples[-1][1] - stored:>8,}", flush=True)
        if moment - started >= args.seconds:
            return samples
        time.sleep(max(0.0, started + len(samples) * args.every - time.monotonic()))


def report(samples: list[Sample], args: argparse.Namespace) -> None:
    """Rates and CPU over the whole window."""
    (t0, p0, s0, w0, b0), (t1, p1, s1, w1, b1) = samples[0], samples[-1]
    wall, stored, published = t1 - t0, s1 - s0, p1 - p0
    print(f"over {wall:.0f} s: published {published / wall:,.0f}/s, stored {stored / wall:,.0f}/s "
          f"(target {args.rate:,}/s)")
    for name, cpu in (("worker", w1 - w0), ("broker", b1 - b0)):
        per = f"{cpu / stored * 1e6:.0f} µs" if stored else "n/a"
        print(f"{name}: CPU {per} a reading, {cpu / wall * 100:.0f} % of one core")


if __name__ == "__main__":
    sys.exit(main())
