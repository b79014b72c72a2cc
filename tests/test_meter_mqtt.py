"""Meters against a real Mosquitto: what a subscriber sees, restarts, broker outages, a neighbourhood.

Each test starts its own broker (anonymous, on a free port, in a temporary folder) rather than
the project's broker fixtures, so that this file depends on nothing but Mosquitto itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

from core.wire import TOPIC_FILTER, Reading, decode

ROOT = Path(__file__).resolve().parents[1]
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"

pytestmark = pytest.mark.skipif(not Path(MOSQUITTO).exists(), reason="mosquitto is not installed")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout: float, what: str, step: float = 0.02):
    """Poll `condition` until it returns something true; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Broker:
    """A private Mosquitto with persistence, so a durable subscriber misses nothing across its restart."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {folder}/\n"
            "user root\n"  # only applies when run as root: keep access to this private folder
            "log_dest stderr\n"
        )

    def start(self) -> None:
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=open(self.folder / "mosquitto.log", "ab"))
        wait_for(self._accepting, 5, f"mosquitto on port {self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=5)

    def _accepting(self) -> bool:
        assert self.process.poll() is None, (self.folder / "mosquitto.log").read_text()
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False


class Subscriber:
    """Collects every reading on meters/+/reading, decoded with the wire codec, per meter id."""

    def __init__(self, port: int, client_id: str):
        self.readings: dict[int, list[Reading]] = defaultdict(list)
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda client, *_: client.subscribe(TOPIC_FILTER, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 1)
        session = Properties(PacketTypes.CONNECT)
        session.SessionExpiryInterval = 300  # keep our queue while the broker restarts
        self.client.connect("127.0.0.1", port, clean_start=False, properties=session)
        self.client.loop_start()
        assert self.subscribed.wait(5), "subscriber never got its SUBACK"

    def _on_message(self, client, userdata, message) -> None:
        reading = decode(message.topic, message.payload)
        with self.lock:
            self.readings[reading.meter_id].append(reading)

    def of(self, meter_id: int) -> list[Reading]:
        with self.lock:
            return list(self.readings[meter_id])

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def start_meter(args: list[str], port: int, data_dir: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MQTT_", "ENERGY_"))}
    env.update(MQTT_HOST="127.0.0.1", MQTT_PORT=str(port), ENERGY_DATA_DIR=str(data_dir))
    return subprocess.Popen([sys.executable, "-m", "meter", *args], env=env, cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def terminate(process: subprocess.Popen) -> str:
    """SIGTERM, which must end the meter cleanly within 2 s; its log."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        _, log = process.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, log
    assert time.monotonic() - started < 2, log
    return log


def assert_steady(readings: list[Reading]) -> None:
    """Timestamps strictly increase and the register never goes down."""
    assert all(b.ts_ms > a.ts_ms for a, b in zip(readings, readings[1:])), readings
    assert all(b.wh >= a.wh for a, b in zip(readings, readings[1:])), readings


def read_state(data_dir: Path, meter_id: int) -> dict:
    return json.loads((data_dir / "meters" / f"{meter_id}.json").read_text())


@pytest.fixture
def anonymous_broker(tmp_path):
    """A broker of this file's own (the shared `broker` fixture adds accounts and ACLs)."""
    broker = Broker(tmp_path / "broker")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def subscriber(anonymous_broker):
    subscriber = Subscriber(anonymous_broker.port, f"test-watcher-{anonymous_broker.port}")
    yield subscriber
    subscriber.close()


def test_a_meter_publishes_steady_readings_and_continues_after_a_restart(anonymous_broker, subscriber, tmp_path):
    data = tmp_path / "data"
    ten_days_ago = int(time.time() * 1000) - 10 * 86_400_000
    (data / "meters").mkdir(parents=True)
    (data / "meters" / "7.json").write_text(json.dumps({"ts_ms": ten_days_ago, "wh": 123_456, "remainder": 0.5}))

    meter = start_meter(["--id", "7", "--interval", "0.2"], anonymous_broker.port, data)
    first_run = wait_for(lambda: len(subscriber.of(7)) >= 8 and subscriber.of(7), 10, "8 readings of meter 7")
    log = terminate(meter)
    assert "meter 7 publishing to 127.0.0.1" in log and "connected" in log

    state = read_state(data, 7)
    first_run = wait_for(lambda: [r for r in subscriber.of(7) if r.ts_ms == state["ts_ms"]] and subscriber.of(7),
                         2, "the last reading before SIGTERM")
    assert all(reading.meter_id == 7 for reading in first_run)
    assert_steady(first_run)
    assert first_run[0].wh == 123_456  # the ten days it was off are not invented
    assert (first_run[-1].ts_ms, first_run[-1].wh) == (state["ts_ms"], state["wh"])
    watts = (state["wh"] + state["remainder"] - 123_456.5) * 3_600_000 / (state["ts_ms"] - first_run[0].ts_ms)
    assert 20 < watts < 15_000, f"implausible mean power {watts:.0f} W"

    meter = start_meter(["--id", "7", "--interval", "0.2"], anonymous_broker.port, data)
    wait_for(lambda: len(subscriber.of(7)) >= len(first_run) + 3, 10, "readings after the restart")
    terminate(meter)
    second_run = subscriber.of(7)[len(first_run):]
    assert second_run[0].wh == state["wh"]  # continues exactly where it stopped
    assert second_run[0].ts_ms > state["ts_ms"]
    assert_steady(subscriber.of(7))


