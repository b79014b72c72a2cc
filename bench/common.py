"""What the ingest benchmarks share: the project's broker, the worker as a process, publishers.

Everything runs for real: Mosquitto with the project's `mosquitto.conf` (rendered by
`broker.provision`, as `make demo` and the tests do), `python -m ingest` as a child process with
its own INGEST_CLIENT_ID, and meters that log in with their own accounts (the ACL lets a meter
publish only on its own topic, so each meter is one MQTT connection). A publisher process drives
its share of the meters from one thread over non-blocking sockets.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import re
import resource
import selectors
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import create_engine, make_url, text

from broker import provision
from core.config import Settings
from core.customers import register
from core.db import make_engine, make_sessionmaker, migrate
from core.wire import PAYLOAD, TOPIC_FILTER, VERSION, topic_for
from ingest.store import Message, store_batch

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
READING_EVERY_MS = 5_000
WINDOW = 20_000  # unacknowledged QoS 1 publishes per publisher process (paho's ids wrap at 65,535 per client)


# --- the machine -----------------------------------------------------------------------------

def machine() -> str:
    """CPU model, cores, load average, kernel."""
    model = platform.processor() or "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{model}, {os.cpu_count()} cores, load average {load}, {platform.system()} {platform.release()}"


def versions() -> str:
    """Python, SQLite, Mosquitto and paho versions."""
    first = subprocess.run([provision.executable("mosquitto"), "-h"], capture_output=True, text=True).stdout
    mosquitto = re.search(r"version (\S+)", first)
    return (f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"Mosquitto {mosquitto.group(1) if mosquitto else '?'}, paho-mqtt {paho.mqtt.__version__}")


def sqlite_value(path: Path, query: str) -> Any:
    """The first column of the first row a query answers on a SQLite file."""
    connection = sqlite3.connect(path)
    try:
        return connection.execute(query).fetchone()[0]
    finally:
        connection.close()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (utime + stime of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def raise_file_limit() -> None:
    """One descriptor per meter connection, in the publishers and in the broker they inherit it."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- the broker ------------------------------------------------------------------------------

class Broker:
    """The project's Mosquitto on a free port in a temporary folder, queue limits at least `queue`."""

    def __init__(self, data_dir: Path, meters: range, queue: int):
        self.port = free_port()
        self.data_dir = data_dir
        self.folder = Path(tempfile.mkdtemp(prefix="bench-broker-"))  # given to the broker's user by the set-up
        template = data_dir.parent / "mosquitto.conf"
        template.write_text(with_queue_limits((ROOT / "mosquitto.conf").read_text(), queue))
        self.setup = provision.setup(self.folder, self.port, data_dir, meters, template=template)
        self.process: subprocess.Popen | None = None

    def start(self) -> "Broker":
        """Start Mosquitto and wait until it accepts connections."""
        self.process = subprocess.Popen(self.setup.command(), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: _port_open(self.port), 10, "the broker to listen")
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def close(self) -> None:
        """Stop it and delete its folder."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        shutil.rmtree(self.folder, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """What a worker needs to log in."""
        return {"MQTT_HOST": "127.0.0.1", "MQTT_PORT": str(self.port), "ENERGY_DATA_DIR": str(self.data_dir)}


def with_queue_limits(config: str, queue: int) -> str:
    """The production config, its per-client queue limits raised to hold `queue` messages when needed."""
    def raised(match: re.Match[str], floor: int) -> str:
        return f"{match.group(1)} {max(int(match.group(2)), floor)}"
    config = re.sub(r"(?m)^(max_queued_messages) (\d+)", lambda m: raised(m, queue), config)
    return re.sub(r"(?m)^(max_queued_bytes) (\d+)", lambda m: raised(m, queue * 256), config)


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for(condition: Callable[[], object], timeout: float, what: str, every: float = 0.05) -> None:
    """Poll until `condition()` is true; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(every)


# --- the database ----------------------------------------------------------------------------

