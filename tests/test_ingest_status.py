"""The operator's side of the worker: /metrics, /healthz, `python -m ingest health|rejected|flagged`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from core.periods import to_ms
from core.wire import Reading, encode, topic_for
from ingest import status
from ingest.metrics import Metrics
from ingest.store import Message, Outcome, store_batch
from tests.support.net import free_port

T0 = to_ms(datetime(2024, 3, 1, tzinfo=timezone.utc))


def families(text: str) -> dict[str, dict]:
    """Parsed by Prometheus' own client: name -> {labels tuple: value}."""
    parsed = {}
    for family in text_string_to_metric_families(text):
        parsed[family.name] = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value for sample in family.samples
        }
    return parsed


def test_the_counters_are_valid_prometheus_text_with_labels_and_a_histogram():
    metrics = Metrics()
    metrics.record(Outcome(received=10, stored=7, duplicates=1, rejected=Counter(malformed=2)), 0.02, 1_000, 900)
    metrics.record(Outcome(received=3, stored=3, flagged=Counter(jump=1)), 3.0, 2_000, 1_500)
    metrics.update(broker_dropped=4)
    parsed = families(metrics.prometheus())
    assert parsed["energy_ingest_received"][("energy_ingest_received_total", ())] == 13
    assert parsed["energy_ingest_rejected"][("energy_ingest_rejected_total", (("reason", "malformed"),))] == 2
    assert parsed["energy_ingest_flagged"][("energy_ingest_flagged_total", (("kind", "jump"),))] == 1
    histogram = parsed["energy_ingest_batch_commit_seconds"]
    assert histogram[("energy_ingest_batch_commit_seconds_bucket", (("le", "0.025"),))] == 1
    assert histogram[("energy_ingest_batch_commit_seconds_bucket", (("le", "5.0"),))] == 2
    assert histogram[("energy_ingest_batch_commit_seconds_count", ())] == 2
    assert parsed["energy_ingest_batch_size_max"][("energy_ingest_batch_size_max", ())] == 10
    assert parsed["energy_ingest_wait_seconds"][("energy_ingest_wait_seconds", ())] == 0.5
    assert parsed["energy_broker_publish_dropped"][("energy_broker_publish_dropped", ())] == 4


def test_the_status_server_answers_metrics_and_health():
    report = {"status": "ok"}
    server = status.start("127.0.0.1", 0, Metrics(), lambda: dict(report))
    try:
        base = f"http://127.0.0.1:{server.port}"
        answer = requests.get(f"{base}/metrics", timeout=5)
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert "energy_ingest_stored_total 0" in answer.text
        assert requests.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
        report["status"] = "unhealthy"
        assert requests.get(f"{base}/healthz/", timeout=5).status_code == 503
        assert requests.get(f"{base}/other", timeout=5).status_code == 404
    finally:
        server.shutdown()
        server.server_close()


def test_a_taken_port_leaves_the_worker_without_a_status_server_but_running():
    server = status.start("127.0.0.1", 0, Metrics(), lambda: {"status": "ok"})
    try:
        assert status.start("127.0.0.1", server.port, Metrics(), lambda: {"status": "ok"}) is None
    finally:
        server.shutdown()
        server.server_close()


def health(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ingest", "health"], env=env, capture_output=True, text=True,
                          timeout=30)


@pytest.mark.slow
def test_python_m_ingest_health_follows_the_running_worker(broker, procs):
    port = free_port()
    env = broker.env(INGEST_METRICS_PORT=port)
    worker = procs(["ingest"], env, name="ingest")
    worker.wait_for_log("subscribed to meters/", timeout=20)
    healthy = health(env)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert json.loads(healthy.stdout)["connected"] is True
    broker.stop()
    worker.wait_for_log("disconnected from the broker", timeout=10)
    assert health(env).returncode == 1  # no broker: not healthy
    broker.start()
    worker.wait_for_log("session present: True", timeout=20)
    assert health(env).returncode == 0
    worker.stop(signal.SIGTERM)
    stopped = health(env)
    assert stopped.returncode == 1 and "no answer" in stopped.stdout
    unset = health(broker.env())
    assert unset.returncode == 1 and "INGEST_METRICS_PORT" in unset.stderr


def run_cli(settings, *args: str) -> str:
    env = {"ENERGY_DATA_DIR": str(settings.data_dir), "ENERGY_DB_URL": settings.db_url, "ENERGY_TIMEZONE": "UTC"}
    result = subprocess.run([sys.executable, "-m", "ingest", *args], env=env, capture_output=True, text=True,
                            timeout=30, check=True)
    return result.stdout


def test_flagged_and_rejected_list_what_the_worker_set_aside(db, settings):
    messages = [Message(topic_for(7), encode(Reading(7, ts, wh)), T0 + 60_000)
                for ts, wh in ((T0, 0), (T0 + 5_000, 100_000), (T0 + 10_000, 100_010))]
    messages.append(Message(topic_for(8), b"garbage", T0 + 60_000))
    with db.begin() as session:
        store_batch(session, messages, settings, T0 + 60_000)
    flagged = [json.loads(line) for line in run_cli(settings, "flagged", "--json").splitlines()]
    assert [(f["medidor"], f["tipo"], f["ts"], f["potencia_kw"], f["consumo_contado_kwh"]) for f in flagged] == [
        (7, "jump", "2024-03-01T00:00:05+00:00", 72000.0, 100.0)]
    assert "meter 7      jump" in run_cli(settings, "flagged", "--meter", "7")
    assert run_cli(settings, "flagged", "--kind", "reset") == ""
    assert run_cli(settings, "rejected", "--json", "--meter", "7") == ""
    rejected = [json.loads(line) for line in run_cli(settings, "rejected", "--json", "--meter", "8").splitlines()]
    assert [(r["motivo"], r["topico"], r["medidor"], r["payload_hex"]) for r in rejected] == [
        ("malformed", "meters/8/reading", 8, b"garbage".hex())]  # the topic names the meter
