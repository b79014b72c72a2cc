"""End to end: meter → Mosquitto → ingest → SQLite → API, as real processes (issue 2).

The project's broker runs with its own config on a free port; the ingest worker and the API are
started with `python -m`; readings are published as meter 7 with its own credentials; every
route of SPEC §5 is checked against figures computed by hand below (default tariff 0.65 BRL/kWh,
closing day 10, America/Sao_Paulo, which has had no DST since 2019: every offset is -03:00).
"""

from __future__ import annotations

import json
import subprocess
import time
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from core.periods import to_ms
from core.wire import Reading, encode, encode_json, topic_for
from ingest.worker import OUTBOX_EVERY_S
from tests.support.net import wait_for_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

ZONE = ZoneInfo("America/Sao_Paulo")
ADMIN = "admin-token-for-the-e2e-test"


def local(*parts: int) -> int:
    return to_ms(datetime(*parts, tzinfo=ZONE))


# Meter 7's register (Wh). Bills, cycle [10th of the month before, 10th):
#   2024-02: first reading 01-15 (0) .. 02-10 (100 000)      100 kWh  R$  65.00
#   2024-03: 02-10 .. 03-10 (220 000)                       120 kWh  R$  78.00
#   2024-04: 03-10 .. 04-10 (500 000)                       280 kWh  R$ 182.00
#            excess: mean(100, 120) + 150 = 260 kWh, reached at 03-25 (480 000 - 220 000)
#            variation: 280 - 120 = 160 >= 100
#   2024-05 (open): 04-10 .. 04-15 (510 000): 10 kWh in 5 of 30 days -> projection 60 kWh, R$ 39.00
# Day 2024-03-20: readings at both midnights, 390 000 -> 410 000: 20 kWh, 4 readings that day.
# Minute 12:00 of 03-20: readings 12:00:00 (400 000) and 12:00:05 (400 010); at 12:01:00 the
#   register is 400 010 + 9 990 x 55 / 43 195 = 400 022.72 -> 22.72 Wh -> 0.023 kWh.
READINGS = [
    (local(2024, 1, 15), 0),
    (local(2024, 2, 10), 100_000),
    (local(2024, 3, 10), 220_000),
    (local(2024, 3, 20), 390_000),
    (local(2024, 3, 20, 12), 400_000),
    (local(2024, 3, 20, 12, 0, 5), 400_010),
    (local(2024, 3, 21), 410_000),
    (local(2024, 3, 25), 480_000),
    (local(2024, 4, 10), 500_000),
    (local(2024, 4, 15), 510_000),
]