def fresh_database(url: str | None, folder: Path) -> tuple[str, Callable[[], None]]:
    """An empty database: a SQLite file in `folder`, or a new database on the PostgreSQL server of
    `url`; returns its URL and what drops it."""
    if not url or url.startswith("sqlite"):
        return f"sqlite:///{folder / 'bench.db'}", lambda: None
    parsed = make_url(url)
    name = f"energia_bench_{os.getpid()}"
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False), drop


def prepare_database(db_url: str, meters: range, history_ts: int | None) -> int:
    """Migrate, register a customer for every meter and, unless `history_ts` is None, store a
    reading of each at that instant through the worker's own store (the neighbourhood was
    reporting before the worker went offline: cycles and day checks are armed). Returns how
    many readings it stored."""
    engine = make_engine(db_url, immediate=True)
    migrate(engine)
    settings = Settings(db_url=db_url)
    now = int(time.time() * 1000)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        for meter in meters:
            register(session, meter, f"Cliente {meter}", f"Rua {meter}", settings, now)
    for first in range(0, len(meters) if history_ts is not None else 0, 1000):
        with sessions.begin() as session:
            store_batch(session, [Message(topic_for(meter), payload(meter, history_ts, -1), now)
                                  for meter in meters[first:first + 1000]], settings, now)
    engine.dispose()
    return 0 if history_ts is None else len(meters)


# --- the ingest worker -----------------------------------------------------------------------

class WorkerProcess:
    """`python -m ingest` as a child process, serving its metrics on a free port."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.metrics_port = free_port()
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith(("MQTT_", "ENERGY_", "INGEST_"))},
                    **env, "INGEST_METRICS_PORT": str(self.metrics_port)}
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> "WorkerProcess":
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "ingest"], cwd=ROOT, env=self.env,
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def metrics(self) -> dict[str, float]:
        """Its Prometheus samples without labels, by name; empty while it does not answer."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"the worker exited with {self.process.returncode}:\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as answer:
                body = answer.read().decode()
        except OSError:
            return {}
        samples = (line.split() for line in body.splitlines() if line and not line.startswith("#"))
        return {words[0]: float(words[1]) for words in samples if len(words) == 2 and "{" not in words[0]}

    def wait_subscribed(self, timeout: float = 30) -> None:
        wait_for(lambda: self.metrics().get("energy_ingest_subscribed") == 1, timeout, "the worker to subscribe")

    def stop(self, timeout: float = 10) -> float:
        """SIGTERM, and wait; returns how long it took to exit."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout)
        return time.monotonic() - started

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


# --- a bare subscriber -----------------------------------------------------------------------

def bare_client(port: int, username: str, password: str, client_id: str) -> mqtt.Client:
    """A paho client with the worker's session settings (MQTT v5, clean start off, a week's expiry)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    client.on_connect = lambda c, *_: c.subscribe(TOPIC_FILTER, qos=1)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 7 * 24 * 3600
    client.connect("127.0.0.1", port, keepalive=60, clean_start=False, properties=properties)
    return client


def bare_session(port: int, username: str, password: str, client_id: str) -> None:
    """Create the bare subscriber's persistent session and its subscription, then leave."""
    client = bare_client(port, username, password, client_id)
    subscribed = []
    client.on_subscribe = lambda *_: subscribed.append(True)
    while not subscribed:
        client.loop(0.1)
    client.disconnect()


def bare_drain(port: int, username: str, password: str, client_id: str, expected: int, result) -> None:
    """(child process) Receive and acknowledge `expected` messages; put (seconds, count) in `result`."""
    received = [0]

    def on_message(*_: object) -> None:
        received[0] += 1  # paho acknowledges a QoS 1 message when this returns
    started = time.perf_counter()
    client = bare_client(port, username, password, client_id)
    client.on_message = on_message
    while received[0] < expected:
        client.loop(1.0)
    elapsed = time.perf_counter() - started
    client.loop(0.1)  # the last acknowledgements leave
    client.disconnect()
    result.put((elapsed, received[0]))


