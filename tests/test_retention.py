"""Retention: raw readings past `raw_days` thin to each quarter hour's first and last, and every
figure a customer sees (bills, days, hours, charts, the total, the estimate marks) stays the same."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from api import create_app
from core import retention, rollups
from core.models import MeterState, Reading, ReadingInterval
from core.periods import to_ms
from ingest.worker import PRUNE_SLICE_EVERY_S, Worker
from tests.support.seeding import register_customer, store_readings

ADMIN = "operator-token-for-retention"
ZONE = ZoneInfo("America/Sao_Paulo")
START = to_ms(datetime(2024, 3, 8, 18, tzinfo=ZONE))
END = to_ms(datetime(2024, 3, 11, 12, tzinfo=ZONE))
S, DAY = 1000, 86_400_000
NOW = END + 2 * DAY - 7 * 3600 * S  # raw_days = 2: the raw readings before 03-11 05:00 thin


def household() -> list[tuple[int, int]]:
    """Every 5 s (a little jitter), a 40-minute silence across 03-09 01:00 and a reset on 03-10."""
    rng, wh, found = random.Random(9), 812_000, []
    silence = (to_ms(datetime(2024, 3, 9, 0, 40, tzinfo=ZONE)), to_ms(datetime(2024, 3, 9, 1, 20, tzinfo=ZONE)))
    reset = to_ms(datetime(2024, 3, 10, 15, 2, tzinfo=ZONE))
    for ts in range(START, END, 5 * S):
        if silence[0] <= ts < silence[1]:
            continue
        wh = rng.randint(0, 9) if reset <= ts < reset + 5 * S else wh + rng.choice((0, 1, 1, 2, 3, 9))
        found.append((ts + rng.randint(0, 400), wh))
    return found


@pytest.fixture
def site(tmp_path, backend):
    data = tmp_path / "data"
    settings = backend.settings(data, ENERGY_ADMIN_TOKEN=ADMIN).with_overrides(raw_days=2)
    register_customer(settings, 7, "Ana Souza", "Rua A, 7", START - DAY)
    store_readings(settings, 7, household(), END)
    app = create_app(settings)
    yield app, settings
    app.extensions["energia"].database.dispose()


def get(app, path, **query):
    answer = app.test_client().get(path, query_string={"id": 7, **query}, headers={"Authorization": f"Bearer {ADMIN}"})
    assert answer.status_code == 200, answer.json
    return answer.json


def figures(app) -> dict:
    """Everything the customer sees that retention must leave alone."""
    days = ("2024-03-08", "2024-03-09", "2024-03-10", "2024-03-11")
    hours = {day: get(app, "/usuario/consumo/horas/", data=day) for day in days}
    return {
        "total": get(app, "/usuario/")["consumo_total_kwh"],
        "bill": get(app, "/usuario/fatura/", mes="03", ano="2024"),
        "days": {day: get(app, "/usuario/consumo/data/", data=day)["consumo_kwh"] for day in days},
        "hours": {day: {key: value for key, value in document.items() if key != "data"} for day, document in hours.items()},
        "series": [get(app, "/usuario/consumo/serie/", escala=scale, inicio="2024-03-08", fim="2024-03-11")["intervalos"]
                   for scale in ("hora", "dia")],
    }


def counts(app) -> tuple[int, int, int]:
    """Raw rows stored, the readings the rollup says arrived, and the customer's `total_leituras`."""
    database = app.extensions["energia"].database
    with database.reader() as session:
        rows = session.scalar(select(func.count()).select_from(Reading))
        received = session.scalar(select(func.sum(ReadingInterval.readings)))
    return rows, received, get(app, "/usuario/")["total_leituras"]


