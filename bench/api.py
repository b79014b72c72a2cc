"""Requests/s and latency of the bill, day and minute routes under 32 concurrent clients.

    .venv/bin/python bench/api.py [--customers 1000] [--days 365] [--seconds 10] [--clients 32]
                                  [--dir /tmp/energia-api-bench] [--workers W --threads T]

Set-up (cached in --dir by a hash of the plan; printed with its time): a SQLite file with a year
of 5-second readings for customer 1 (6.3 M) and a year of 15-minute readings for 1,000
customers (35 M), every customer registered through the real code, which freezes a year of
bills (see `bench/dataset.py`).

Then the real API starts as in production (`python -m api`: gunicorn, its default workers and
threads unless --workers/--threads say otherwise) on a free port, and for each route, first
over random 15-minute customers and days of the year, then for the 5-second customer, 32
keep-alive connections (spread over a few client processes running asyncio on raw sockets, so
the load generator takes little CPU from the 2 cores) send requests back to back, each with the
customer's own token, for --seconds after a one-second warm-up. Every answer must be a 200 with
a sane JSON document for that customer; anything else is counted as an error.

Prints per route: requests/s, p50, p99 and max latency, errors, and the CPU seconds the server
and the clients used (per request), so a starved server shows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import platform
import random
import resource
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import cpu_seconds, free_port, machine  # noqa: E402
from bench.dataset import FINE_METER, FIRST_DAY, TIMEZONE, Plan, bill_count, ensure, token_for  # noqa: E402

REQUESTS_PER_CLIENT = 20_000  # a bound on each connection's loop, whatever --seconds says
WARM_UP_S = 1.0


@dataclass(frozen=True)
class Scenario:
    """A route and whose data it asks for."""

    name: str
    route: str  # bill, day, minute
    fine: bool  # the 5-second customer, else random 15-minute customers


SCENARIOS = [Scenario(f"{route} ({who})", route, fine)
             for fine, who in ((False, "15-min customers"), (True, "5-s customer"))
             for route in ("bill", "day", "minute")]


def main() -> int:
    """Build or reuse the data, start the API, load each route, print the figures."""
    args = parse_args()
    plan = Plan(coarse=args.customers, days=args.days)
    print(f"disk before set-up: {disk_free(args.dir)}", flush=True)
    built = ensure(plan, args.dir, log=lambda text: print(text, flush=True))
    size = sum(path.stat().st_size for path in args.dir.glob(built.path.name + "*"))
    how = "reused from the cache" if built.reused else f"built in {built.seconds:.0f} s"
    print(f"set-up: {len(plan.customers())} customers, {built.readings:,} readings, {bill_count(built.path):,} frozen "
          f"bills, rollup table {'filled' if built.rollup else 'absent from the schema'}; {how}; "
          f"{size / 2**30:.2f} GiB in {built.path}", flush=True)

    server = Server(built.path, args)
    try:
        server.start()
        print(f"API: python -m api {' '.join(server.flags)} (pid {server.process.pid}) on port {server.port}; "
              f"{args.clients} clients in {args.procs} processes, {args.seconds:.0f} s per route", flush=True)
        print(f"{'route':<28} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>7} "
              f"{'server CPU':>11} {'client CPU':>11}")
        missed = 0
        chosen = [scenario for scenario in SCENARIOS if not args.only or any(text in scenario.name for text in args.only)]
        for scenario in chosen:
            result = run(scenario, server, plan, args)
            print(result.line(), flush=True)
            missed += result.p99 >= 50 or result.errors > 0
    finally:
        server.stop()
    print(f"target: p99 under 50 ms at {args.clients} clients; {missed} of {len(chosen)} runs miss it "
          f"(with clients back to back, latency is about clients / rate: 50 ms needs {args.clients / 0.05:.0f} req/s)")
    print(f"machine: {machine()}; Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")
    if args.remove:
        shutil.rmtree(args.dir, ignore_errors=True)
    return 0


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1000, help="15-minute customers (besides the 5-second one)")
    parser.add_argument("--days", type=int, default=365, help="days of readings from 2025-01-01")
    parser.add_argument("--seconds", type=float, default=10.0, help="load per route, after a 1 s warm-up")
    parser.add_argument("--clients", type=int, default=32, help="concurrent keep-alive connections")
    parser.add_argument("--procs", type=int, default=2, help="client processes sharing the connections")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: python -m api's own)")
    parser.add_argument("--threads", type=int, help="threads per worker (default: python -m api's own)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/energia-api-bench"), help="cache folder of the data")
    parser.add_argument("--source", type=Path, default=ROOT,
                        help="checkout whose API runs (default: this one; another to compare versions on the same data)")
    parser.add_argument("--only", action="append", default=[],
                        help="run only the scenarios whose name holds this text (repeatable), e.g. --only bill")
    parser.add_argument("--remove", action="store_true", help="delete the cached data at the end")
    return parser.parse_args()


class Server:
    """`python -m api` on a free port, with the data's settings."""

    def __init__(self, path: Path, args: argparse.Namespace):
        self.port = free_port()
        self.source = args.source.resolve()
        self.token = secrets.token_urlsafe(24)
        self.flags = ["--host", "127.0.0.1", "--port", str(self.port)]
        for name in ("workers", "threads"):
            if getattr(args, name):
                self.flags += [f"--{name}", str(getattr(args, name))]
        self.env = {**os.environ, "PYTHONPATH": str(self.source), "ENERGY_DB_URL": f"sqlite:///{path}", "ENERGY_TIMEZONE": TIMEZONE,
                    "ENERGY_ADMIN_TOKEN": self.token, "ENERGY_DATA_DIR": str(path.parent / "data")}
        self.env.pop("ENERGY_CONFIG", None)
        self.log = path.parent / "api.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start it and wait until /healthz answers."""
        with self.log.open("w") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "api", *self.flags], cwd=self.source, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the API stopped at start; see {self.log}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"the API did not answer within 60 s; see {self.log}")

    def cpu_seconds(self) -> float:
        """User and system CPU of the master and its workers so far."""
        assert self.process is not None
        pids = [self.process.pid, *children(self.process.pid)]
        return sum(process_cpu(pid) for pid in pids)

    def stop(self) -> None:
        """SIGTERM, then wait."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Result:
    """The figures of one scenario."""

    name: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int
    server_cpu: float
    client_cpu: float
    sample_error: str

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 0.99)

    def line(self) -> str:
        """One row of the table."""
        if not self.requests:
            return f"{self.name:<28} no request completed ({self.sample_error})"
        per = 1000 / self.requests
        text = (f"{self.name:<28} {self.requests / self.seconds:7.0f} {percentile(self.latencies, 0.5):7.1f} "
                f"{self.p99:7.1f} {max(self.latencies):7.1f} {self.errors:7d} "
                f"{self.server_cpu:5.1f} s {self.server_cpu * per:4.1f}ms {self.client_cpu:5.1f} s "
                f"{self.client_cpu * per:4.2f}ms")
        return text + (f"\n    first error: {self.sample_error}" if self.sample_error else "")


def run(scenario: Scenario, server: Server, plan: Plan, args: argparse.Namespace) -> Result:
    """Load one scenario from `args.procs` processes; their latencies and CPU merged."""
    share = [args.clients // args.procs + (n < args.clients % args.procs) for n in range(args.procs)]
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    cpu_before = server.cpu_seconds()
    procs = [context.Process(target=client_process, args=(queue, scenario, plan, server.port, count, args.seconds, n))
             for n, count in enumerate(share) if count]
    for proc in procs:
        proc.start()
    reports = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    server_cpu = server.cpu_seconds() - cpu_before
    latencies = sorted(latency for report in reports for latency in report["latencies"])
    errors = sum(report["errors"] for report in reports)
    sample = next((report["sample_error"] for report in reports if report["sample_error"]), "")
    return Result(scenario.name, len(latencies), max(report["seconds"] for report in reports), latencies, errors,
                  server_cpu, sum(report["cpu"] for report in reports), sample)


def client_process(queue, scenario: Scenario, plan: Plan, port: int, connections: int, seconds: float, seed: int) -> None:
    """One client process: `connections` keep-alive connections back to back; reports to the queue."""
    started_cpu = resource.getrusage(resource.RUSAGE_SELF)
    report = asyncio.run(load(scenario, plan, port, connections, seconds, random.Random(seed * 7919 + 1)))
    ended_cpu = resource.getrusage(resource.RUSAGE_SELF)
    report["cpu"] = (ended_cpu.ru_utime - started_cpu.ru_utime) + (ended_cpu.ru_stime - started_cpu.ru_stime)
    queue.put(report)


async def load(scenario: Scenario, plan: Plan, port: int, connections: int, seconds: float,
               rng: random.Random) -> dict:
    """Run the connections for the warm-up and then `seconds`; latencies of the timed part, in ms."""
    report = {"latencies": [], "errors": 0, "sample_error": ""}
    begin = time.perf_counter()
    timed_from, stop_at = begin + WARM_UP_S, begin + WARM_UP_S + seconds
    make = request_maker(scenario, plan, rng)
    await asyncio.gather(*(connection(port, make, timed_from, stop_at, report) for _ in range(connections)))
    report["seconds"] = seconds
    return report


async def connection(port: int, make: Callable[[], tuple[str, int, Callable[[dict], bool]]],
                     timed_from: float, stop_at: float, report: dict) -> None:
    """One client: a keep-alive connection, a request at a time, until the time is up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(REQUESTS_PER_CLIENT):
            path, customer, sane = make()
            sent = time.perf_counter()
            if sent >= stop_at:
                break
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                         f"{token_for(customer)}\r\n\r\n".encode())
            status, body, close = await read_response(reader)
            elapsed = (time.perf_counter() - sent) * 1000
            if sent >= timed_from:
                report["latencies"].append(elapsed)
                problem = check(status, body, sane)
                if problem:
                    report["errors"] += 1
                    report["sample_error"] = report["sample_error"] or f"{path}: {problem}"
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body and whether the server closes the connection (Content-Length bodies only)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    return status, await reader.readexactly(length), close


