"""compose.yaml and the Dockerfile, proven without Docker.

The static tests read both files and check every service's command, variables, ports, volumes
and health check against the code and mosquitto.conf. The last test runs the same services as
native processes, with the same commands and variables: each volume becomes a folder, each
published port a free one, the broker the project's Mosquitto with the project's config as
compose mounts it; then it waits for every health check to pass and for the neighbourhood's
readings to reach the API.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import pytest
import requests
import tomllib
import yaml

from core.config import Settings
from tests.support.broker import broker_folder
from tests.support.net import free_port, wait_for_port
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
APP_SERVICES = [name for name, service in SERVICES.items() if "build" in service]
LONG_RUNNING = [name for name, service in SERVICES.items() if service.get("restart") != "no"]
INIT = "broker-accounts"
BROKER = "broker"
MOSQUITTO_CONF = (ROOT / "mosquitto.conf").read_text()
LISTENER = int(re.search(r"^listener (\d+)", MOSQUITTO_CONF, re.MULTILINE).group(1))
TEST_VARIABLES = {"NEIGHBOURHOOD_METERS": "4", "NEIGHBOURHOOD_SINCE": "2d", "NEIGHBOURHOOD_HISTORY_STEP": "1h"}
_INTERPOLATION = re.compile(r"\$\$|\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)")


def interpolate(value: Any, variables: Mapping[str, str]) -> Any:
    """Compose's variable substitution ($$ is a dollar; ${X:-default}) over every string of `value`."""
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name = match.group(1) or match.group(3)
            return variables.get(name) or match.group(2) or ""
        return _INTERPOLATION.sub(substitute, value)
    if isinstance(value, list):
        return [interpolate(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item, variables) for key, item in value.items()}
    return value


