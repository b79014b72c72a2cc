"""The optional TLS listener, with a CA and a server certificate this test makes with openssl."""

from __future__ import annotations

import os
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from broker import provision
from broker.tls import TlsListener
from core.models import Reading
from core.wire import topic_for
from tests.support.broker import RunningBroker, broker_folder
from tests.support.mqtt import ACCEPTED, NOT_AUTHORIZED, ConnectionRefused, MqttClient, connack
from tests.support.net import free_port, wait_for_port
from tests.support.waiting import wait_until
from tests.test_broker_security import reading, start_worker

pytestmark = pytest.mark.slow


def openssl(*args: str | Path, cwd: Path) -> None:
    done = subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def make_ca(folder: Path, name: str) -> Path:
    """A self-signed CA (EC P-256, valid two days): its certificate; its key beside it."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}", cwd=folder)
    return folder / f"{name}.crt"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate it signed for localhost and 127.0.0.1, and an unrelated CA."""
    folder = tmp_path_factory.mktemp("pki")
    ca = make_ca(folder, "energia-test-ca")
    other = make_ca(folder, "some-other-ca")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=folder)
    (folder / "san.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", ca, "-CAkey", "energia-test-ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "san.cnf", cwd=folder)
    return {"ca": ca, "other_ca": other, "cert": folder / "server.crt", "key": folder / "server.key"}


@pytest.fixture
def tls_broker(tmp_path, pki):
    listener = TlsListener(free_port(), pki["cert"], pki["key"])
    with RunningBroker(tmp_path / "broker", data_dir=tmp_path / "data", tls=listener) as running:
        yield running


def test_a_client_that_trusts_the_ca_publishes_over_tls(tls_broker, pki):
    port, ca = tls_broker.setup.tls_port, str(pki["ca"])
    watcher = tls_broker.client("watcher", port=port, tls_ca=ca)
    watcher.subscribe("meters/+/reading")
    meter = tls_broker.client(7, port=port, tls_ca=ca)
    assert meter.publish(topic_for(7), reading(7, 1)) == ACCEPTED
    assert meter.publish(topic_for(8), reading(8, 1)) == NOT_AUTHORIZED  # the same ACL as plain
    assert [(m.topic, m.payload) for m in watcher.wait_for_messages(1)] == [(topic_for(7), reading(7, 1))]


def test_the_tls_port_refuses_plaintext_and_bad_logins(tls_broker, pki):
    port, ca = tls_broker.setup.tls_port, str(pki["ca"])
    with pytest.raises((ConnectionRefused, OSError, TimeoutError)):
        MqttClient(tls_broker.host, port, *tls_broker.credentials(7), timeout=3).connect()
    with pytest.raises(ssl.SSLError):  # a server whose certificate no trusted CA signed
        MqttClient(tls_broker.host, port, *tls_broker.credentials(7), tls_ca=str(pki["other_ca"])).connect()
    with pytest.raises(OSError):  # TLS to the plain port (an SSL error or a reset)
        MqttClient(tls_broker.host, tls_broker.port, *tls_broker.credentials(7), tls_ca=ca).connect()
    assert connack(tls_broker.host, port, "7", "wrong", tls_ca=ca) == NOT_AUTHORIZED
    assert connack(tls_broker.host, port, tls_ca=ca) == NOT_AUTHORIZED  # anonymous
    assert connack(tls_broker.host, port, *tls_broker.credentials(7), tls_ca=ca, client_id="energy-ingest") \
        == NOT_AUTHORIZED  # the session guard covers every listener


def test_the_worker_and_a_meter_talk_over_tls_with_mqtt_tls_ca(tls_broker, pki, procs, db):
    over_tls = {"MQTT_PORT": tls_broker.setup.tls_port, "MQTT_TLS_CA": pki["ca"]}
    worker = start_worker(procs, tls_broker, **over_tls)
    assert "over TLS" in worker.log_text()
    procs(["meter", "--id", "7", "--interval", "0.2"], tls_broker.env(**over_tls), name="meter")

    def readings() -> int:
        with db() as session:
            return len(session.scalars(select(Reading.ts).where(Reading.meter_id == 7)).all())

    wait_until(lambda: readings() >= 3, 20, "three readings of meter 7 over TLS")
    ports = listener_ports(tls_broker.log_text())
    assert ports["energy-ingest"] == ports["meter-7"] == tls_broker.setup.tls_port


def listener_ports(log: str) -> dict[str, int]:
    """The listener port each client id connected on, from Mosquitto's connection messages."""
    by_address, by_client = {}, {}
    for line in log.splitlines():
        words = line.split()
        if "New connection from" in line:
            by_address[words[4]] = int(words[7].rstrip("."))
        elif "New client connected from" in line:
            by_client[words[7]] = by_address.get(words[5])
    return by_client


def test_the_cli_sets_up_a_tls_listener(tmp_path, pki, procs):
    port, tls_port, data_dir = free_port(), free_port(), tmp_path / "data"
    with broker_folder() as directory:
        done = subprocess.run(
            [sys.executable, "-m", "broker", "setup", "--dir", directory, "--data-dir", data_dir, "--port", str(port),
             "--tls-port", str(tls_port), "--tls-cert", pki["cert"], "--tls-key", pki["key"], "--meters", "1-3"],
            capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert f"TLS on port {tls_port}" in done.stdout and "session guard on" in done.stdout
        made = provision.load(directory, data_dir)
        assert (made.port, made.tls_port) == (port, tls_port)
        key = directory / "tls" / "server.key"
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        procs(["broker", "run", "--dir", directory, "--data-dir", data_dir])
        wait_for_port("127.0.0.1", tls_port)
        credentials = provision.credentials(data_dir, 3)
        assert connack("127.0.0.1", tls_port, *credentials, tls_ca=str(pki["ca"])) == ACCEPTED

        incomplete = subprocess.run([sys.executable, "-m", "broker", "setup", "--dir", directory, "--data-dir",
                                     data_dir, "--tls-port", str(tls_port)], capture_output=True, text=True, timeout=60)
        assert incomplete.returncode == 1 and "--tls-cert" in incomplete.stderr
