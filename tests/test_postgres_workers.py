"""Two ingest workers on one MQTT v5 shared subscription and one PostgreSQL database (SPEC §7):
one is killed mid-stream and restarted, and nothing is lost, doubled or billed twice.

The broker hands each message of `$share/<group>/meters/+/reading` to one member of the group,
so a meter's readings are spread over both workers and reach the database out of order. What
Mosquitto 2.0.11 had assigned to the killed worker waits in its persistent session until it
comes back with the same client id. Skipped when no PostgreSQL server answers.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from core.customers import register
from core.db import make_engine, make_sessionmaker, migrate
from core.models import Alert, Bill, Reading, RejectedReading
from core.wire import encode, topic_for
from ingest.store import Message, store_batch
from tests.support.load import Ledger, publish_all, register_series
from tests.support.net import free_port
from tests.support.observe import scrape
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

METERS = range(1, 21)
PER_METER = 500
TOTAL = len(METERS) * PER_METER
EVERY_MS = 4 * 3_600_000  # 500 readings 4 h apart: 83 days, so each meter crosses two or three cycle ends
SUBSCRIBED = "subscribed to .*meters/"


def plan() -> dict[int, list]:
    """Each meter's readings, 2-4 kWh apart (about 18 kWh a day: every cycle passes the 150 kWh
    excess threshold), all in the past."""
    first = (int(time.time()) // 3600 - PER_METER * 4 - 24) * 3_600_000
    return {meter: register_series(meter, PER_METER, first, EVERY_MS, seed=meter) for meter in METERS}


def scaled(readings: list) -> list:
    """The series with steps of 2,000-4,000 Wh instead of 0-50 (register_series keeps them tiny)."""
    base = readings[0].wh
    return [r.__class__(r.meter_id, r.ts_ms, base + (r.wh - base) * 40 + index * 2_000)
            for index, r in enumerate(readings)]


def enrol(sessions, settings, first_ts: int) -> None:
    """Register a customer on every meter, a day before its first reading."""
    with sessions.begin() as session:
        for meter in METERS:
            register(session, meter, f"cliente {meter}", f"Rua {meter}", settings, first_ts - 86_400_000)


def outcome(sessions) -> tuple[dict, list]:
    """{(customer, ano, mes): kWh} of every bill; (customer, tipo, cause) of every alert, sorted."""
    with sessions() as session:
        bills = {(row.customer_id, row.ano, row.mes): row.consumo_kwh
                 for row in session.execute(select(Bill.customer_id, Bill.ano, Bill.mes, Bill.consumo_kwh))}
        alerts = sorted(tuple(row) for row in session.execute(select(Alert.customer_id, Alert.tipo, Alert.cause)))
    return bills, alerts


def reference(tmp_path, settings, readings: dict[int, list]) -> tuple[dict, list]:
    """Bills and cycle alerts of the same readings stored in order by one writer (a SQLite file)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'reference.db'}", immediate=True)
    migrate(engine)
    sessions = make_sessionmaker(engine)
    enrol(sessions, settings, min(series[0].ts_ms for series in readings.values()))
    now = int(time.time() * 1000)
    for meter, series in readings.items():
        for start in range(0, len(series), 50):
            batch = [Message(topic_for(meter), encode(r), now) for r in series[start:start + 50]]
            with sessions.begin() as session:
                store_batch(session, batch, settings, now)
    result = outcome(sessions)
    engine.dispose()
    return result


def stored(port: int) -> float:
    """Readings this worker stored since it started (its /metrics)."""
    return scrape(port).get("energy_ingest_stored_total", 0)