def test_thinning_changes_no_figure_and_the_counts_say_what_happened(site):
    app, settings = site
    before, (rows, received, listed) = figures(app), counts(app)
    assert rows == received == listed == len(household())
    assert any(hour["estimado"] for hour in before["hours"]["2024-03-09"]["horas"])
    assert before["bill"]["status"] == "fechada"

    done = retention.prune(app.extensions["energia"].database.writer, NOW, settings.raw_days, max_rows=5_000)

    assert done.removed > 0.95 * 2.45 * 720 * 24  # 2.46 days of 5-s readings, but each bucket's two ends
    assert figures(app) == before
    rows_after, received_after, listed_after = counts(app)
    assert (rows_after, received_after, listed_after) == (rows - done.removed, received, rows - done.removed)
    customer = get(app, "/usuario/")
    assert customer["leituras_resumidas"] == done.removed
    day = get(app, "/usuario/consumo/data/", data="2024-03-09", limite=5000)
    assert day["total_leituras"] == len(day["leituras"]) <= 2 * 96  # what is listed is what is kept
    assert sum(hour["leituras"] for hour in get(app, "/usuario/consumo/horas/", data="2024-03-09")["horas"]) > 16_000


def test_a_day_listed_over_pages_counts_what_thinning_kept(site):
    app, settings = site
    retention.prune(app.extensions["energia"].database.writer, NOW, settings.raw_days)
    for day in ("2024-03-09", "2024-03-11"):  # thinned; thinned until the cutoff at 05:00
        whole = get(app, "/usuario/consumo/data/", data=day, limite=10_000)
        first = get(app, "/usuario/consumo/data/", data=day, limite=10)
        assert first["total_leituras"] == whole["total_leituras"] == len(whole["leituras"])
        assert first["proxima"] is not None and whole["proxima"] is None


def test_a_second_pass_finds_nothing_and_recent_readings_stay(site):
    app, settings = site
    sessions = app.extensions["energia"].database.writer
    first = retention.prune(sessions, NOW, settings.raw_days)
    again = retention.prune(sessions, NOW, settings.raw_days)
    assert first.removed > 0 and again.removed == 0
    cutoff = retention.cutoff(NOW, settings.raw_days)
    with sessions() as session:
        recent = session.scalar(select(func.count()).select_from(Reading).where(Reading.ts >= cutoff))
        older = session.execute(select(Reading.ts).where(Reading.ts < cutoff)).scalars().all()
        state = session.get(MeterState, 7)
    assert recent == sum(1 for ts, _ in household() if ts >= cutoff) > 6 * 720
    per_bucket = {}
    for ts in older:
        per_bucket[rollups.bucket_of(ts)] = per_bucket.get(rollups.bucket_of(ts), 0) + 1
    assert max(per_bucket.values()) == 2
    assert state.pruned_to == cutoff and state.pruned_readings == first.removed


def test_a_slice_is_a_short_transaction(site):
    app, settings = site
    cutoff = retention.cutoff(NOW, settings.raw_days)
    with app.extensions["energia"].database.writer.begin() as session:
        first = retention.prune_slice(session, cutoff, max_rows=3_000)
    assert 3_000 <= first.removed < 3_000 + retention.SLICE_ROWS and not first.done


def test_raw_days_zero_keeps_everything():
    assert retention.cutoff(NOW, 0) is None
    assert rollups.on_grid(retention.cutoff(NOW + 123_456, 90))


def test_the_worker_thins_between_batches_until_done(site):
    app, settings = site
    worker = Worker(settings.with_overrides(raw_days=1), app.extensions["energia"].database.writer)
    waits = []
    while not waits or waits[-1] == PRUNE_SLICE_EVERY_S:
        waits.append(worker._prune_slice())
    assert len(waits) > 2 and waits[-1] == settings.prune_every_s
    assert worker.metrics.snapshot()["pruned"] == counts(app)[1] - counts(app)[0]


def test_the_prune_command_thins_a_database(tmp_path, backend):
    data = tmp_path / "data"
    settings = backend.settings(data)
    readings = [(ts, wh) for ts, wh in household() if ts < START + 6 * 3600 * S]
    store_readings(settings, 7, readings, END)
    env = {**os.environ, **backend.env(data)}
    done = subprocess.run([sys.executable, "-m", "ingest", "prune"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    removed = int(done.stdout.split()[1])
    assert removed == len(readings) - 2 * len({rollups.bucket_of(ts) for ts, _ in readings})
    assert "older than 90 days" in done.stdout
