"""The simulated neighbourhood through the real broker and worker: each anomaly's effect, and history.

Anomalies run live, every meter of one neighbourhood process showing one fault, while a watcher
records when each reading reaches the broker; what the worker made of them is read back from
its SQLite file. The history run replays 95 days of one home into the pipeline and checks its
bills and its stuck heater in the stored readings.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from core.customers import register
from core.models import Bill, MeterState, Reading, ReadingFlag, RejectedReading
from core.quality import FUTURE, REPLACEMENT, RESET
from core.wire import TOPIC_FILTER, decode
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

INTERVAL_S = 0.25
YEARS_OF_USE_WH = {1: 5_000_000, 2: 20_000_000}  # meters 1 and 2 have counted for years


def seed_registers(data_dir: Path, registers: dict[int, int]) -> None:
    """State files of meters that have counted `registers` Wh up to a minute ago."""
    folder = data_dir / "meters"
    folder.mkdir(parents=True, exist_ok=True)
    for meter_id, wh in registers.items():
        state = {"ts_ms": int(time.time() * 1000) - 60_000, "wh": wh, "remainder": 0}
        (folder / f"{meter_id}.json").write_text(json.dumps(state))


def rows(sessions, query) -> list:
    with sessions() as session:
        return list(session.execute(query).all())


def test_each_anomaly_shows_in_the_stored_data(broker, procs, db, settings):
    seed_registers(settings.data_dir, YEARS_OF_USE_WH)
    watcher = broker.client("watcher")
    watcher.subscribe(TOPIC_FILTER, qos=1)
    worker = procs(["ingest"], broker.env(), name="ingest")
    worker.wait_for_log("subscribed to", 20)
    street = procs(["meter", "neighbourhood", "--meters", "6", "--interval", str(INTERVAL_S),
                    "--anomaly", "1:reset@1s", "--anomaly", "2:replaced@1s",
                    "--anomaly", "3:offline@1s,for=2s", "--anomaly", "4:clock-skew@1s,by=+10m,for=1s",
                    "--anomaly", "5:duplicates@1s,for=1s,copies=3"], broker.env(), name="street")

    def flags(kind: str) -> list:
        return rows(db, select(ReadingFlag.meter_id, ReadingFlag.prev_wh, ReadingFlag.wh).where(ReadingFlag.kind == kind))

    def rejected(reason: str) -> list:
        return rows(db, select(RejectedReading.meter_id).where(RejectedReading.reason == reason))

    wait_until(lambda: flags(RESET), 20, lambda: f"a reset flag\n{street.log_tail()}")
    wait_until(lambda: flags(REPLACEMENT), 20, "a replacement flag")
    wait_until(lambda: rejected(FUTURE), 20, "readings rejected as future_timestamp")
    street.wait_for_log("meter 3: back online", 20)
    wait_until(lambda: len(stored_times(db, 3)) >= 24, 20, "meter 3's readings after its outage")
    street.stop()
    arrivals = {}
    for message in watcher.messages:
        reading = decode(message.topic, message.payload)
        arrivals.setdefault(reading.meter_id, []).append((reading.ts_ms, message.arrived))
    assert worker.stop() == 0
    counted = re.search(r"stopped: received (\d+), stored (\d+), duplicates (\d+)", worker.log_text())
    reset, replaced, future = flags(RESET), flags(REPLACEMENT), rejected(FUTURE)

    # reset: 5,000 kWh down to a few Wh, counted from zero; replaced: down to 12,345 kWh, counted as nothing
    assert [(meter, before) for meter, before, _ in reset] == [(1, YEARS_OF_USE_WH[1])] and reset[0][2] < 100
    assert replaced == [(2, YEARS_OF_USE_WH[2], 12_345_000)]
    # clock skew: ten minutes ahead, rejected and kept with the reason, the rest stored
    assert {meter for meter, in future} == {4} and len(future) >= 2
    assert len(stored_times(db, 4)) >= 10
    # offline: readings taken during the outage reach the broker late, in order, and are all stored
    late = [ts for ts, arrived in arrivals[3] if arrived * 1000 - ts > 1000]
    assert len(late) >= 5, f"meter 3's readings arrived {[(a * 1000 - t) for t, a in arrivals[3]]} ms late"
    stored = stored_times(db, 3)
    assert set(late) <= set(stored)
    assert max(b - a for a, b in zip(stored, stored[1:])) < 2 * INTERVAL_S * 1000, "part of the backlog is missing"
    assert all(arrived * 1000 - ts < 1000 for ts, arrived in arrivals[6]), "an undisturbed meter arrives at once"
    # duplicates: sent three times each for a second, stored once, counted by the worker
    sent_twice = [ts for ts, count in _counts(arrivals[5]).items() if count == 3]
    assert len(sent_twice) >= 3
    assert int(counted.group(3)) >= 2 * len(sent_twice)
    assert len(stored_times(db, 5)) == len(set(ts for ts, _ in arrivals[5]))


def stored_times(sessions, meter_id: int) -> list[int]:
    """The timestamps stored for a meter, in order."""
    return [ts for ts, in rows(sessions, select(Reading.ts).where(Reading.meter_id == meter_id).order_by(Reading.ts))]


def _counts(pairs: list[tuple[int, float]]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for ts, _ in pairs:
        counts[ts] = counts.get(ts, 0) + 1
    return counts


def test_a_history_run_closes_three_bills_and_shows_a_stuck_heater(broker, procs, db, settings):
    with db.begin() as session:
        register(session, 7, "Ana Souza", "Rua das Flores, 107", settings, int(time.time() * 1000))
    worker = procs(["ingest"], broker.env(), name="ingest")
    worker.wait_for_log("subscribed to", 20)
    meter = procs(["meter", "--id", "7", "--premises", "7:home", "--since", "95d",
                   "--anomaly", "7:stuck-heater@-20d,for=2h"], broker.env(), name="meter")
    meter.wait_for_log("history replayed", 120)
    now_ms = int(time.time() * 1000)
    wait_until(lambda: (rows(db, select(MeterState.last_ts).where(MeterState.meter_id == 7)) or [(0,)])[0][0]
               > now_ms - 20 * 60_000, 60, lambda: f"the history to be stored\n{worker.log_tail()}")

    bills = rows(db, select(Bill.ano, Bill.mes, Bill.consumo_kwh).where(Bill.customer_id == 7).order_by(Bill.inicio))
    assert len(bills) >= 3, bills
    for ano, mes, kwh in bills[1:]:  # whole cycles: the first one began with the history
        assert 100 <= float(kwh) <= 400, f"bill {ano}-{mes}: {kwh} kWh"

    readings = rows(db, select(Reading.ts, Reading.wh).where(
        Reading.meter_id == 7, Reading.ts.between(now_ms - 21 * 86_400_000, now_ms - 19 * 86_400_000)
    ).order_by(Reading.ts))
    power = [(b_wh - a_wh) * 3_600_000 / (b_ts - a_ts) for (a_ts, a_wh), (b_ts, b_wh) in zip(readings, readings[1:])]
    assert max(_longest_run(power, above=9_500), default=0) >= 6, "2 h at 9.5 kW: at least 6 whole 15-min steps"
    assert sum(1 for watts in power if watts > 8_000) <= 9  # the heater, not the whole two days


def _longest_run(values: list[float], above: float) -> list[int]:
    """Lengths of the runs of consecutive values above a threshold."""
    runs, current = [], 0
    for value in values:
        current = current + 1 if value >= above else 0
        runs.append(current)
    return runs
