"""End to end: the early warnings reach a real subscriber on `alerts/<id>` (issue 4).

The project's broker, `python -m ingest` and `python -m api` run as processes; meter 7 publishes
with its own login; the read-only `watcher` account subscribes to `alerts/#`, as a person with
`mosquitto_sub` would. The worker's config makes a meter silent after 3 s (the default is an hour).

Meter 7 (America/Sao_Paulo, UTC-3 all year in 2024), hourly from 2024-05-11 00:00 at 500 W:
12 kWh a day, the median of the 9 days before 05-20. On 05-20 the house draws 4 kW from
midnight: the day passes 3 × 12 = 36 kWh at 10:00 (`consumo_diario`). At 12:00 a heater sticks
at 10 kW, read every 5 s: 15 minutes above 8 kW at 12:15:00 (`potencia`), while it is still on.
At 12:20 it stops (the alert is `encerrado`). The meter then falls silent (`silencio`) until it
sends one more reading (cleared). The customer acknowledges the daily alert over HTTP.
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from core.periods import to_ms
from core.wire import Reading, encode, topic_for
from tests.support.net import wait_for_port
from tests.support.readings import HOUR, MINUTE, SECOND, profile
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

ZONE = ZoneInfo("America/Sao_Paulo")
ADMIN = "admin-token-for-the-alerts-e2e"
START = to_ms(datetime(2024, 5, 11, tzinfo=ZONE))
HISTORY = profile(START, 0, HOUR, [(500, 9 * 24 * HOUR), (4_000, 12 * HOUR)])  # to 05-20 12:00
HEATER = profile(HISTORY[-1][0], HISTORY[-1][1], 5 * SECOND, [(10_000, 20 * MINUTE), (300, 2 * MINUTE)])[1:]
STILL_ON = [reading for reading in HEATER if reading[0] <= HISTORY[-1][0] + 16 * MINUTE]


def published(watcher) -> list[tuple[str, str, str]]:
    """(topic, tipo, estado) of every message the watcher received, in order."""
    return [(m.topic, json.loads(m.payload)["tipo"], json.loads(m.payload)["estado"]) for m in watcher.messages]


def until_published(watcher, expected: tuple[str, str, str], after: int = 0, timeout: float = 20) -> dict:
    """Wait for a message among those received after the first `after`; return its JSON document."""
    wait_until(lambda: expected in published(watcher)[after:], timeout, lambda: f"{expected} among {published(watcher)}")
    return next(json.loads(m.payload) for m in watcher.messages[after:]
                if (m.topic, json.loads(m.payload)["tipo"], json.loads(m.payload)["estado"]) == expected)


def test_new_kinds_of_alert_are_published_on_alerts_id(broker, procs, free_port, tmp_path):
    config = tmp_path / "energy.toml"
    config.write_text("[alerts]\nsilence_minutes = 0.05\n")
    env = broker.env(ENERGY_ADMIN_TOKEN=ADMIN, ENERGY_CONFIG=config)
    ingest = procs(["ingest"], env, name="ingest")
    procs(["api", "--host", "127.0.0.1", "--port", str(free_port)], env, name="api")
    ingest.wait_for_log("subscribed to meters/", timeout=15)
    wait_for_port("127.0.0.1", free_port, timeout=15)
    base = f"http://127.0.0.1:{free_port}"
    created = requests.post(f"{base}/usuario/cadastro/", json={"id": 7, "nome": "Ana", "endereco": "Rua A"},
                            headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
    assert created.status_code == 201, created.text
    customer = {"Authorization": f"Bearer {created.json()['token']}"}
    watcher = broker.client("watcher")
    assert watcher.subscribe("alerts/#") == 1  # granted at QoS 1: what `mosquitto_sub -t 'alerts/#'` asks
    meter = broker.client(7)

    meter.publish_many([(topic_for(7), encode(Reading(7, ts, wh))) for ts, wh in HISTORY + STILL_ON])
    daily = until_published(watcher, ("alerts/7", "consumo_diario", "aberto"))
    assert daily["detalhes"]["dia"] == "2024-05-20" and daily["detalhes"]["leitura"] == "2024-05-20T10:00:00-03:00"
    power = until_published(watcher, ("alerts/7", "potencia", "aberto"))
    assert power["detalhes"]["inicio"] == "2024-05-20T12:00:00-03:00"
    assert power["detalhes"]["leitura"] == "2024-05-20T12:15:00-03:00"

    meter.publish_many([(topic_for(7), encode(Reading(7, ts, wh))) for ts, wh in HEATER[len(STILL_ON):]])
    ended = until_published(watcher, ("alerts/7", "potencia", "encerrado"))
    assert ended["alerta_id"] == power["alerta_id"] and ended["detalhes"]["fim"] == "2024-05-20T12:20:00-03:00"
    # On a loaded machine the meter may already have looked silent between the two publishes
    # (and been cleared by the second): the silence that counts is the one after the last reading.
    silent = until_published(watcher, ("alerts/7", "silencio", "aberto"), after=len(watcher.messages))
    assert silent["publico"] == "operador"

    answer = requests.post(f"{base}/usuario/alerta/reconhecer/", headers=customer, timeout=10,
                           params={"id": 7, "alerta_id": daily["alerta_id"]})
    assert answer.status_code == 200 and answer.json()["estado"] == "reconhecido"
    until_published(watcher, ("alerts/7", "consumo_diario", "reconhecido"))

    last_ts, last_wh = HEATER[-1]
    meter.publish(topic_for(7), encode(Reading(7, last_ts + MINUTE, last_wh + 5)))
    wait_until(lambda: ("alerts/7", "silencio", "encerrado") in published(watcher)[-1:], 20, "the silence cleared")
    assert json.loads(watcher.messages[-1].payload)["alerta_id"] == silent["alerta_id"]

    listed = requests.get(f"{base}/usuario/alertas/", headers=customer, params={"id": 7}, timeout=10).json()
    states = {(alert["tipo"], alert["estado"]) for alert in listed["alertas"]}
    assert states == {("consumo_diario", "reconhecido"), ("potencia", "encerrado"), ("silencio", "encerrado")}
    # One message per alert and state: the outbox never publishes a state twice.
    sent = [(json.loads(m.payload)["alerta_id"], json.loads(m.payload)["estado"]) for m in watcher.messages]
    assert len(sent) == len(set(sent))
