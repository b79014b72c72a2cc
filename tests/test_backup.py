"""`python -m ingest backup FILE` while the worker stores a stream: a consistent, restorable copy."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import threading

import pytest

from api import create_app
from core.config import Settings
from core.periods import now_ms
from core.wire import Reading, encode, topic_for
from tests.support.procs import child_env
from tests.support.seeding import register_customer
from tests.support.waiting import wait_until

ADMIN = "operator-token-for-backups"


def publish_stream(broker, meters, stop: threading.Event, sent: list[int]) -> None:
    """Each meter sends a reading every few milliseconds until `stop` (timestamps in the past)."""
    clients = {meter: broker.client(meter) for meter in meters}
    start, step = now_ms() - 86_400_000, 0
    while not stop.is_set():
        step += 1
        for meter, client in clients.items():
            client.publish(topic_for(meter), encode(Reading(meter, start + step * 1_000, 1_000 + step * 3)))
        sent[0] = step * len(clients)
    for client in clients.values():
        client.close()


def stored(database) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT count(*) FROM readings").fetchone()[0]


@pytest.mark.sqlite(reason="the backup command copies a SQLite file (PostgreSQL has pg_dump)")
def test_a_backup_taken_while_readings_flow_is_consistent_and_restores(broker, procs, settings, tmp_path):
    for meter in (1, 2, 3):
        register_customer(settings, meter, f"Cliente {meter}", "Rua B", now_ms() - 2 * 86_400_000)
    ingest = procs(["ingest"], broker.env(), name="ingest")
    ingest.wait_for_log("subscribed to meters/", timeout=15)
    database = settings.data_dir / "energy.db"
    stop, sent = threading.Event(), [0]
    publisher = threading.Thread(target=publish_stream, args=(broker, (1, 2, 3), stop, sent))
    publisher.start()
    try:
        wait_until(lambda: stored(database) > 1_500, timeout=30, message="the worker storing readings")
        target = tmp_path / "copies" / "energy-backup.db"
        done = subprocess.run([sys.executable, "-m", "ingest", "backup", str(target)], env=child_env(broker.env()),
                              capture_output=True, text=True, timeout=60)
        during = stored(database)
    finally:
        stop.set()
        publisher.join()
    assert done.returncode == 0, done.stderr
    assert "backup of" in done.stdout and target.exists() and not target.with_name(target.name + ".partial").exists()
    wait_until(lambda: stored(database) == sent[0], timeout=30, message="every reading stored")
    assert ingest.alive

    with sqlite3.connect(target) as copy:
        (rows,) = copy.execute("SELECT count(*) FROM readings").fetchone()
        (counted,) = copy.execute("SELECT sum(readings) FROM meter_state").fetchone()
        (rolled,) = copy.execute("SELECT sum(readings) FROM reading_intervals").fetchone()
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert 1_500 < rows <= during < sent[0]
    assert rows == counted == rolled  # one snapshot: the readings and their counters agree

    again = subprocess.run([sys.executable, "-m", "ingest", "backup", str(target)], env=child_env(broker.env()),
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "exists" in again.stdout

    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copy(target, restored / "energy.db")  # the README's restore: the copy becomes the database file
    app = create_app(Settings.from_env({"ENERGY_DATA_DIR": str(restored), "ENERGY_ADMIN_TOKEN": ADMIN}))
    try:
        answers = [app.test_client().get("/usuario/", query_string={"id": meter}, headers={"Authorization": f"Bearer {ADMIN}"})
                   for meter in (1, 2, 3)]
    finally:
        app.extensions["energia"].database.dispose()
    assert all(answer.status_code == 200 for answer in answers)
    assert sum(answer.json["total_leituras"] for answer in answers) == rows


def test_backup_refuses_a_database_that_is_not_a_file(tmp_path):
    env = child_env({"ENERGY_DATA_DIR": str(tmp_path), "ENERGY_DB_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"})
    done = subprocess.run([sys.executable, "-m", "ingest", "backup", str(tmp_path / "x.db")], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "pg_dump" in done.stdout
    assert not (tmp_path / "x.db").exists()
