"""Closing the billing cycles of many customers at once: how long the real settlement takes.

    .venv/bin/python bench/billing.py [--customers 10000] [--branca 0.25] [--dir /tmp/energia-bench]

Set-up (not timed): a fresh SQLite file, migrated, with N customers, each with three frozen bills
and a month of 15-minute readings of the cycle 2025-08 ([07-10, 08-10) America/Sao_Paulo), up to
the last reading before the cycle ends. The readings, customers, bills and meter states are
inserted directly in bulk with sqlite3 for speed; nothing else is faked.

Timed: the reading at the cycle's end (08-10 00:00) arrives for every meter, in batches as the
ingest worker takes them (`INGEST_BATCH_SIZE`, 1000), each through `ingest.store.store_batch` in
its own transaction: the real code stores the reading, freezes the bill (tariff with TUSD/TE,
flags of two months, ICMS/PIS/COFINS, CIP; a share of customers on Tarifa Branca), checks the
alert rules and arms the next cycle. Prints the time and the rate.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import itertools
import json
import os
import platform
import pstats
import random
import shutil
import sqlite3
import sys
import time
import tomllib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine  # noqa: E402
from core.config import Settings, apply_toml  # noqa: E402
from core.db import make_engine, make_sessionmaker, migrate  # noqa: E402
from core.periods import to_ms  # noqa: E402
from core.wire import Reading as Wire  # noqa: E402
from core.wire import encode, topic_for  # noqa: E402
from ingest.store import Message, store_batch  # noqa: E402

ZONE = ZoneInfo("America/Sao_Paulo")
START = to_ms(datetime(2025, 7, 10, tzinfo=ZONE))
END = to_ms(datetime(2025, 8, 10, tzinfo=ZONE))
STEP = 15 * 60 * 1000
# Wh per quarter hour of a day: base load, morning, the evening electric shower and TV.
DAY = [25] * 24 + [40] * 4 + [90] * 8 + [45] * 32 + [130] * 4 + [190] * 12 + [80] * 8 + [35] * 4
CONFIG = """
[tariff]
default_plan = "residencial"
default_connection = "monofasico"
holidays = [2025-01-01, 2025-09-07, 2025-10-12, 2025-11-02, 2025-11-15, 2025-11-20, 2025-12-25]
[[tariff.plans.residencial]]
valid_from = 2024-05-28
tusd = "0.43011"
te = "0.29456"
[[tariff.plans.residencial]]
valid_from = 2025-05-28
tusd = "0.46177"
te = "0.31624"
[[tariff.plans.branca]]
valid_from = 2024-09-30
peak = ["18:00", "21:00"]
intermediate = [["17:00", "18:00"], ["21:00", "22:00"]]
ponta = { tusd = "0.68901", te = "0.41122" }
intermediario = { tusd = "0.42909", te = "0.27500" }
fora_ponta = { tusd = "0.16917", te = "0.27500" }
[[tariff.taxes]]
valid_from = 2025-01-01
icms = "0.18"
pis = "0.0095"
cofins = "0.0437"
[[tariff.flags]]
valid_from = 2024-04-01
amarela = "1.885"
vermelha_1 = "4.463"
vermelha_2 = "7.877"
[tariff.flag_months]
"2025-07" = "vermelha_1"
"2025-08" = "vermelha_2"
[[tariff.cip]]
valid_from = 2025-01-01
bands = [{ up_to_kwh = 50, amount = "0" }, { up_to_kwh = 100, amount = "3" }, { up_to_kwh = 200, amount = "6" },
         { amount = "9" }]
