"""The broker set-up against a real Mosquitto: who may log in, publish and read (SPEC §7)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from broker import provision
from broker.acl import METER_PATTERN
from core.wire import Reading, encode, topic_for
from tests.support.broker import RunningBroker, broker_folder
from tests.support.mqtt import ACCEPTED, NOT_AUTHORIZED, connack
from tests.support.net import free_port, wait_for_port
from tests.support.waiting import wait_until

ROOT_CONFIG = Path(__file__).resolve().parent.parent / "mosquitto.conf"
NOW_MS = 1_700_000_000_000


def reading(meter_id: int, n: int = 0) -> bytes:
    """The wire payload of a meter's n-th reading."""
    return encode(Reading(meter_id, NOW_MS + 5_000 * n, 1_000 + n))


def directives(config: str) -> set[str]:
    """The setting lines of a mosquitto.conf, white space normalised, comments dropped."""
    lines = (" ".join(line.split()) for line in config.splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def broker_cli(*args: str | Path) -> str:
    """Run `python -m broker ...` and return its output."""
    done = subprocess.run([sys.executable, "-m", "broker", *map(str, args)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


# --- logging in -------------------------------------------------------------------------------

def test_anonymous_client_is_refused(broker: RunningBroker) -> None:
    assert connack(broker.host, broker.port) == NOT_AUTHORIZED


def test_wrong_or_unknown_credentials_are_refused(broker: RunningBroker) -> None:
    _, meter_7_password = broker.credentials(7)
    assert connack(broker.host, broker.port, "7", "not-the-password") != ACCEPTED
    assert connack(broker.host, broker.port, "ingest", meter_7_password) != ACCEPTED
    assert connack(broker.host, broker.port, "21", meter_7_password) != ACCEPTED  # not provisioned
    assert connack(broker.host, broker.port, *broker.credentials(7)) == ACCEPTED


# --- what each account may do -----------------------------------------------------------------

def test_meter_publishes_only_on_its_own_topic(broker: RunningBroker) -> None:
    watcher = broker.client("watcher")
    watcher.subscribe("meters/#")
    meter = broker.client(7)

    assert meter.publish(topic_for(8), reading(7)) == NOT_AUTHORIZED
    assert meter.publish(topic_for(7), reading(7)) == ACCEPTED

    # Messages of one client arrive in order: once the second is in, the first would be too.
    received = watcher.wait_for_messages(1)
    assert [(m.topic, m.payload) for m in received] == [(topic_for(7), reading(7))]


def test_meter_reads_nothing(broker: RunningBroker) -> None:
    meter = broker.client(7)
    meter.subscribe("meters/#")
    meter.subscribe("alerts/#")
    watcher = broker.client("watcher")
    watcher.subscribe("meters/+/reading")

    assert broker.client(8).publish(topic_for(8), reading(8)) == ACCEPTED
    assert broker.client("ingest").publish("alerts/7", b'{"tipo": "excesso"}') == ACCEPTED
    watcher.wait_for_messages(1)
    # A round trip on the meter's own connection: anything sent to it before has arrived by now.
    assert meter.publish(topic_for(7), reading(7)) == ACCEPTED
    assert meter.messages == []


def test_ingest_reads_readings_and_publishes_alerts(broker: RunningBroker) -> None:
    ingest = broker.client("ingest")
    ingest.subscribe("meters/+/reading")
    watcher = broker.client("watcher")
    watcher.subscribe("alerts/+")

    assert broker.client(7).publish(topic_for(7), reading(7)) == ACCEPTED
    assert ingest.wait_for_messages(1)[0].payload == reading(7)

    alert = json.dumps({"tipo": "excesso", "id": 7}).encode()
    assert ingest.publish("alerts/7", alert) == ACCEPTED
    assert ingest.publish(topic_for(7), reading(7, 1)) == NOT_AUTHORIZED  # it cannot forge readings
    assert [(m.topic, m.payload) for m in watcher.wait_for_messages(1)] == [("alerts/7", alert)]


def test_workers_share_readings_through_a_shared_subscription(broker: RunningBroker) -> None:
    workers = [broker.client("ingest", client_id=f"worker-{n}") for n in (1, 2)]
    for worker in workers:
        worker.subscribe("$share/ingest/meters/+/reading")

    meter = broker.client(7)
    assert meter.publish_many([(topic_for(7), reading(7, n)) for n in range(20)]) == [ACCEPTED] * 20

    wait_until(lambda: sum(len(w.messages) for w in workers) >= 20, 5, "20 readings between the workers")
    payloads = [m.payload for w in workers for m in w.messages]
    assert sorted(payloads) == sorted(reading(7, n) for n in range(20))


def test_watcher_cannot_publish(broker: RunningBroker) -> None:
    ingest = broker.client("ingest")
    ingest.subscribe("meters/+/reading")
    watcher = broker.client("watcher")

    assert watcher.publish(topic_for(7), reading(7)) == NOT_AUTHORIZED
    assert watcher.publish("alerts/7", b"{}") == NOT_AUTHORIZED
    # Published after the refusals were acknowledged, so it is forwarded after them.
    assert broker.client(7).publish(topic_for(7), reading(7, 1)) == ACCEPTED
    assert [m.payload for m in ingest.wait_for_messages(1)] == [reading(7, 1)]


# --- provisioning while the broker runs -------------------------------------------------------

def test_meters_are_added_and_removed_without_a_restart(broker: RunningBroker) -> None:
    pid = broker.pid
    watcher = broker.client("watcher")
    assert not broker.accepts(21)
    where = ("--dir", broker.setup.directory, "--data-dir", broker.data_dir)

    broker_cli("add-meter", "21", *where)
    wait_until(lambda: broker.accepts(21), 5, "meter 21 to be accepted")
    broker_cli("remove-meter", "21", *where)
    wait_until(lambda: not broker.accepts(21), 5, "meter 21 to be refused")

    assert broker.pid == pid
    assert not watcher.disconnected.is_set()  # connected clients were never dropped
    assert broker.accepts(20)


def test_a_thousand_meters_are_provisioned_in_seconds(broker: RunningBroker) -> None:
    started = time.monotonic()
    broker_cli("add-meters", "--first", "1001", "--count", "1000",
               "--dir", broker.setup.directory, "--data-dir", broker.data_dir)
    assert time.monotonic() - started < 5
    wait_until(lambda: broker.accepts(2000), 5, "meter 2000 to be accepted")
    assert broker.accepts(1001)
    assert len(provision.meters(broker.setup)) == 1020


# --- persistence ------------------------------------------------------------------------------

def test_restart_keeps_the_queued_messages_of_a_persistent_session(broker: RunningBroker) -> None:
    session = {"client_id": "test-ingest", "clean_start": False, "session_expiry": 3600}
    with broker.client("ingest", **session) as worker:
        worker.subscribe("meters/+/reading", qos=1)

    sent = [(topic_for(7), reading(7, n)) for n in range(2000)]
    assert set(broker.client(7).publish_many(sent)) == {ACCEPTED}  # more than Mosquitto's default queue
    broker.restart()

    worker = broker.client("ingest", **session)
    assert worker.session_present
    received = worker.wait_for_messages(2000, timeout=20)
    assert sorted(m.payload for m in received) == sorted(payload for _, payload in sent)


# --- configuration ----------------------------------------------------------------------------

def test_rendered_config_keeps_the_required_settings(broker: RunningBroker) -> None:
    rendered = directives(broker.setup.config_path.read_text())
    assert {"allow_anonymous false", "persistence true"} <= rendered
    assert f"password_file {broker.setup.password_path}" in rendered
    assert f"acl_file {broker.setup.acl_path}" in rendered
    assert f"listener {broker.port} {broker.host}" in rendered
    path_settings = ("listener", "password_file", "acl_file", "persistence_location", "log_dest file", "pid_file")
    kept = {line for line in directives(ROOT_CONFIG.read_text()) if not line.startswith(path_settings)}
    assert kept <= rendered


def test_production_config_holds_an_hour_long_outage_of_the_worker() -> None:
    settings = dict(line.split(" ", 1) for line in directives(ROOT_CONFIG.read_text()) if " " in line)
    assert settings["allow_anonymous"] == "false"
    assert settings["persistence"] == "true"
    assert settings["password_file"].startswith("/mosquitto/config/")
    assert settings["acl_file"].startswith("/mosquitto/config/")
    assert int(settings["max_queued_messages"]) >= 1000 * 3600 // 5
    assert int(settings["max_inflight_messages"]) == 1000


def test_acl_lets_each_meter_write_only_its_own_topic(broker: RunningBroker) -> None:
    assert METER_PATTERN == "pattern write meters/%u/reading"
    assert METER_PATTERN in broker.setup.acl_path.read_text().splitlines()


def test_cli_sets_up_and_runs_a_broker(tmp_path: Path, procs) -> None:
    port, data_dir = free_port(), tmp_path / "data"
    with broker_folder() as directory:
        broker_cli("setup", "--dir", directory, "--data-dir", data_dir, "--port", port, "--meters", "1-3")
        running = procs(["broker", "run", "--dir", directory, "--data-dir", data_dir])
        wait_for_port("127.0.0.1", port)

        assert connack("127.0.0.1", port, *provision.credentials(data_dir, 3)) == ACCEPTED
        assert connack("127.0.0.1", port, *provision.credentials(data_dir, 4)) != ACCEPTED
        broker_cli("add-meter", "4", "--dir", directory, "--data-dir", data_dir)  # SIGHUP via the pid file
        wait_until(lambda: connack("127.0.0.1", port, *provision.credentials(data_dir, 4)) == ACCEPTED,
                   5, "meter 4 to be accepted")
        assert running.stop() == 0