def test_two_workers_one_killed_mid_stream_lose_and_double_nothing(broker, procs, pg_url, settings, tmp_path):
    settings = settings.with_overrides(db_url=pg_url)
    readings = {meter: scaled(series) for meter, series in plan().items()}
    engine = make_engine(pg_url)
    migrate(engine)
    sessions = make_sessionmaker(engine)
    enrol(sessions, settings, min(series[0].ts_ms for series in readings.values()))
    ports = {"a": free_port(), "b": free_port()}

    def start(name: str):
        env = broker.env(ENERGY_DB_URL=pg_url, INGEST_CLIENT_ID=f"ingest-{name}", INGEST_SHARE_GROUP="ingest",
                         INGEST_METRICS_PORT=ports[name], INGEST_BATCH_SIZE=200)
        return procs(["ingest"], env, name=f"ingest-{name}")

    workers = {name: start(name) for name in ports}  # both start at once on the migrated schema
    for worker in workers.values():
        worker.wait_for_log(SUBSCRIBED, timeout=20)
    ledger = Ledger(pg_url)
    accepted: list[int] = []
    publisher = threading.Thread(target=lambda: accepted.append(publish_all(broker, readings)), daemon=True)
    publisher.start()
    wait_until(lambda: stored(ports["a"]) >= 500 and stored(ports["b"]) >= 500, timeout=60,
               message="both workers storing")
    stored_by_a = stored(ports["a"])
    workers["a"].kill()  # SIGKILL, mid-stream: what the broker gave it waits in its session
    killed_at = ledger.readings()
    time.sleep(1)
    workers["a"] = start("a")
    workers["a"].wait_for_log(r"session present: True", timeout=20)
    publisher.join(timeout=120)
    assert accepted == [TOTAL]
    wait_until(lambda: ledger.readings() == TOTAL, timeout=120,
               message=lambda: f"all {TOTAL} readings stored, {ledger.readings()} so far")
    wait_until(lambda: all(scrape(port)["energy_ingest_held_messages"] == 0 for port in ports.values()), timeout=30)
    after = {name: stored(port) for name, port in ports.items()}

    assert ledger.readings() == TOTAL
    with sessions() as session:
        for meter, series in readings.items():
            rows = session.execute(select(Reading.ts, Reading.wh).where(Reading.meter_id == meter).order_by(Reading.ts))
            assert [tuple(row) for row in rows] == [(r.ts_ms, r.wh) for r in series], f"meter {meter}"
        assert session.scalar(select(func.count()).select_from(RejectedReading)) == 0
        doubled_bills = session.execute(select(Bill.customer_id, Bill.ano, Bill.mes, func.count())
                                        .group_by(Bill.customer_id, Bill.ano, Bill.mes).having(func.count() > 1)).all()
        doubled_alerts = session.execute(select(Alert.customer_id, Alert.tipo, Alert.ano, Alert.mes, func.count())
                                         .where(Alert.tipo.in_(["excesso", "variacao"]))
                                         .group_by(Alert.customer_id, Alert.tipo, Alert.ano, Alert.mes)
                                         .having(func.count() > 1)).all()
    assert doubled_bills == [] and doubled_alerts == []
    bills, alerts = outcome(sessions)
    expected_bills, expected_alerts = reference(tmp_path, settings, readings)
    assert sorted(bills) == sorted(expected_bills)  # every closed cycle of every customer, once
    assert len(bills) >= 2 * len(METERS)
    # A meter's readings reach the two workers alternately, so a cycle's last readings may commit
    # after the next cycle's first one froze its bill: they are billed on the next bill, and the
    # `excesso` thresholds, taken from the bills, may differ from one writer's in order. Every
    # customer passes the threshold of its first full cycle (about 500 kWh against the partial
    # first bill's 150 plus 150) whichever way.
    excess = [alert for alert in alerts if alert[1] == "excesso"]
    without = set(METERS) - {customer for customer, _, _ in excess}
    assert not without, [(key, kwh, expected_bills[key]) for key, kwh in sorted(bills.items()) if key[0] in without]
    moved = sum(1 for key, kwh in bills.items() if kwh != expected_bills[key])
    assert stored_by_a > 0 and after["a"] > 0 and after["b"] > 0  # both workers did store readings
    for worker in workers.values():
        assert "Traceback" not in worker.log_text(), worker.log_tail()
    engine.dispose()
    ledger.close()
    print(f"\n{TOTAL} readings of {len(METERS)} meters: worker a stored {stored_by_a:.0f} before its SIGKILL "
          f"(at {killed_at} rows) and {after['a']:.0f} after its restart, worker b {after['b']:.0f}; "
          f"{len(bills)} bills as one writer in order, {moved} of them with other kWh (late readings billed on "
          f"the next); {len(excess)} excess alerts ({sum(1 for a in expected_alerts if a[1] == 'excesso')} "
          f"for one writer), {len(alerts)} alerts in all ({len(expected_alerts)})")
