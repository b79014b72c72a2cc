"""Meter data quality (VEE) end to end: each case of SPEC §4 published by a real meter account
through Mosquitto to the running worker, and its bill read from the running API, equal to the
figures worked out by hand below.

Zone America/Sao_Paulo (UTC-3), cycles close on the 10th at 00:00, 0.65 BRL/kWh. Every meter
reports at the start of the cycle 2024-02 ([2024-01-10, 2024-02-10)), at its end, and a day
later, which closes it. The bill is the register at the end minus the register at the start,
resets accounted for:

  11 duplicates     100 000 -> 150 000 -> 220 000 (each sent three times)   120 kWh  R$  78.00
  12 conflicts      as 11; then 01-20 again with 999 999, and 02-10 twice
                    with different values in one burst: both refused         120 kWh  R$  78.00
  13 out of order   01-25, 01-10, 02-01, 01-15, 01-20 (one batch each)       120 kWh  R$  78.00
  14 reset          500 000 -> 560 000, an hour later 400 (reset: 400 Wh in
                    an hour is plausible, counted), then 80 400:
                    60 + 0.4 + 80                                             140.4 kWh R$ 91.26, revisão
  15 replacement    500 000 -> 560 000, 5 s later 300 000 (impossible: a new
                    meter, nothing counted for the step), then 380 000:
                    60 + 0 + 80                                               140 kWh  R$  91.00, revisão
  16 jump           150 000 -> 250 000 in a minute (6 000 kW: flagged, counted)
                    100 000 -> 300 000                                        200 kWh  R$ 130.00, revisão
  17 gap            100 000 on 01-10; 01-25 every 5 minutes with a silence
                    from 06:00 to 09:30 (see test_api_quality.py for its
                    hours); 300 000 on 02-10                                 200 kWh  R$ 130.00
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from core.periods import to_ms
from core.wire import Reading, encode, topic_for
from tests.support.broker import RunningBroker
from tests.support.net import free_port, wait_for_port
from tests.support.observe import scrape
from tests.support.procs import ProcessTracker
from tests.support.waiting import wait_until
from tests.test_api_quality import gap_day

pytestmark = pytest.mark.slow

ADMIN = "admin-token-for-data-quality"
ZONE = ZoneInfo("America/Sao_Paulo")
MINUTE = 60_000


def local(*fields: int) -> int:
    return to_ms(datetime(*fields, tzinfo=ZONE))


START, MIDDLE, END, AFTER = local(2024, 1, 10), local(2024, 1, 20), local(2024, 2, 10), local(2024, 2, 11)
PLAIN = [(START, 100_000), (MIDDLE, 150_000), (END, 220_000), (AFTER, 222_000)]


class Stack:
    """Broker, worker and API processes; publishes as meters and waits for the worker."""

    def __init__(self, broker: RunningBroker, metrics_port: int, api_port: int):
        self.broker = broker
        self.metrics_port = metrics_port
        self.base = f"http://127.0.0.1:{api_port}"
        self.sent = 0

    def publish(self, meter_id: int, readings, one_batch_each: bool = False) -> None:
        """Publish `(ts, wh)` pairs in this order; with `one_batch_each`, wait for each commit."""
        client = self.broker.client(meter_id, timeout=30)
        try:
            for ts, wh in readings:
                client.publish(topic_for(meter_id), encode(Reading(meter_id, ts, wh)))
                self.sent += 1
                if one_batch_each:
                    self.wait()
        finally:
            client.close()
        self.wait()

    def wait(self) -> None:
        wait_until(lambda: scrape(self.metrics_port).get("energy_ingest_received_total") == self.sent,
                   timeout=30, message=lambda: f"the worker to commit {self.sent} messages")

    def get(self, path: str, **query) -> dict:
        answer = requests.get(self.base + path, params=query, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("quality")
    tracker = ProcessTracker(root / "logs")
    with RunningBroker(root / "broker", meters=range(11, 18), data_dir=root / "data") as broker:
        try:
            metrics_port, api_port = free_port(), free_port()
            env = broker.env(ENERGY_ADMIN_TOKEN=ADMIN, INGEST_METRICS_PORT=metrics_port)
            tracker(["ingest"], env, name="ingest").wait_for_log("subscribed to meters/", timeout=20)
            tracker(["api", "--host", "127.0.0.1", "--port", str(api_port)], env, name="api")
            wait_for_port("127.0.0.1", api_port, timeout=20)
            running = Stack(broker, metrics_port, api_port)
            for customer_id in range(11, 18):
                created = requests.post(f"{running.base}/usuario/cadastro/", timeout=10,
                                        json={"id": customer_id, "nome": f"Cliente {customer_id}", "endereco": "Rua A"},
                                        headers={"Authorization": f"Bearer {ADMIN}"})
                assert created.status_code == 201, created.text
            publish_every_case(running)
            yield running
        finally:
            tracker.cleanup()


def publish_every_case(stack: Stack) -> None:
    stack.publish(11, PLAIN * 3)
    stack.publish(11, PLAIN[1:2])  # once more after its commit: the careful path
    stack.publish(12, PLAIN)
    stack.publish(12, [(MIDDLE, 999_999)])
    stack.publish(12, [(local(2024, 2, 5), 210_000), (local(2024, 2, 5), 210_500)])  # one burst, two values
    shuffled = [(local(2024, 1, 25), 160_000), (START, 100_000), (local(2024, 2, 1), 200_000),
                (local(2024, 1, 15), 110_000), (MIDDLE, 150_000)]
    stack.publish(13, shuffled, one_batch_each=True)
    stack.publish(13, PLAIN[2:], one_batch_each=True)
    stack.publish(14, [(START, 500_000), (MIDDLE, 560_000), (MIDDLE + 60 * MINUTE, 400), (END, 80_400), (AFTER, 82_400)])
    stack.publish(15, [(START, 500_000), (MIDDLE, 560_000), (MIDDLE + 5_000, 300_000), (END, 380_000),
                       (AFTER, 382_000)])
    stack.publish(16, [(START, 100_000), (MIDDLE, 150_000), (MIDDLE + MINUTE, 250_000), (END, 300_000),
                       (AFTER, 302_000)])
    stack.publish(17, [(START, 100_000), *gap_day(), (END, 300_000), (AFTER, 302_000)])


@pytest.mark.parametrize("meter_id, consumo, valor, revisao", [
    (11, 120.0, "78.00", False),
    (12, 120.0, "78.00", False),
    (13, 120.0, "78.00", False),
    (14, 140.4, "91.26", True),
    (15, 140.0, "91.00", True),
    (16, 200.0, "130.00", True),
    (17, 200.0, "130.00", False),
], ids=["duplicates", "conflicts", "out-of-order", "reset", "replacement", "jump", "gap"])
def test_the_bill_of_each_case_is_the_hand_computed_one(stack, meter_id, consumo, valor, revisao):
    bill = stack.get("/usuario/fatura/", id=meter_id, mes="2024-02")
    assert (bill["status"], bill["consumo_kwh"], bill["valor"], bill["revisao"]) == ("fechada", consumo, valor, revisao)
    assert (bill["inicio"], bill["fim"]) == ("2024-01-10T00:00:00-03:00", "2024-02-10T00:00:00-03:00")


def test_duplicates_are_stored_once(stack):
    assert stack.get("/usuario/consumo/", id=11)["total_leituras"] == 4
    metrics = scrape(stack.metrics_port)
    assert metrics["energy_ingest_duplicates_total"] >= 9  # 8 in the first burst, 1 after the commit


def test_conflicts_are_refused_with_their_reason_and_the_first_value_kept(stack):
    rejected = stack.get("/admin/leituras/rejeitadas", medidor=12)["rejeitadas"]
    assert [r["motivo"] for r in rejected] == ["conflict", "conflict"]
    assert "999999 Wh" in rejected[1]["detalhe"]
    readings = stack.get("/usuario/consumo/data/", id=12, data="2024-02-05")["leituras"]
    assert readings == [{"ts": "2024-02-05T00:00:00-03:00", "kwh": 210.0}]


def test_out_of_order_readings_give_the_consumption_of_in_order_ones(stack):
    shuffled = stack.get("/usuario/consumo/", id=13)
    assert [r["kwh"] for r in shuffled["leituras"]] == [100.0, 110.0, 150.0, 160.0, 200.0, 220.0, 222.0]
    assert stack.get("/usuario/consumo/data/", id=13, data="2024-01-20")["consumo_kwh"] == 2.0  # (160 - 150) / 5 days


def test_resets_replacements_and_jumps_are_flagged_for_the_operator(stack):
    flagged = stack.get("/admin/leituras/sinalizadas")["sinalizadas"]
    assert sorted((f["medidor"], f["tipo"], f["consumo_contado_kwh"]) for f in flagged) == [
        (14, "reset", 0.4), (15, "replacement", 0.0), (16, "jump", 100.0)]
    jump = next(f for f in flagged if f["tipo"] == "jump")
    assert jump["potencia_kw"] == 6000.0
    assert stack.get("/usuario/", id=14)["consumo_total_kwh"] == 142.4  # never negative across the reset


def test_the_hours_of_a_gap_are_estimated_and_add_up_to_the_day(stack):
    gap_day_hours = stack.get("/usuario/consumo/horas/", id=17, data="2024-01-25")
    assert [h["estimado"] for h in gap_day_hours["horas"]] == [False] * 6 + [True] * 4 + [False] * 14
    assert gap_day_hours["consumo_kwh"] == 36.6
    silent_day = stack.get("/usuario/consumo/horas/", id=17, data="2024-02-01")  # inside 01-26 .. 02-10
    assert all(h["estimado"] and h["leituras"] == 0 for h in silent_day["horas"])
    day = stack.get("/usuario/consumo/data/", id=17, data="2024-02-01")
    assert silent_day["consumo_kwh"] == day["consumo_kwh"] == 4.227  # 63.4 kWh over 15 days
    assert round(sum(h["consumo_kwh"] for h in silent_day["horas"]), 3) == 4.227
