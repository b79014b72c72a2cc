"""`python -m demo` (`make demo`): the whole neighbourhood on this machine; Ctrl-C stops it all.

Mosquitto with the project's config, the ingest worker, the API and a neighbourhood of simulated
meters, each a child process logging to data/logs/. The meters first replay 95 days of history
(three closed bills per customer within a minute or two), meter 1 with a water heater stuck on
for two days up to now, then go live. Prints the dashboard URL, the tokens and ready commands,
then a one-line summary every 10 s.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from broker import provision
from broker.provision import ProvisionError
from core.config import Settings, default_db_url
from core.credentials import INGEST_USER, WATCHER_USER
from core.db import make_engine
from core.tokens import admin_token
from demo.banner import banner
from demo.children import ChildExited, Children
from demo.customers import ApiError, register_customers, set_alert_thresholds, wait_for_api
from demo.summary import Listener, Summary

log = logging.getLogger("demo")

HOST = "127.0.0.1"
MQTT_PORT = 1883
API_PORT = 8000
METRICS_PORT = 9464  # the worker's /metrics and /healthz (Prometheus' usual exporter range)
STARTUP_TIMEOUT_S = 60
SUMMARY_EVERY_S = 10
HISTORY = "95d"  # three closing days fall in any 95 days, so three bills close whatever today's date
# 9.5 kW from 36 h ago for two days: 340 kWh more in the open cycle raise `excesso`, and the
# sustained power raises the power-limit alert (`potencia`) wherever that rule exists.
STUCK_HEATER = "1:stuck-heater@-36h,for=48h"  # in the history: its alerts are there at once
# A heater that gets stuck live, so whoever watches alerts/+ as the banner says sees a `potencia`
# alert arrive: customer 2's own power rule asks 2 minutes (the default is 15), its heater sticks
# 30 s after the meters start, and the alert comes about 3 minutes in.
LIVE_HEATER_METER, LIVE_HEATER_AFTER_S, LIVE_HEATER_MINUTES = 2, 30, 2


def main(argv: list[str] | None = None) -> int:
    """Start everything, print how to use it, and run until Ctrl-C or a child fails."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    data_dir = Path(os.environ.get("ENERGY_DATA_DIR") or "data").resolve()
    children = Children(data_dir / "logs")
    stop = _on_stop_signals(children)
    try:
        _run(args, data_dir, children, stop)
    except _Interrupted:
        pass
    except (ChildExited, ApiError, ProvisionError, TimeoutError) as error:
        print(f"\nThe demo cannot go on: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        stop.set()  # from here on a signal only hurries the shutdown, never interrupts it
        if children.started:
            print("Stopping the demo…", flush=True)
            children.stop_all()
    print("Stopped.", flush=True)
    return 0


def _run(args: argparse.Namespace, data_dir: Path, children: Children, stop: threading.Event) -> None:
    """Bring the neighbourhood up, print the banner, then a summary every 10 s until `stop`."""
    meter_count = args.meters
    mqtt_port = pick_port(MQTT_PORT, "the MQTT broker")
    api_port = pick_port(API_PORT, "the API")
    metrics_port = pick_port(METRICS_PORT, "the worker's metrics")
    made = provision.setup(data_dir / "broker", mqtt_port, data_dir, range(1, meter_count + 1), host=HOST)
    token, _ = admin_token(os.environ.get("ENERGY_ADMIN_TOKEN"), data_dir)
    env = _base_env(data_dir, mqtt_port, token)

    broker_args = ["broker", "run", "--dir", str(made.directory), "--data-dir", str(data_dir)]
    children.start_module("mosquitto", broker_args, env)
    _wait_for_port(mqtt_port, children)
    ingest_user, ingest_password = provision.credentials(data_dir, INGEST_USER)
    children.start_module("ingest", ["ingest"], {**env, "MQTT_USERNAME": ingest_user, "MQTT_PASSWORD": ingest_password,
                                                 "INGEST_METRICS_PORT": str(metrics_port)})
    children.start_module("api", ["api", "--host", HOST, "--port", str(api_port)], env)
    base_url = f"http://{HOST}:{api_port}"
    wait_for_api(base_url, STARTUP_TIMEOUT_S, children.check)
    tokens = register_customers(base_url, token, range(1, meter_count + 1), data_dir)
    if meter_count >= LIVE_HEATER_METER:
        set_alert_thresholds(base_url, token, LIVE_HEATER_METER, {"potencia_minutos": LIVE_HEATER_MINUTES})
    heater_at = live_heater_at(Settings.from_env(env).zone)
    children.start_module("meters", neighbourhood_args(meter_count, args.since, args.speed, heater_at), env)

    watcher = provision.credentials(data_dir, WATCHER_USER)
    metrics_url = f"http://{HOST}:{metrics_port}/metrics"
    print(banner(base_url, token, tokens, HOST, mqtt_port, watcher, meter_count, data_dir, args.since, metrics_url),
          flush=True)
    engine = make_engine(os.environ.get("ENERGY_DB_URL") or default_db_url(data_dir))
    listener = Listener(HOST, mqtt_port, watcher)
    try:
        summary = Summary(engine, listener, meter_count)
        next_line = time.monotonic() + SUMMARY_EVERY_S
        while not stop.wait(0.5):
            children.check()
            if time.monotonic() >= next_line:
                print(summary.line(), flush=True)
                next_line += SUMMARY_EVERY_S
    finally:
        listener.close()
        engine.dispose()


def neighbourhood_args(count: int, since: str, speed: str, live_heater_at: str | None = None) -> list[str]:
    """`python -m meter neighbourhood` with the demo's history and its stuck heaters."""
    args = ["meter", "neighbourhood", "--meters", str(count), "--interval", "5"]
    if since != "0":
        args += ["--since", since, "--speed", speed, "--anomaly", STUCK_HEATER]
    if live_heater_at and count >= LIVE_HEATER_METER:
        args += ["--anomaly", f"{LIVE_HEATER_METER}:stuck-heater@{live_heater_at},for=1h"]
    return args


def live_heater_at(zone: ZoneInfo) -> str:
    """When the live heater sticks: LIVE_HEATER_AFTER_S from now, as the local ISO time --anomaly takes."""
    moment = datetime.now(zone) + timedelta(seconds=LIVE_HEATER_AFTER_S)
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def pick_port(preferred: int, what: str) -> int:
    """`preferred` when free on HOST, else a free port chosen by the OS (and say so)."""
    if _port_free(preferred):
        return preferred
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    print(f"Port {preferred} is busy, so {what} uses port {port}.", flush=True)
    return port


def _port_free(port: int) -> bool:
    """Whether a server could listen on the port; like servers, ignore lingering TIME_WAIT sockets."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _wait_for_port(port: int, children: Children, timeout: float = 10.0) -> None:
    """Wait until the broker listens; raise if a child died or it takes too long."""
    deadline = time.monotonic() + timeout
    while True:
        children.check()
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the broker does not listen on {HOST}:{port} after {timeout:.0f} s") from None
            time.sleep(0.05)


def _base_env(data_dir: Path, mqtt_port: int, token: str) -> dict[str, str]:
    """The children's environment: ours, pointed at this broker, data folder and admin token."""
    env = {name: value for name, value in os.environ.items() if name not in ("MQTT_USERNAME", "MQTT_PASSWORD")}
    env.update({
        "MQTT_HOST": HOST,
        "MQTT_PORT": str(mqtt_port),
        "ENERGY_DATA_DIR": str(data_dir),
        "ENERGY_ADMIN_TOKEN": token,
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _on_stop_signals(children: Children) -> threading.Event:
    """Ctrl-C or SIGTERM asks the demo to stop; a second one kills what is still stopping."""
    stop = threading.Event()

    def handle(_signum: int, _frame: object) -> None:
        if stop.is_set():
            children.hurry.set()
            return
        stop.set()
        raise _Interrupted  # leaves whatever start-up step or wait the demo is in

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop


class _Interrupted(BaseException):
    """Raised by the signal handler to leave whatever the demo was waiting for."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--meters", type=int, default=5, help="simulated meters and customers (default 5)")
    parser.add_argument("--since", default=HISTORY, help=f"history to replay first (default {HISTORY}; 0: live only)")
    parser.add_argument("--speed", default="max", help="history replay speed: max, or simulated seconds per second")
    parser.add_argument("--verbose", "-v", action="store_true", help="log what the demo does")
    return parser


if __name__ == "__main__":
    sys.exit(main())