# --- publishers ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """What one publisher process sends: its meters, `rounds` readings each, one round every
    `period_s` (0: as fast as the broker takes them), the first reading at `first_ts` ms and
    the next ones `step_ms` apart."""

    port: int
    data_dir: Path
    meters: list[int]
    rounds: int
    first_ts: int
    period_s: float = 0.0
    step_ms: int = READING_EVERY_MS


def payload(meter: int, ts: int, round_: int) -> bytes:
    """A valid 21-byte reading; the register climbs 1 to 3 Wh a step (under 2.2 kW)."""
    return PAYLOAD.pack(VERSION, meter, ts, 1_000_000 + 2 * round_ + (meter + round_) % 2)


def publish(plan: Plan, acknowledged, connected=None) -> None:
    """(child process) Publish the plan round by round, meters interleaved as a neighbourhood
    sends them; `acknowledged` (a shared counter) counts the broker's PUBACKs."""
    raise_file_limit()
    links = [_meter_client(plan.port, plan.data_dir, meter) for meter in plan.meters]
    selector = selectors.DefaultSelector()
    for client in links:
        selector.register(client.socket(), selectors.EVENT_READ, client)
    pending = [0]

    def on_publish(*_: object) -> None:
        pending[0] -= 1
        with acknowledged.get_lock():
            acknowledged.value += 1
    for client in links:
        client.on_publish = on_publish
    while not all(client.is_connected() for client in links):
        _pump(selector, links, 0.05)
    if connected is not None:
        with connected.get_lock():
            connected.value += 1
    started = time.monotonic()
    for round_ in range(plan.rounds):
        ts = plan.first_ts + round_ * plan.step_ms
        for index, (client, meter) in enumerate(zip(links, plan.meters)):
            if plan.period_s:
                due = started + plan.period_s * (round_ + index / len(links))
                while time.monotonic() < due:
                    _pump(selector, links, max(0.0, due - time.monotonic()))
            client.publish(f"meters/{meter}/reading", payload(meter, ts, round_), qos=1)
            pending[0] += 1
        while pending[0] > WINDOW:
            _pump(selector, links, 0.05)
        _pump(selector, links, 0)
    while pending[0] > 0:
        _pump(selector, links, 0.05)
    for client in links:
        client.disconnect()


def _meter_client(port: int, data_dir: Path, meter: int) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-meter-{meter}", protocol=mqtt.MQTTv311)
    client.username_pw_set(*provision.credentials(data_dir, meter))
    client.max_inflight_messages_set(0)  # no limit of paho's own: `publish` keeps within WINDOW
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port, keepalive=120)  # CONNACK comes later, through `_pump`
    return client


def _pump(selector: selectors.BaseSelector, links: list[mqtt.Client], timeout: float) -> None:
    """Read what the broker sent (PUBACKs) and write what is queued."""
    for key, _ in selector.select(timeout):
        if key.data.loop_read() != mqtt.MQTT_ERR_SUCCESS:  # reads every PUBACK waiting
            raise RuntimeError("a meter's connection failed")
    for client in links:
        if client.want_write():
            client.loop_write()


def start_publishers(plans: list[Plan], connected=None) -> tuple[list[multiprocessing.Process], object]:
    """One process per plan; returns them and the shared count of acknowledged publishes.
    `connected` (a shared counter) counts the publishers whose meters are all connected."""
    acknowledged = multiprocessing.Value("q", 0)
    processes = [multiprocessing.Process(target=publish, args=(plan, acknowledged, connected), daemon=True)
                 for plan in plans]
    for process in processes:
        process.start()
    return processes, acknowledged


def split(meters: range, parts: int) -> list[list[int]]:
    """Meters dealt round-robin into `parts` lists."""
    return [list(meters[index::parts]) for index in range(parts)]