"""


def main() -> int:
    """Build the data, close every cycle, print the figures."""
    args = parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.dir / "bench.db"
    for leftover in args.dir.glob("bench.db*"):
        leftover.unlink()
    settings = apply_toml(Settings(db_url=f"sqlite:///{path}", timezone="America/Sao_Paulo"), tomllib.loads(CONFIG))
    engine = make_engine(settings.db_url, immediate=True)
    migrate(engine)

    started = time.perf_counter()
    last = build(path, args.customers, args.branca)
    readings = len(last) * ((END - START) // STEP)
    print(f"set-up: {args.customers} customers, {readings:,} readings inserted in bulk in "
          f"{time.perf_counter() - started:.1f} s ({path.stat().st_size / 2**20:.0f} MiB)", flush=True)

    profiler = cProfile.Profile() if args.profile else None
    started, cpu_started = time.perf_counter(), time.process_time()
    settled = close_cycles(make_sessionmaker(engine), settings, last, args.batch, profiler)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    engine.dispose()

    bills, sample = check(path)
    print(f"closed {bills} cycles ({settled} settlements) in {elapsed:.2f} s: "
          f"{args.customers / elapsed:,.0f} customers/s, {elapsed / args.customers * 1000:.2f} ms each "
          f"(CPU time of this process {cpu:.2f} s; the rest is waiting on the disk or on other processes)")
    print(f"sample bill: {sample}")
    print(f"machine: {machine()}; Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")
    if profiler:
        pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(30)
    if bills != args.customers:
        print(f"expected {args.customers} bills of 2025-08, found {bills}", file=sys.stderr)
        return 1
    shutil.rmtree(args.dir, ignore_errors=True)
    return 0


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--branca", type=float, default=0.25, help="share of customers on Tarifa Branca")
    parser.add_argument("--batch", type=int, default=1000, help="closing readings per transaction")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/energia-bench"), help="where the SQLite file goes")
    parser.add_argument("--profile", action="store_true",
                        help="print where the closing spends its time (BENCH_SORT=tottime to sort by own time)")
    return parser.parse_args()


def build(path: Path, customers: int, branca: float) -> dict[int, int]:
    """Customers, three frozen bills each, a month of 15-minute readings, meter states.

    Returns each meter's last register.
    """
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous = OFF")
    rng = random.Random(2025)
    slots = (END - START) // STEP  # readings at START .. END - STEP: the cycle's end not reached yet
    last = {}
    for first in range(1, customers + 1, 500):
        ids = range(first, min(first + 500, customers + 1))
        with connection:
            for meter in ids:
                scale = rng.uniform(0.6, 1.6)
                steps = [round(wh * scale) for wh in itertools.islice(itertools.cycle(DAY), slots - 1)]
                registers = list(itertools.accumulate(steps, initial=1_000_000 + meter))
                times = range(START, START + slots * STEP, STEP)
                connection.executemany("INSERT INTO readings (meter_id, ts, wh) VALUES (?, ?, ?)",
                                       zip(itertools.repeat(meter), times, registers))
                last[meter] = registers[-1]
                plan = {"plano": "branca"} if rng.random() < branca else {}
                insert_customer(connection, meter, plan, registers, times)
    connection.close()
    return last


def insert_customer(connection: sqlite3.Connection, meter: int, plan: dict, registers: list[int], times: range) -> None:
    """The customer, its meter state (cycle 2025-08 open) and its bills of 2025-05 to 2025-07."""
    token_hash = hashlib.sha256(f"bench-{meter}".encode()).hexdigest()
    connection.execute(
        "INSERT INTO customers (id, nome, endereco, token_hash, created_at, closing_day, settings) "
        "VALUES (?, ?, ?, ?, ?, NULL, ?)",
        (meter, f"Cliente {meter}", f"Rua {meter}", token_hash, START - 200 * 86_400_000, json.dumps(plan)))
    connection.execute(
        "INSERT INTO meter_state (meter_id, first_ts, first_wh, last_ts, last_wh, adjust_wh, readings, registered, "
        "cycle_end, excess_at) VALUES (?, ?, ?, ?, ?, 0, ?, 1, ?, NULL)",
        (meter, times[0], registers[0], times[-1], registers[-1], len(registers), END))
    month_wh = registers[-1] - registers[0]
    end_register = registers[0]
    for mes in (7, 6, 5):
        start_register = end_register - month_wh
        inicio, fim = (to_ms(datetime(2025, month, 10, tzinfo=ZONE)) for month in (mes - 1, mes))
        connection.execute(
            "INSERT INTO bills (customer_id, ano, mes, inicio, fim, start_register, end_register, consumo_kwh, "
            "faturado_kwh, valor, itens, detalhes, review, closed_at) "
            "VALUES (?, 2025, ?, ?, ?, ?, ?, ?, ?, '100.00', '[]', '{}', 0, ?)",
            (meter, mes, inicio, fim, str(start_register), str(end_register), f"{month_wh / 1000:.3f}",
             f"{month_wh / 1000:.3f}", fim))
        end_register = start_register


def close_cycles(sessions, settings: Settings, last: dict[int, int], batch: int,
                 profiler: cProfile.Profile | None = None) -> int:
    """The reading at the cycle's end for every meter, through the worker's store, batch by batch."""
    settled = 0
    meters = sorted(last)
    received = END + 1_000
    if profiler:
        profiler.enable()
    for first in range(0, len(meters), batch):
        messages = [Message(topic_for(meter), encode(Wire(meter, END, last[meter] + 25)), received)
                    for meter in meters[first:first + batch]]
        with sessions.begin() as session:
            settled += store_batch(session, messages, settings, received).settled
    if profiler:
        profiler.disable()
    return settled


def check(path: Path) -> tuple[int, str]:
    """How many bills of 2025-08 exist, and one of them."""
    connection = sqlite3.connect(path)
    count = connection.execute("SELECT count(*) FROM bills WHERE ano = 2025 AND mes = 8").fetchone()[0]
    row = connection.execute(
        "SELECT customer_id, consumo_kwh, valor, itens FROM bills WHERE ano = 2025 AND mes = 8 ORDER BY customer_id LIMIT 1"
    ).fetchone()
    connection.close()
    sample = f"customer {row[0]}: {row[1]} kWh, R$ {row[2]}, {len(json.loads(row[3]))} lines" if row else "none"
    return count, sample


if __name__ == "__main__":
    sys.exit(main())