def test_a_meter_rides_out_a_broker_restart_without_losing_readings(anonymous_broker, subscriber, tmp_path):
    data = tmp_path / "data"
    meter = start_meter(["--id", "8", "--interval", "0.2"], anonymous_broker.port, data)
    try:
        wait_for(lambda: len(subscriber.of(8)) >= 3, 10, "readings before the outage")
        anonymous_broker.stop()
        outage_started = time.time() * 1000
        time.sleep(1.0)
        outage_ended = time.time() * 1000
        anonymous_broker.start()
        wait_for(lambda: subscriber.of(8) and subscriber.of(8)[-1].ts_ms > outage_ended + 400, 15,
                 "readings after the broker came back")
    finally:
        log = terminate(meter)
    readings = subscriber.of(8)
    assert_steady(readings)
    during = [r for r in readings if outage_started + 300 < r.ts_ms < outage_ended - 300]
    assert len(during) >= 2, "readings taken while the broker was down were not delivered later"
    gaps = [b.ts_ms - a.ts_ms for a, b in zip(readings, readings[1:])]
    assert max(gaps) < 1000, f"readings were lost: gaps {gaps}"
    assert "disconnected" in log and log.count("connected to") >= 2


def test_a_neighbourhood_runs_many_meters_in_one_process(anonymous_broker, subscriber, tmp_path):
    data = tmp_path / "data"
    ids = range(100, 105)
    street = start_meter(["neighbourhood", "--meters", "5", "--first-id", "100", "--interval", "0.3", "--json"],
                         anonymous_broker.port, data)
    wait_for(lambda: all(len(subscriber.of(i)) >= 5 for i in ids), 10, "5 readings from each of 5 meters")
    log = terminate(street)
    assert "neighbourhood of 5 meters (ids 100-104)" in log
    for meter_id in ids:
        readings = subscriber.of(meter_id)
        assert {r.meter_id for r in readings} == {meter_id}
        assert_steady(readings)
        assert read_state(data, meter_id)["ts_ms"] == readings[-1].ts_ms
    assert set(subscriber.readings) == set(ids)
    first = sorted(subscriber.of(i)[0].ts_ms for i in ids)
    assert first[-1] - first[0] >= 150, f"meters did not start staggered: {first}"


STEP_MS = 5 * 60_000


def test_a_history_is_replayed_then_goes_live_and_a_restart_never_goes_back(anonymous_broker, subscriber, tmp_path):
    data = tmp_path / "data"
    args = ["--id", "31", "--since", "3h", "--history-step", "5m", "--speed", "3600", "--interval", "0.2"]
    started_ms = time.time() * 1000
    meter = start_meter(args, anonymous_broker.port, data)
    wait_for(lambda: len(subscriber.of(31)) >= 10, 10, "the first history readings")
    terminate(meter)  # in the middle of the replay: 3 h at 3600x takes 3 s
    stopped_at = read_state(data, 31)
    assert stopped_at["ts_ms"] < started_ms - 30 * 60_000, "the replay should have been stopped half way"

    meter = start_meter(args, anonymous_broker.port, data)
    wait_for(lambda: len([r for r in subscriber.of(31) if r.ts_ms % STEP_MS]) >= 3, 15, "live readings after the replay")
    log = terminate(meter)
    assert "history replayed" in log

    readings = subscriber.of(31)
    assert_steady(readings)  # across the restart too: no time twice, no register going back
    going_live = next(index for index, r in enumerate(readings) if r.ts_ms % STEP_MS)
    history, live = readings[:going_live], readings[going_live:]
    first = history[0].ts_ms
    assert started_ms - 3 * 3600_000 <= first < started_ms - 3 * 3600_000 + STEP_MS
    assert [r.ts_ms for r in history] == list(range(first, history[-1].ts_ms + 1, STEP_MS)), "a step is missing"
    assert history[-1].ts_ms > started_ms - STEP_MS - 1000  # the history reaches the present
    gaps = [b.ts_ms - a.ts_ms for a, b in zip(live, live[1:])]
    assert len(live) >= 3 and max(gaps) < 1000  # every 0.2 s once live
