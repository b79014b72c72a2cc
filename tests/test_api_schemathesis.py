"""Schemathesis against the real `python -m api` process and its /openapi.json.

Schemathesis generates requests from the document (valid and invalid ones) and runs all its
checks on the answers: no 5xx, status codes, content types and bodies as documented, invalid
input refused, valid input accepted, authentication not ignored. Examples are bounded so the
file runs in well under a minute; tests/test_api_hostile.py covers volume.

The document is pure data (`api.openapi`), so it is loaded at collection time, before any
server runs; the first test proves it is byte for byte what the server serves.
"""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from api.openapi import openapi_document
from core.config import Settings
from tests.support.net import free_port
from tests.support.procs import start_process
from tests.support.site import ADMIN, bearer, local_ms, store
from tests.support.waiting import wait_until

# The admin token through the document's own `bearer` scheme: schemathesis then knows which
# requests carry it, and tests leaving it out (401) or sending a wrong one as negative cases.
CONFIG = schemathesis.Config.from_dict({"auth": {"openapi": {"bearer": {"bearer": ADMIN}}}})
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)


@pytest.fixture(scope="module")
def server(tmp_path_factory, backend):
    """The API on gunicorn with one customer and its readings; yields its base URL."""
    folder = tmp_path_factory.mktemp("schemathesis")
    env = backend.env(folder / "data", ENERGY_ADMIN_TOKEN=ADMIN, ENERGY_TIMEZONE="America/Sao_Paulo")
    port = free_port()
    proc = start_process(["api", "--port", str(port), "--workers", "1", "--threads", "4"], env, folder / "api.log")
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.alive, proc.log_tail()
        try:
            return requests.get(f"{base}/healthz", timeout=1).ok
        except requests.ConnectionError:
            return False

    try:
        wait_until(healthy, 20, lambda: f"the API to start:\n{proc.log_tail()}")
        created = requests.post(f"{base}/usuario/cadastro/", json={"id": 7, "nome": "ana", "endereco": "rua a"},
                                headers=bearer(ADMIN), timeout=5)
        assert created.status_code == 201
        store(Settings.from_env(env), 7, [(local_ms(2024, 2, 15), 1_000_000), (local_ms(2024, 3, 1, 12), 1_010_000),
                                          (local_ms(2024, 3, 20), 1_200_000)])
        yield base
    finally:
        proc.kill()
    assert " 500 " not in proc.log_text() and "Traceback" not in proc.log_text(), proc.log_tail()


def test_the_tested_document_is_the_served_one(server):
    assert requests.get(f"{server}/openapi.json", timeout=5).json() == schema.raw_schema


@schema.parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_conforms_to_its_openapi_document(case, server):
    case.call_and_validate(base_url=server)
