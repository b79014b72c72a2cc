"""How fast the ingest worker drains a backlog, beside a bare paho subscriber on the same broker.

    .venv/bin/python bench/ingest.py [--readings 200000] [--meters 1000] [--batch N]
                                     [--publishers 3] [--db-url postgresql+psycopg://...]

Set-up (not timed): the project's Mosquitto (its `mosquitto.conf`, persistence on, queue limits
raised to hold the backlog) on a free port; a fresh database with a customer registered for
every meter, so bills and alerts run; the worker (`python -m ingest`, client id bench-ingest)
connects once, so its persistent session exists, and stops on SIGTERM; a bare paho subscriber
(MQTT v5, clean start off, QoS 1, the same topic filter, acknowledges every message and does
nothing else) does the same. While both are offline, publisher processes send the backlog: a
reading every 5 s of each meter, meters interleaved as a neighbourhood sends them, timestamps
in the past, QoS 1, each meter on its own connection.

Timed, one after the other: the bare subscriber draining its session (from its connection to
its last message), then the worker draining its own (from its connection, as its log says, until
its metrics say every reading is committed and acknowledged). Then it checks that every reading
is stored exactly once and that each customer's cycle was armed and its alert checks ran.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from bench.common import (  # noqa: E402
    READING_EVERY_MS, Broker, Plan, WorkerProcess, bare_drain, bare_session, cpu_seconds, fresh_database,
    machine, prepare_database, raise_file_limit, split, start_publishers, versions,
)
from broker.provision import credentials  # noqa: E402
from core.credentials import WATCHER_USER  # noqa: E402
from core.db import make_engine  # noqa: E402

CLIENT_ID = "bench-ingest"
BARE_ID = "bench-bare"


def main() -> int:
    """Set up, publish the backlog, time both drains, check, print."""
    args = parse_args()
    raise_file_limit()
    meters = range(1, args.meters + 1)
    rounds = max(1, args.readings // args.meters)
    total = rounds * args.meters
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    db_url, drop_database = fresh_database(args.db_url, work)
    broker = None
    try:
        first_ts = (int(time.time() * 1000) // READING_EVERY_MS - rounds) * READING_EVERY_MS - 600_000
        history = prepare_database(db_url, meters, None if args.cold else first_ts - READING_EVERY_MS)
        broker = Broker(work / "data", meters, queue=total + 10_000).start()
        env = {**broker.env(), "ENERGY_DB_URL": db_url, "INGEST_CLIENT_ID": CLIENT_ID}
        if args.batch:
            env["INGEST_BATCH_SIZE"] = str(args.batch)
        worker = WorkerProcess(env, work / "worker.log")
        worker.start().wait_subscribed()
        worker.stop()
        watcher = credentials(broker.data_dir, WATCHER_USER)
        bare_session(broker.port, *watcher, BARE_ID)

        started = time.perf_counter()
        plans = [Plan(broker.port, broker.data_dir, part, rounds, first_ts)
                 for part in split(meters, args.publishers) if part]
        processes, acknowledged = start_publishers(plans)
        for process in processes:
            process.join()
        published = time.perf_counter() - started
        if acknowledged.value != total:
            raise RuntimeError(f"the broker acknowledged {acknowledged.value} of {total} publishes")
        print(f"backlog: {total:,} readings of {args.meters:,} meters ({rounds} each) published by "
              f"{len(plans)} processes in {published:.1f} s ({total / published:,.0f}/s)", flush=True)

        bare_s = time_bare(broker.port, watcher, total)
        print(f"bare paho subscriber drained {total:,} in {bare_s:.2f} s: {total / bare_s:,.0f} msg/s", flush=True)
        worker = WorkerProcess(env, work / "worker.log")
        worker_s, cpu_s, batch = time_worker(worker, total, args.py_spy)
        stop_s = worker.stop()
        print(f"ingest worker drained {total:,} in {worker_s:.2f} s: {total / worker_s:,.0f} readings/s "
              f"(CPU {cpu_text(cpu_s, total)}; batch {batch}; SIGTERM to exit {stop_s:.2f} s)")
        print(f"ratio worker/bare: {bare_s / worker_s:.2f}")
        problems = check(db_url, total, history, args.meters)
        print(f"database: {db_url.split('://')[0]}; machine: {machine()}")
        print(versions())
        for problem in problems:
            print(f"FAILED: {problem}", file=sys.stderr)
        if problems:
            print(f"worker log tail:\n{worker.log_tail()}", file=sys.stderr)
        return 1 if problems else 0
    finally:
        if broker:
            broker.close()
        drop_database()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=200_000, help="backlog size M (rounded to a multiple of --meters)")
    parser.add_argument("--meters", type=int, default=1_000)
    parser.add_argument("--batch", type=int, help="INGEST_BATCH_SIZE of the worker (default: its own)")
    parser.add_argument("--publishers", type=int, default=3, help="publisher processes")
    parser.add_argument("--db-url", help="a PostgreSQL URL to bench on a fresh database of that server (default SQLite)")
    parser.add_argument("--cold", action="store_true",
                        help="no reading before the backlog: each meter's first batch arms its cycle and day checks")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (database, worker log)")
    parser.add_argument("--py-spy", type=Path, metavar="FILE",
                        help="record the worker's stacks during its drain into FILE (collapsed; needs py-spy)")
    return parser.parse_args()


def time_bare(port: int, watcher: tuple[str, str], total: int) -> float:
    """The bare subscriber's drain, in its own process; seconds."""
    result = multiprocessing.Queue()
    process = multiprocessing.Process(target=bare_drain, args=(port, *watcher, BARE_ID, total, result))
    process.start()
    elapsed, received = result.get(timeout=600)
    process.join()
    if received != total:
        raise RuntimeError(f"the bare subscriber received {received} of {total}")
    return elapsed


