"""`python -m api` as a real process on gunicorn, spoken to over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import time

import pytest
import requests

from tests.support.waiting import wait_until

ADMIN = "s" * 24


def start_api(procs, tmp_path, port, flags=("--workers", "1", "--threads", "4"), **env):
    """Start the API and wait until /healthz answers."""
    proc = procs(["api", "--host", "127.0.0.1", "--port", str(port), *flags],
                 {"ENERGY_DATA_DIR": str(tmp_path / "data"), **env}, name="api")
    base = f"http://127.0.0.1:{port}"

    def healthy():
        if not proc.alive:
            raise AssertionError(f"the API exited with {proc.returncode}:\n{proc.log_tail()}")
        try:
            return requests.get(f"{base}/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(healthy, 20, lambda: f"the API to answer; log:\n{proc.log_tail()}")
    return proc, base


def stop_within(proc, seconds):
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=seconds)
    elapsed = time.monotonic() - started
    assert elapsed < seconds
    print(f"stopped in {elapsed:.2f} s")
    return code


def test_the_server_answers_over_http_and_stops_on_sigterm(procs, tmp_path, free_port):
    proc, base = start_api(procs, tmp_path, free_port, flags=(), ENERGY_ADMIN_TOKEN=ADMIN)  # 2 workers x 2 threads
    admin = {"Authorization": f"Bearer {ADMIN}"}

    created = requests.post(f"{base}/usuario/cadastro/", json={"id": 3, "nome": "vitor", "endereco": "rua c"},
                            headers=admin, timeout=5)
    assert created.status_code == 201
    token = created.json()["token"]
    customer = requests.get(f"{base}/usuario?id=3", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert customer.status_code == 200 and customer.json()["nome"] == "vitor"

    # a query string of exactly 8 KiB reaches the app (unknown parameters are ignored) ...
    query = "id=3&x=" + "a" * (8192 - len("id=3&x="))
    answer = requests.get(f"{base}/usuario/?{query}", headers=admin, timeout=5)
    assert answer.status_code == 200 and answer.json()["id"] == 3
    # ... and a 100 KiB one gets a JSON 4xx, not gunicorn's HTML
    answer = requests.get(f"{base}/usuario/?id=3&x={'a' * 100 * 1024}", headers=admin, timeout=5)
    assert answer.status_code == 414 and answer.headers["Content-Type"] == "application/json"
    assert answer.json()["erro"]

    document = requests.get(f"{base}/openapi.json", timeout=5).json()
    assert "/usuario/cadastro/" in document["paths"]
    assert "Token de administrador" not in proc.log_text()  # configured, so never printed

    assert stop_within(proc, 5) == 0


def test_a_generated_admin_token_is_printed_once_and_stored_0600(procs, tmp_path, free_port):
    proc, base = start_api(procs, tmp_path, free_port)
    stored = tmp_path / "data" / "secrets" / "admin_token"
    match = proc.wait_for_log(r"Token de administrador: (\S+)")
    token = match.group(1)
    assert stored.read_text().strip() == token
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
    assert str(stored) in proc.log_text()
    answer = requests.get(f"{base}/usuario/?id=1", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert answer.status_code == 404  # the admin may ask; there is simply no customer 1
    assert stop_within(proc, 5) == 0

    again, _ = start_api(procs, tmp_path, free_port)
    assert "Token de administrador" not in again.log_text()
    assert again.stop(signal.SIGINT) == 0


@pytest.mark.parametrize("flags", [["--port", "nope"], ["--workers", "0"]])
def test_bad_flags_are_refused(procs, tmp_path, flags):
    proc = procs(["api", *flags], {"ENERGY_DATA_DIR": str(tmp_path / "data")}, name="api")
    assert proc.wait(timeout=10) == 2


def raw_request(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (no client library fixes them up); the status, headers and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            if "Content-Length" in headers and len(body) >= int(headers["Content-Length"]):
                return int(lines[0].split()[1]), headers, body
    raise AssertionError(f"incomplete answer: {received[:200]!r}")


@pytest.mark.parametrize("headers", [
    b"X-Big: " + b"a" * 9000 + b"\r\n",  # one header over 8190 bytes
    b"".join(b"X-%d: 1\r\n" % n for n in range(150)),  # more than 100 headers
    b"X-Huge: " + b"a" * 500_000 + b"\r\n",  # sixty times the limit (still read whole: no reset)
])
def test_oversized_headers_get_a_json_431(procs, tmp_path, free_port, headers):
    proc, _ = start_api(procs, tmp_path, free_port, ENERGY_ADMIN_TOKEN=ADMIN)
    status, answer_headers, body = raw_request(
        free_port, b"GET /usuario/?id=1 HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert status == 431
    assert answer_headers["Content-Type"] == "application/json"
    assert answer_headers["X-Content-Type-Options"] == "nosniff"
    assert "cabeçalhos" in json.loads(body)["erro"]
    assert proc.alive


@pytest.mark.parametrize("request_bytes", [
    b"GET /usuario/?id=1 HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
    b"GET /usuario/?id=\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /usuario/?id=1\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /usuario/?id=1 HTTP/9.9\r\nHost: x\r\n\r\n",
    b"G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n",
])
def test_malformed_http_gets_a_json_4xx(procs, tmp_path, free_port, request_bytes):
    start_api(procs, tmp_path, free_port, ENERGY_ADMIN_TOKEN=ADMIN)
    status, headers, body = raw_request(free_port, request_bytes)
    assert 400 <= status < 500
    assert headers["Content-Type"] == "application/json" and json.loads(body)["erro"]


def test_a_rotated_token_stops_in_every_worker_at_once(procs, tmp_path, free_port):
    _, base = start_api(procs, tmp_path, free_port, flags=("--workers", "2", "--threads", "2"),
                        ENERGY_ADMIN_TOKEN=ADMIN)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    old = requests.post(f"{base}/usuario/cadastro/", json={"id": 3, "nome": "a", "endereco": "b"},
                        headers=admin, timeout=5).json()["token"]
    with requests.Session() as keep_alive:  # connections already open to either worker
        assert keep_alive.get(f"{base}/usuario/?id=3", headers={"Authorization": f"Bearer {old}"}, timeout=5).ok
        new = requests.post(f"{base}/usuario/token/?id=3", headers=admin, timeout=5).json()["token"]
        for _ in range(20):
            for session in (keep_alive, requests):
                assert session.get(f"{base}/usuario/?id=3", headers={"Authorization": f"Bearer {old}"},
                                   timeout=5).status_code == 401
        assert requests.get(f"{base}/usuario/?id=3", headers={"Authorization": f"Bearer {new}"}, timeout=5).ok


def test_a_chunked_body_over_64_kib_is_a_json_413(procs, tmp_path, free_port):
    _, base = start_api(procs, tmp_path, free_port, ENERGY_ADMIN_TOKEN=ADMIN)
    chunks = (b"a" * 4096 for _ in range(40))  # 160 KiB with no Content-Length: Transfer-Encoding chunked
    answer = requests.post(f"{base}/usuario/cadastro/", data=chunks, timeout=10,
                           headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.json()["erro"]
