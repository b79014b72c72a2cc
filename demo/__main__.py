"""`python -m demo` (`make demo`): the whole neighbourhood on this machine; Ctrl-C stops it all.

Mosquitto with the project's config, the ingest worker, the API and simulated meters, each a
child process logging to data/logs/. Prints the dashboard URL, the tokens and ready commands.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from broker import provision
from broker.provision import ProvisionError
from core.credentials import INGEST_USER, WATCHER_USER
from core.tokens import admin_token
from demo.banner import banner
from demo.children import ChildExited, Children
from demo.customers import ApiError, register_customers, wait_for_api

log = logging.getLogger("demo")

HOST = "127.0.0.1"
MQTT_PORT = 1883
API_PORT = 8000
STARTUP_TIMEOUT_S = 60


def main(argv: list[str] | None = None) -> int:
    """Start everything, print how to use it, and run until Ctrl-C or a child fails."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    data_dir = Path(os.environ.get("ENERGY_DATA_DIR") or "data").resolve()
    children = Children(data_dir / "logs")
    stop = _on_stop_signals(children)
    try:
        _run(args.meters, data_dir, children, stop)
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


def _run(meter_count: int, data_dir: Path, children: Children, stop: threading.Event) -> None:
    """Bring the neighbourhood up, print the banner, then watch the children until `stop`."""
    mqtt_port = pick_port(MQTT_PORT, "the MQTT broker")
    api_port = pick_port(API_PORT, "the API")
    made = provision.setup(data_dir / "broker", mqtt_port, data_dir, range(1, meter_count + 1), host=HOST)
    token, _ = admin_token(os.environ.get("ENERGY_ADMIN_TOKEN"), data_dir)
    env = _base_env(data_dir, mqtt_port, token)

    broker_args = ["broker", "run", "--dir", str(made.directory), "--data-dir", str(data_dir)]
    children.start_module("mosquitto", broker_args, env)
    _wait_for_port(mqtt_port, children)
    ingest_user, ingest_password = provision.credentials(data_dir, INGEST_USER)
    children.start_module("ingest", ["ingest"], {**env, "MQTT_USERNAME": ingest_user, "MQTT_PASSWORD": ingest_password})
    children.start_module("api", ["api", "--host", HOST, "--port", str(api_port)], env)
    base_url = f"http://{HOST}:{api_port}"
    wait_for_api(base_url, STARTUP_TIMEOUT_S, children.check)
    tokens = register_customers(base_url, token, range(1, meter_count + 1), data_dir)
    _start_meters(children, meter_count, env, data_dir)

    watcher = provision.credentials(data_dir, WATCHER_USER)
    print(banner(base_url, token, tokens, HOST, mqtt_port, watcher, meter_count, data_dir), flush=True)
    while not stop.wait(0.5):
        children.check()


def _start_meters(children: Children, count: int, env: dict[str, str], data_dir: Path) -> None:
    """One process for the whole neighbourhood when `python -m meter` has it, else one per meter."""
    if _meter_has_neighbourhood(env):
        children.start_module("meters", ["meter", "neighbourhood", "--meters", str(count), "--interval", "5"], env)
        return
    for meter_id in range(1, count + 1):
        user, password = provision.credentials(data_dir, meter_id)
        children.start_module(f"meter-{meter_id}", ["meter", "--id", str(meter_id), "--interval", "5"],
                              {**env, "MQTT_USERNAME": user, "MQTT_PASSWORD": password})


def _meter_has_neighbourhood(env: dict[str, str]) -> bool:
    """Whether this checkout's meter simulator offers `python -m meter neighbourhood`."""
    helped = subprocess.run([sys.executable, "-m", "meter", "--help"], env=env, capture_output=True,
                            text=True, timeout=30)
    return "neighbourhood" in helped.stdout


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
    parser.add_argument("--verbose", "-v", action="store_true", help="log what the demo does")
    return parser


if __name__ == "__main__":
    sys.exit(main())