def check(status: int, body: bytes, sane: Callable[[dict], bool]) -> str:
    """Why an answer is wrong, or the empty string."""
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}"
    try:
        document = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:200]!r}"
    return "" if sane(document) else f"unexpected document: {body[:300]!r}"


def request_maker(scenario: Scenario, plan: Plan, rng: random.Random) -> Callable[[], tuple[str, int, Callable[[dict], bool]]]:
    """A function giving the next request: its path, the customer, and a check of its answer."""
    customers = plan.customers()
    last_day = FIRST_DAY + timedelta(days=plan.days)
    closed_months = [month for month in range(1, 13) if date(2025, month, 10) < last_day]  # closing day 10

    def pick_customer() -> int:
        return FINE_METER if scenario.fine else rng.choice(customers[1:])

    def pick_day() -> date:
        return FIRST_DAY + timedelta(days=rng.randrange(plan.days))

    def bill() -> tuple[str, int, Callable[[dict], bool]]:
        customer, month = pick_customer(), rng.choice(closed_months)
        return (f"/usuario/fatura/?id={customer}&mes={month:02d}&ano=2025", customer,
                lambda doc: doc.get("id") == customer and doc.get("mes") == month and doc.get("status") == "fechada"
                and float(doc.get("valor", "0")) > 0)

    def day() -> tuple[str, int, Callable[[dict], bool]]:
        customer, when = pick_customer(), pick_day()
        return (f"/usuario/consumo/data/?id={customer}&data={when.isoformat()}", customer,
                lambda doc: doc.get("id") == customer and doc.get("consumo_kwh", 0) > 0
                and doc.get("total_leituras", 0) > 0 and len(doc.get("leituras", ())) == min(doc["total_leituras"], 1000))

    def minute() -> tuple[str, int, Callable[[dict], bool]]:
        customer, when = pick_customer(), pick_day()
        clock = f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:"
        expected = 12 if scenario.fine else None
        return (f"/usuario/consumo/horario/?id={customer}&data={when.isoformat()}&horario={clock}", customer,
                lambda doc: doc.get("id") == customer and "consumo_kwh" in doc
                and len(doc.get("leituras", ())) == doc.get("total_leituras")
                and (expected is None and doc["total_leituras"] <= 1 or doc["total_leituras"] == expected))

    return {"bill": bill, "day": day, "minute": minute}[scenario.route]


def percentile(ordered: list[float], fraction: float) -> float:
    """The value below which `fraction` of the sorted sample lies (nearest rank)."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def children(pid: int) -> list[int]:
    """The direct children of a process (the gunicorn workers of the master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def process_cpu(pid: int) -> float:
    """User plus system CPU seconds of a process, 0 once it is gone (a gunicorn worker replaced)."""
    try:
        return cpu_seconds(pid)
    except OSError:
        return 0.0


def disk_free(folder: Path) -> str:
    """Free space where the data goes."""
    folder.mkdir(parents=True, exist_ok=True)
    usage = shutil.disk_usage(folder)
    return f"{usage.free / 2**30:.1f} GiB free of {usage.total / 2**30:.1f} GiB at {folder}"


if __name__ == "__main__":
    sys.exit(main())