def service(name: str, variables: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A service as compose runs it, variables substituted (their defaults unless given)."""
    return interpolate(SERVICES[name], variables or {})


def mounts(name: str) -> dict[str, str]:
    """Container path -> volume name (or `./file` for a bind mount) of a service."""
    found = {}
    for mount in SERVICES[name].get("volumes", []):
        source, target = mount.split(":")[:2]
        found[target] = source
    return found


def conf_value(key: str) -> str:
    return re.search(rf"^{key} (.+)$", MOSQUITTO_CONF, re.MULTILINE).group(1).strip()


def volume_of(name: str, path: str) -> str | None:
    """The volume a service's path lives in (the deepest mount above it)."""
    above = [target for target in mounts(name) if path == target or path.startswith(target.rstrip("/") + "/")]
    return mounts(name)[max(above, key=len)] if above else None


class Recording(dict):
    """An environment that remembers which variables were looked up."""

    def __init__(self, values: Mapping[str, str]):
        super().__init__(values)
        self.looked_up: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.looked_up.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.looked_up.add(key)
        return super().__getitem__(key)


# --- the file, read -------------------------------------------------------------------------


def test_the_stack_has_its_five_services_and_named_volumes():
    assert set(SERVICES) == {INIT, BROKER, "ingest", "api", "neighbourhood"}
    assert set(COMPOSE["volumes"]) >= {"data", "broker-config", "broker-data", "broker-log"}
    for name in SERVICES:
        for source in mounts(name).values():
            assert source.startswith("./") or source in COMPOSE["volumes"], f"{name}: unknown volume {source}"


def test_every_long_running_service_restarts_and_has_a_health_check():
    assert set(LONG_RUNNING) == {BROKER, "ingest", "api", "neighbourhood"}
    for name in LONG_RUNNING:
        assert SERVICES[name]["restart"] == "unless-stopped"
        test = SERVICES[name]["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1
    assert SERVICES[INIT]["restart"] == "no"


def test_the_broker_is_the_official_image_running_the_project_config_as_it_is():
    broker = SERVICES[BROKER]
    assert broker["image"].startswith("eclipse-mosquitto:2")
    assert mounts(BROKER)["/mosquitto/config/mosquitto.conf"] == "./mosquitto.conf"
    assert f"{LISTENER}:{LISTENER}" in broker["ports"]
    assert broker["depends_on"][INIT]["condition"] == "service_completed_successfully"
    # the accounts the config names are where the init service writes them, in a shared volume
    init_dir = SERVICES[INIT]["command"][SERVICES[INIT]["command"].index("--dir") + 1]
    for key in ("password_file", "acl_file"):
        path = Path(conf_value(key))
        assert volume_of(BROKER, str(path)) == volume_of(INIT, str(Path(init_dir) / path.name)) == "broker-config"
    # persistence and the log file survive a new container
    assert volume_of(BROKER, conf_value("persistence_location")) == "broker-data"
    log_file = re.search(r"^log_dest file (.+)$", MOSQUITTO_CONF, re.MULTILINE).group(1)
    assert volume_of(BROKER, log_file) == "broker-log"


def test_app_services_reach_the_broker_by_its_name_and_listener():
    for name in ("ingest", "api", "neighbourhood"):
        environment = service(name)["environment"]
        assert environment["MQTT_HOST"] == BROKER
        assert int(environment["MQTT_PORT"]) == LISTENER
    assert SERVICES["ingest"]["depends_on"][BROKER]["condition"] == "service_healthy"
    # the worker's session must hold the replayed history: meters start once the worker is up
    assert SERVICES["neighbourhood"]["depends_on"]["ingest"]["condition"] == "service_healthy"


def test_every_variable_is_one_the_process_reads():
    for name in APP_SERVICES:
        environment = Recording({key: str(value) for key, value in service(name)["environment"].items()})
        Settings.from_env(environment)
        assert set(environment) <= environment.looked_up, f"{name} sets variables nothing reads"


def test_the_database_secrets_and_meter_state_live_in_the_data_volume():
    for name in APP_SERVICES:
        data_dir = service(name)["environment"]["ENERGY_DATA_DIR"]
        assert volume_of(name, data_dir) == "data", name
    broker_check = " ".join(SERVICES[BROKER]["healthcheck"]["test"][1:])
    secret = re.search(r"cat (\S+)\)", broker_check).group(1)
    assert volume_of(BROKER, secret) == "data" and secret.endswith("/secrets/mqtt_watcher")


def test_the_api_listens_on_all_interfaces_on_its_published_port():
    api = service("api")
    assert api["environment"]["ENERGY_API_HOST"] == "0.0.0.0"
    port = int(api["environment"]["ENERGY_API_PORT"])
    assert f"{port}:{port}" in api["ports"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_commands_and_health_checks_are_real_entry_points(name):
    for command in (service(name)["command"], *_python_checks(name)):
        assert command[:2] == ["python", "-m"], command
        helped = subprocess.run([sys.executable, *command[1:], "--help"], capture_output=True, text=True,
                                cwd=ROOT, timeout=60)
        assert helped.returncode == 0 and "usage:" in helped.stdout, f"{command}: {helped.stderr}"


def _python_checks(name: str) -> list[list[str]]:
    """The service's health check as a command line, when it is `python -m ...`."""
    test = service(name).get("healthcheck", {}).get("test", [])
    words = shlex.split(test[1]) if test[:1] == ["CMD-SHELL"] else test[1:]
    words = words[:words.index(">")] if ">" in words else words
    return [words] if words[:2] == ["python", "-m"] else []


# --- the Dockerfile ---------------------------------------------------------------------------

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions(keyword: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.split(None, 1)[:1] == [keyword]]


def test_the_dockerfile_installs_the_project_on_python_3_11_slim_for_a_non_root_user():
    assert instructions("FROM") == ["python:3.11-slim"]
    user = instructions("USER")[-1]
    assert user not in ("root", "0")
    assert f"useradd --system --uid 1883 --gid {user}" in " ".join(instructions("RUN"))
    assert any("pip install ." in run for run in instructions("RUN"))
    assert not any(re.search(r"apt-get|apk |curl |wget ", run) for run in instructions("RUN"))  # only PyPI


def test_the_dockerfile_copies_every_package_and_file_the_install_needs():
    copied = {Path(source) for copy in instructions("COPY") for source in copy.split()[:-1]}
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {pattern.rstrip("*") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= {str(path) for path in copied}
    assert {Path("pyproject.toml"), Path(project["project"]["readme"])} <= copied
    assert "mkdir -p /data /mosquitto/config" in " ".join(instructions("RUN"))  # the volumes' owners


def test_the_dockerfile_default_command_is_a_real_entry_point():
    command = __import__("json").loads(instructions("CMD")[0])
    assert command[:2] == ["python", "-m"]
    helped = subprocess.run([sys.executable, *command[1:], "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0, helped.stderr
    assert "ENERGY_DATA_DIR=/data" in instructions("ENV")


# --- the stack, run -------------------------------------------------------------------------


class NativeStack:
    """Maps compose's containers onto this machine: volumes to folders, published ports to free ones."""

    def __init__(self, volumes: dict[str, Path]):
        self.volumes = volumes
        self.ports = {LISTENER: free_port(), 8000: free_port()}

    def path(self, name: str, text: str) -> str:
        """`text` with the service's container paths replaced by the folders of their volumes."""
        for target, source in sorted(mounts(name).items(), key=lambda item: -len(item[0])):
            host = str(ROOT / source) if source.startswith("./") else str(self.volumes[source])
            text = re.sub(rf"(?<![\w/]){re.escape(target)}(?=/|\b|$)", host, text)
        return text

    def environment(self, name: str) -> dict[str, str]:
        """The service's variables, pointed at this machine."""
        mapped = {}
        for key, value in service(name, TEST_VARIABLES).get("environment", {}).items():
            value = self.path(name, str(value))
            if value in SERVICES or value == "0.0.0.0":
                value = "127.0.0.1"
            elif key.endswith("_PORT"):  # every port compose names gets a free one here
                value = str(self.ports.setdefault(int(value), free_port()))
            mapped[key] = value
        return mapped

    def command(self, name: str) -> list[str]:
        return [self.path(name, word) for word in service(name, TEST_VARIABLES)["command"]]

    def healthy(self, name: str) -> bool:
        """Whether the service's health check passes, run here with its variables."""
        test = service(name, TEST_VARIABLES)["healthcheck"]["test"]
        env = {**os.environ, **self.environment(name), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        if test[0] == "CMD-SHELL":
            script = self.path(name, test[1]).replace(f"-p {LISTENER} ", f"-p {self.ports[LISTENER]} ")
            done = subprocess.run(["sh", "-c", script], env=env, capture_output=True, timeout=30)
        else:
            done = subprocess.run([self.path(name, word) for word in test[1:]], env=env, capture_output=True, timeout=30)
        return done.returncode == 0


def broker_config(stack: NativeStack) -> str:
    """The project's mosquitto.conf as the broker container sees it, its paths and listener mapped here."""
    text = stack.path(BROKER, MOSQUITTO_CONF)
    return re.sub(rf"^listener {LISTENER}$", f"listener {stack.ports[LISTENER]} 127.0.0.1", text, flags=re.MULTILINE)


@pytest.mark.slow
def test_the_stack_runs_as_native_processes_and_readings_reach_the_api(tmp_path, procs):
    with broker_folder() as broker_dir:
        _give_to_broker(broker_dir)
        stack = NativeStack({"data": tmp_path / "data", "broker-config": broker_dir / "config",
                             "broker-data": broker_dir / "data", "broker-log": broker_dir / "log"})
        init = subprocess.run([sys.executable, *stack.command(INIT)[1:]], env=_env(stack.environment(INIT)),
                              capture_output=True, text=True, cwd=tmp_path, timeout=60)
        assert init.returncode == 0, init.stderr
        for volume in ("broker-data", "broker-log"):
            stack.volumes[volume].mkdir()
            _give_to_broker(stack.volumes[volume])
        config = stack.volumes["broker-config"] / "mosquitto.conf"  # where compose mounts the project's file
        config.write_text(broker_config(stack))
        mosquitto = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(config)],
                                     stdout=subprocess.DEVNULL, stderr=(tmp_path / "mosquitto.log").open("wb"))
        try:
            wait_for_port("127.0.0.1", stack.ports[LISTENER])
            wait_until(lambda: stack.healthy(BROKER), 20, lambda: f"the broker's health check\n{_log(tmp_path)}")
            for name in ("ingest", "api", "neighbourhood"):  # in compose's order: meters once the worker is up
                proc = procs(stack.command(name)[2:], stack.environment(name), name=name)
                wait_until(lambda: proc.alive and stack.healthy(name), 60,
                           lambda: f"the health check of {name}\n{proc.log_tail()}")
                if name == "ingest":  # what compose's 10 s before the first check stands for (see compose.yaml)
                    proc.wait_for_log("subscribed to", 20)
            _readings_reach_the_api(stack, tmp_path / "data")
        finally:
            mosquitto.terminate()
            mosquitto.wait(10)


def _readings_reach_the_api(stack: NativeStack, data_dir: Path) -> None:
    """Register customer 1 and wait until the API shows its meter's live readings."""
    base = f"http://127.0.0.1:{stack.ports[8000]}"
    admin = {"Authorization": f"Bearer {(data_dir / 'secrets' / 'admin_token').read_text().strip()}"}
    created = requests.post(f"{base}/usuario/cadastro/", json={"id": 1, "nome": "Ana", "endereco": "Rua A"},
                            headers=admin, timeout=10)
    assert created.status_code == 201, created.text

    def live_customer() -> dict | None:
        customer = requests.get(f"{base}/usuario/?id=1", headers=admin, timeout=10).json()
        latest = customer.get("ultima_leitura")
        fresh = latest and time.time() - datetime.fromisoformat(latest).timestamp() < 30
        return customer if fresh and customer["consumo_total_kwh"] > 0 else None

    customer = wait_until(live_customer, 60, "meter 1's live readings in the API")
    assert customer["leitura_atual_kwh"] >= customer["consumo_total_kwh"] > 1  # two days of history, then live


def _env(extra: Mapping[str, str]) -> dict[str, str]:
    base = {key: value for key, value in os.environ.items() if not key.startswith(("MQTT_", "ENERGY_", "INGEST_"))}
    return {**base, **extra}


def _give_to_broker(path: Path) -> None:
    """Root starts Mosquitto, which then runs as `mosquitto` (the image's entrypoint chowns /mosquitto)."""
    if os.geteuid() == 0:
        shutil.chown(path, "mosquitto", "mosquitto")


def _log(tmp_path: Path) -> str:
    return (tmp_path / "mosquitto.log").read_text(errors="replace")
