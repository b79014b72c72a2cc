"""The project's Mosquitto for tests: `broker.provision` set-up, a free port, real accounts."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from broker import provision
from tests.support.mqtt import ACCEPTED, MqttClient, connack
from tests.support.net import free_port, port_open
from tests.support.waiting import wait_until

log = logging.getLogger(__name__)

READY_LINE = " running"  # Mosquitto logs "mosquitto version X running" once it listens


def new_broker_folder() -> Path:
    """A fresh folder under /tmp that the broker's user can enter (the caller deletes it).

    Root starts Mosquitto, which then runs as `mosquitto`; pytest's tmp folders are 0700, so a
    set-up inside them would be unreadable to the broker. A folder of its own under /tmp is not.
    """
    return Path(tempfile.mkdtemp(prefix="energy-broker-"))


@contextlib.contextmanager
def broker_folder() -> Iterator[Path]:
    """`new_broker_folder()` for the duration of a `with` block."""
    directory = new_broker_folder()
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class BrokerExited(RuntimeError):
    """Mosquitto stopped on its own (bad config, port taken); the message holds its log."""


class RunningBroker:
    """A Mosquitto process with the project's config, on a free port, with generated accounts.

    Accounts: `ingest`, `watcher` and one per meter in `meters`. Their passwords are in the
    secrets of `data_dir` (default `workdir/data`), which is also the ENERGY_DATA_DIR that `env()`
    gives child processes, so an ingest worker or a meter started with that environment logs in
    by itself. `workdir` keeps the broker's log (`mosquitto.log`); its other files live apart.
    Persistence is on: `restart()` keeps sessions and queued messages, as in production.
    `setup_options` go to `broker.provision.setup` (tls=, guard=, reserved_ids=).
    """

    def __init__(self, workdir: Path, meters: Iterable[int] = range(1, 21), host: str = "127.0.0.1",
                 port: int | None = None, data_dir: Path | None = None, **setup_options: object):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir) if data_dir else self.workdir / "data"
        self.host = host
        self.port = port or free_port(host)
        self.directory = new_broker_folder()  # apart from workdir: see new_broker_folder
        try:
            self.setup = provision.setup(self.directory, self.port, self.data_dir, meters, host=host,
                                         **setup_options)  # type: ignore[arg-type]
        except BaseException:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise
        self.console_path = self.workdir / "mosquitto.log"  # stays with the test's tmp folder
        self._process: subprocess.Popen | None = None
        self._clients: list[MqttClient] = []

    # --- life cycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> "RunningBroker":
        """Start Mosquitto and wait until it accepts connections."""
        if self.running:
            return self
        offset = self.console_path.stat().st_size if self.console_path.exists() else 0
        with self.console_path.open("ab") as console:
            self._process = subprocess.Popen(
                self.setup.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=console, start_new_session=True,
            )
        wait_until(lambda: self._ready(offset), timeout, lambda: f"the broker to start\n{self.log_text()}")
        if self.setup.tls_port:
            wait_until(lambda: port_open(self.host, self.setup.tls_port), timeout, "the TLS listener")
        log.info("broker pid %s listens on %s:%s", self.pid, self.host, self.port)
        return self

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop cleanly (SIGTERM: Mosquitto saves its database) and wait; returns the exit code."""
        return self._end(signal.SIGTERM, timeout)

    def kill(self) -> int | None:
        """Stop abruptly (SIGKILL): nothing is saved since the last autosave."""
        return self._end(signal.SIGKILL, 10.0)

    def restart(self) -> "RunningBroker":
        """A clean restart on the same port and files, keeping persistent sessions."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Disconnect test clients, stop the broker and delete its folder (its log stays in workdir)."""
        for client in self._clients:
            client.close()
        self._clients.clear()
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "RunningBroker":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The broker's pid while it runs."""
        return self._process.pid if self.running else None

    # --- accounts -----------------------------------------------------------------------------

    def credentials(self, account: str | int) -> tuple[str, str]:
        """(username, password) of "ingest", "watcher" or a meter id."""
        return provision.credentials(self.data_dir, account)

    def env(self, **extra: object) -> dict[str, str]:
        """Environment variables for a child process that uses this broker (plus `extra`)."""
        env = {"MQTT_HOST": self.host, "MQTT_PORT": str(self.port), "ENERGY_DATA_DIR": str(self.data_dir)}
        env.update({name: str(value) for name, value in extra.items()})
        return env

    def add_meter(self, meter_id: int, timeout: float = 5.0) -> None:
        """Provision a meter; when the broker runs, reload it and wait until the meter can log in."""
        self.add_meters([meter_id], timeout)

    def add_meters(self, meter_ids: Iterable[int], timeout: float = 5.0) -> None:
        """Provision several meters at once (one hashing run, one reload)."""
        meter_ids = list(meter_ids)
        provision.add_meters(self.setup, meter_ids)
        if meter_ids and provision.reload(self.setup):
            wait_until(lambda: self.accepts(meter_ids[-1]), timeout, f"meter {meter_ids[-1]} to be accepted")

    def remove_meter(self, meter_id: int, timeout: float = 5.0) -> None:
        """Delete a meter's account; when the broker runs, reload it and wait until it is refused."""
        provision.remove_meters(self.setup, [meter_id])
        if provision.reload(self.setup):
            wait_until(lambda: not self.accepts(meter_id), timeout, f"meter {meter_id} to be refused")

    def accepts(self, account: str | int, **options: object) -> bool:
        """Whether the broker lets this account log in right now (with MqttClient `options`)."""
        return connack(self.host, self.port, *self.credentials(account), **options) == ACCEPTED

    def client(self, account: str | int | None, port: int | None = None, **options: object) -> MqttClient:
        """A connected MqttClient logged in as `account` (None: anonymous), on the plain listener
        or on `port`; closed by close()."""
        username, password = self.credentials(account) if account is not None else (None, None)
        client = MqttClient(self.host, port or self.port, username, password, **options)  # type: ignore[arg-type]
        self._clients.append(client)
        return client.connect()

    # --- diagnostics --------------------------------------------------------------------------

    def log_text(self) -> str:
        """Everything the broker logged in this test, across restarts."""
        return self.console_path.read_text(errors="replace") if self.console_path.exists() else ""

    def _ready(self, offset: int) -> bool:
        if self._process is None or self._process.poll() is not None:
            code = self._process.returncode if self._process else None
            raise BrokerExited(f"mosquitto exited with code {code}:\n{self.log_text()}")
        with self.console_path.open("rb") as console:
            console.seek(offset)
            started = READY_LINE.encode() in console.read()
        return started and port_open(self.host, self.port)

    def _end(self, sig: signal.Signals, timeout: float) -> int | None:
        if self._process is None:
            return None
        if self._process.poll() is None:
            os.kill(self._process.pid, sig)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("broker ignored %s for %s s; killing it", sig.name, timeout)
                self._process.kill()
                self._process.wait()
        return self._process.returncode