def cpu_text(cpu_s: float, total: int) -> str:
    """The worker's CPU a reading, or why it was not measured."""
    if math.isnan(cpu_s):
        return "not measured: drained before the worker's metrics answered"
    return f"{cpu_s / total * 1e6:.0f} µs a reading"


def time_worker(worker: WorkerProcess, total: int, spy: Path | None = None) -> tuple[float, float, int]:
    """Start the worker on its backlog; seconds from its connection to the last commit, its CPU
    seconds for the backlog (measured from its first metrics answer, start-up done), and its
    largest batch."""
    worker.start()
    spying = None
    if spy:
        spying = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--format", "raw",
                                   "--rate", "250", "--threads", "-o", str(spy), "-p", str(worker.pid)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu_started, done_then = None, 0
    while True:
        metrics = worker.metrics()
        done = metrics.get("energy_ingest_acknowledged_total", 0)
        if cpu_started is None and metrics:
            cpu_started, done_then = cpu_seconds(worker.pid), done
        if done >= total:
            finished = time.time()
            break
        # Polling costs the worker a little CPU: often only near the end, which it times.
        rate = done / max(time.time() - connection_time(worker.log_path, default=time.time() - 1), 0.1)
        time.sleep(min(max((total - done) / max(rate, 1_000) / 2, 0.02), 0.5))
    # Timed from the first metrics answer, over the readings acknowledged after it, and scaled to
    # the whole backlog; NaN when the backlog was gone by then (a tiny run): nothing was timed.
    cpu = (cpu_seconds(worker.pid) - cpu_started) * total / (total - done_then) if done_then < total else math.nan
    if spying:
        spying.send_signal(signal.SIGINT)
        spying.wait(30)
    connected = connection_time(worker.log_path)
    return finished - connected, cpu, int(metrics.get("energy_ingest_batch_size_max", 0))


def connection_time(log_path: Path, default: float | None = None) -> float:
    """When the worker's last run connected, from its log line (local time, milliseconds)."""
    lines = [line for line in log_path.read_text().splitlines() if "connected (session present: True)" in line]
    if not lines and default is not None:
        return default
    stamp = " ".join(lines[-1].split()[:2])
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def check(db_url: str, total: int, history: int, meters: int) -> list[str]:
    """Every reading stored once, nothing rejected, every customer's cycle armed and alerts watched."""
    engine = make_engine(db_url)
    queries = {
        "readings": "SELECT count(*) FROM readings",
        "distinct": "SELECT count(*) FROM (SELECT DISTINCT meter_id, ts FROM readings) AS d",
        "counted": "SELECT coalesce(sum(readings), 0) FROM meter_state",
        "rejected": "SELECT count(*) FROM rejected_readings",
        "armed": "SELECT count(*) FROM meter_state WHERE registered AND cycle_end IS NOT NULL",
        "watched": "SELECT count(*) FROM alert_watch WHERE received_at IS NOT NULL",
    }
    with engine.connect() as connection:
        found = {name: int(connection.scalar(text(sql))) for name, sql in queries.items()}
    engine.dispose()
    stored = total + history
    expected = {"readings": stored, "distinct": stored, "counted": stored, "rejected": 0, "armed": meters, "watched": meters}
    print("checked: " + ", ".join(f"{name} {value:,}" for name, value in found.items()))
    return [f"{name}: {found[name]:,}, expected {value:,}" for name, value in expected.items() if found[name] != value]


if __name__ == "__main__":
    sys.exit(main())