class Api:
    """A tiny client of the running API."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, token: str | None = ADMIN, **params) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(self.base + path, params=params, headers=headers, timeout=10)

    def register(self, customer_id: int, token: str = ADMIN) -> requests.Response:
        body = {"id": customer_id, "nome": f"Cliente {customer_id}", "endereco": "Rua C, 3"}
        return requests.post(f"{self.base}/usuario/cadastro/", json=body, timeout=10,
                             headers={"Authorization": f"Bearer {token}"})

    def delete(self, customer_id: int, token: str = ADMIN) -> requests.Response:
        return requests.delete(f"{self.base}/usuario/delete/", params={"id": customer_id}, timeout=10,
                               headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def stack(broker, procs, free_port):
    """Broker, ingest worker and API running, customer 7 registered, its readings stored."""
    env = broker.env(ENERGY_ADMIN_TOKEN=ADMIN)
    ingest = procs(["ingest"], env, name="ingest")
    ingest.wait_for_log("subscribed to meters/", timeout=10)
    procs(["api", "--host", "127.0.0.1", "--port", str(free_port)], env, name="api")
    wait_for_port("127.0.0.1", free_port, timeout=15)
    api = Api(free_port)
    created = api.register(7)
    assert created.status_code == 201, created.text
    watcher = broker.client("watcher")
    watcher.subscribe("alerts/+")
    meter = broker.client(7)
    meter.publish_many([(topic_for(7), encode(Reading(7, ts, wh))) for ts, wh in READINGS])
    meter.publish(topic_for(7), b"not a reading")
    wait_until(lambda: api.get("/usuario/consumo/", id=7).json()["total_leituras"] == len(READINGS),
               timeout=15, message="all readings stored")
    return api, created.json()["token"], watcher, ingest


def test_customer_has_the_accumulated_total_and_latest_reading(stack):
    api, *_ = stack
    customer = api.get("/usuario/", id=7).json()
    assert customer["id"] == 7 and customer["nome"] == "Cliente 7" and customer["endereco"] == "Rua C, 3"
    assert customer["consumo_total_kwh"] == 510.0
    assert customer["leitura_atual_kwh"] == 510.0
    assert customer["ultima_leitura"] == "2024-04-15T00:00:00-03:00"


def test_closed_bills_match_the_hand_computed_figures(stack):
    api, *_ = stack
    expected = {2: ("100.000", "65.00"), 3: ("120.000", "78.00"), 4: ("280.000", "182.00")}
    for month, (kwh, valor) in expected.items():
        bill = api.get("/usuario/fatura/", id=7, mes=f"{month:02d}").json()
        assert (bill["ano"], bill["mes"], bill["status"]) == (2024, month, "fechada")
        assert bill["consumo_kwh"] == float(kwh) and bill["consumo_faturado_kwh"] == float(kwh)
        assert bill["valor"] == valor
        assert sum(float(item["valor"]) for item in bill["itens"]) == pytest.approx(float(valor))
    april = api.get("/usuario/fatura/", id=7, mes="2024-04").json()
    assert (april["inicio"], april["fim"]) == ("2024-03-10T00:00:00-03:00", "2024-04-10T00:00:00-03:00")


def test_the_open_bill_has_consumption_so_far_and_a_projection(stack):
    api, *_ = stack
    bill = api.get("/usuario/fatura/", id=7, mes="5", ano="2024").json()
    assert bill["status"] == "aberta"
    assert (bill["consumo_kwh"], bill["valor"]) == (10.0, "6.50")
    assert (bill["projecao_kwh"], bill["projecao_valor"]) == (60.0, "39.00")


def test_months_without_a_bill_are_404(stack):
    api, *_ = stack
    assert api.get("/usuario/fatura/", id=7, mes="01").status_code == 404
    assert api.get("/usuario/fatura/", id=7, mes="06", ano="2024").status_code == 404


def test_a_day_and_a_minute_answer_with_their_readings_and_consumption(stack):
    api, *_ = stack
    day = api.get("/usuario/consumo/data/", id=7, data="20/03/2024").json()
    assert (day["consumo_kwh"], day["total_leituras"]) == (20.0, 3)
    assert [reading["ts"] for reading in day["leituras"]] == [
        "2024-03-20T00:00:00-03:00", "2024-03-20T12:00:00-03:00", "2024-03-20T12:00:05-03:00"]
    assert api.get("/usuario/consumo/data/", id=7, data="2024-03-20").json()["consumo_kwh"] == 20.0
    minute = api.get("/usuario/consumo/horario/", id=7, data="2024-03-20", horario="12:00:").json()
    assert minute["consumo_kwh"] == 0.023
    assert minute["leituras"] == [
        {"ts": "2024-03-20T12:00:00-03:00", "kwh": 400.0},
        {"ts": "2024-03-20T12:00:05-03:00", "kwh": 400.01},
    ]
    second = api.get("/usuario/consumo/horario/", id=7, data="20/03/", horario="12:00:05").json()
    assert second["total_leituras"] == 1 and second["leituras"][0]["kwh"] == 400.01


def test_all_consumption_pages_through_every_reading(stack):
    api, *_ = stack
    page = api.get("/usuario/consumo/", id=7, limite=4).json()
    assert (page["consumo_kwh"], page["total_leituras"]) == (510.0, 10)
    seen = list(page["leituras"])
    while page["proxima"]:
        page = requests.get(page["proxima"], headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10).json()
        seen += page["leituras"]
    assert [reading["kwh"] for reading in seen] == [wh / 1000 for _, wh in READINGS]


def test_both_alerts_are_listed_and_published_once(stack):
    api, _, watcher, _ = stack
    excess = api.get("/usuario/alerta/excesso/", id=7).json()
    assert excess["alerta"] is True and len(excess["alertas"]) == 1
    alert = excess["alertas"][0]
    assert (alert["tipo"], alert["ano"], alert["mes"]) == ("excesso", 2024, 4)
    assert alert["detalhes"]["leitura"] == "2024-03-25T00:00:00-03:00"
    variation = api.get("/usuario/alerta/variacao/", id=7).json()
    assert variation["alerta"] is True
    assert [(a["tipo"], a["mes"], a["detalhes"]["diferenca_kwh"]) for a in variation["alertas"]] == [
        ("variacao", 4, 160.0)]
    published = watcher.wait_for_messages(2, timeout=10)
    assert sorted((m.topic, json.loads(m.payload)["tipo"]) for m in published) == [
        ("alerts/7", "excesso"), ("alerts/7", "variacao")]
    time.sleep(3 * OUTBOX_EVERY_S)  # several more rounds of the outbox: nothing is published again
    assert len(watcher.messages) == 2


def test_the_malformed_payload_is_kept_with_its_reason(stack, broker, backend):
    wait_until(lambda: "malformed" in _rejected(broker, backend), timeout=10, message="rejected reading listed")


def _rejected(broker, backend) -> str:
    result = subprocess.run([sys.executable, "-m", "ingest", "rejected"], env=backend.complete(broker.env()),
                            capture_output=True, text=True, timeout=30, check=True)
    return result.stdout


def test_json_readings_typed_by_hand_are_stored(stack, broker):
    api, *_ = stack
    broker.client(7).publish(topic_for(7), encode_json(Reading(7, local(2024, 4, 16), 512_345)))
    wait_until(lambda: api.get("/usuario/", id=7).json()["leitura_atual_kwh"] == 512.345,
               timeout=10, message="JSON reading stored")


def test_authorization_answers_401_403_404_409(stack):
    api, token, *_ = stack
    other = api.register(8).json()["token"]
    assert api.get("/usuario/", token=None, id=7).status_code == 401
    assert api.get("/usuario/", token="not-a-token", id=7).status_code == 401
    assert api.get("/usuario/", token=other, id=7).status_code == 403
    assert api.get("/usuario/", token=token, id=7).status_code == 200
    assert api.get("/usuario/", token=token, id="abc").status_code == 400
    assert api.get("/usuario/", id=99).status_code == 404
    assert api.register(7).status_code == 409
    assert api.register(9, token=token).status_code == 403
    denied = api.get("/usuario/fatura/", token=other, id=7, mes="04")
    assert denied.status_code == 403 and "erro" in denied.json() and "182" not in denied.text


def test_delete_then_register_again_starts_empty(stack):
    api, token, *_ = stack
    assert api.delete(7).status_code == 200
    assert api.delete(7).status_code == 404
    assert api.get("/usuario/", token=token, id=7).status_code == 401
    assert api.register(7).status_code == 201
    fresh = api.get("/usuario/", id=7).json()
    assert (fresh["consumo_total_kwh"], fresh["leitura_atual_kwh"], fresh["ultima_leitura"]) == (0.0, None, None)
    assert api.get("/usuario/alerta/excesso/", id=7).json() == {"id": 7, "tipo": "excesso", "alerta": False, "alertas": []}
