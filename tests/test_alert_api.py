"""The alert routes through Flask's test client on a real SQLite file (issue 4).

Customer 1 has the readings of tests/test_api_routes.py (an `excesso` and a `variacao` in
cycle 2024-04, among early warnings), then a heater stuck at 10 kW from 2024-04-21 10:00 to
10:20 local time, read every 5 s: a `potencia` alert raised by the reading of 10:15:00, received
a second later. Customer 2's meter reports once, on 2024-04-22 at noon; two hours later the
worker looks for silent meters: both customers' meters are silent (`silencio`, 14:00:00).
"""

from __future__ import annotations

import json
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from api import create_app
from core.db import make_engine, make_sessionmaker
from core.models import Alert
from core.periods import to_ms
from core.silence import raise_silent
from tests.support.readings import MINUTE, SECOND, profile
from tests.test_api_routes import ADMIN, CUSTOMER_1, bearer, make_settings, register, store

ZONE = ZoneInfo("America/Sao_Paulo")
HEATER_ON = to_ms(datetime(2024, 4, 21, 10, tzinfo=ZONE))
HEATER = profile(HEATER_ON, 1_500_000, 5 * SECOND, [(10_000, 20 * MINUTE), (300, 2 * MINUTE)])
SILENT_FROM = to_ms(datetime(2024, 4, 22, 12, tzinfo=ZONE))


@pytest.fixture(scope="module")
def site(tmp_path_factory, backend):
    settings = make_settings(backend, tmp_path_factory.mktemp("alerts"))
    app = create_app(settings, {"TESTING": True})
    client = app.test_client()
    tokens = {1: register(client, 1), 2: register(client, 2), 3: register(client, 3)}
    store(settings, 1, CUSTOMER_1)
    store(settings, 1, [(HEATER_ON - 30 * MINUTE, 1_499_900)] + HEATER)
    store(settings, 2, [(SILENT_FROM - SECOND, 10_000)])
    engine = make_engine(settings.db_url, immediate=True)
    with make_sessionmaker(engine).begin() as session:
        raise_silent(session, settings, SILENT_FROM + 2 * 60 * MINUTE, listening_since=0)
    yield SimpleNamespace(client=client, tokens=tokens, settings=settings, sessions=make_sessionmaker(engine))
    engine.dispose()
    app.extensions["energia"].database.dispose()


def get(site, url, token=ADMIN):
    return site.client.get(url, headers=bearer(token))


def acknowledge(site, customer_id, alert_id, token=ADMIN):
    return site.client.post(f"/usuario/alerta/reconhecer/?id={customer_id}&alerta_id={alert_id}", headers=bearer(token))


def alert_of(site, customer_id, tipo):
    [alert] = get(site, f"/usuario/alertas/?id={customer_id}&tipo={tipo}").json["alertas"]
    return alert


# --- listing --------------------------------------------------------------------------------

def test_every_kind_is_listed_with_the_spec_fields_oldest_first(site):
    document = get(site, "/usuario/alertas/?id=1", site.tokens[1]).json
    assert document["id"] == 1 and document["alerta"] is True
    kinds = [alert["tipo"] for alert in document["alertas"]]
    assert {"excesso", "variacao", "potencia"} <= set(kinds)
    assert [a["criado_em"] for a in document["alertas"]] == sorted(a["criado_em"] for a in document["alertas"])
    for alert in document["alertas"]:
        assert {"alerta_id", "tipo", "ano", "mes", "criado_em", "detalhes", "estado", "severidade"} <= set(alert)
        assert alert["detalhes"]["leitura"]  # the time of the reading that raised it


def test_the_power_alert_document(site):
    alert = alert_of(site, 1, "potencia")
    assert (alert["id"], alert["ano"], alert["mes"], alert["estado"], alert["severidade"], alert["publico"]) == (
        1, 2024, 5, "encerrado", "alerta", "cliente")
    assert alert["criado_em"] == "2024-04-21T10:15:01-03:00"
    assert alert["detalhes"]["inicio"] == "2024-04-21T10:00:00-03:00"
    assert alert["detalhes"]["leitura"] == "2024-04-21T10:15:00-03:00"
    assert alert["detalhes"]["fim"] == "2024-04-21T10:20:00-03:00"
    assert alert["reconhecido_em"] is None and alert["encerrado_em"] == "2024-04-21T10:21:01-03:00"


def test_the_silence_alert_is_for_operators(site):
    alert = alert_of(site, 2, "silencio")
    assert (alert["estado"], alert["publico"], alert["severidade"]) == ("aberto", "operador", "aviso")
    assert alert["detalhes"]["ultima_leitura"] == "2024-04-22T11:59:59-03:00"


@pytest.mark.parametrize("query, kinds", [
    ("tipo=potencia", {"potencia"}),
    ("tipo=potencia,excesso", {"potencia", "excesso"}),
    ("tipo=excesso&estado=aberto", {"excesso"}),
    ("estado=encerrado", {"potencia"}),
    ("desde=2024-04-21", {"potencia", "silencio"}),
    ("desde=2024-04-21T10:15:01-03:00", {"potencia", "silencio"}),
    ("desde=2024-04-21T13:15:01Z", {"potencia", "silencio"}),
    ("desde=2024-04-21T10:15:01", {"potencia", "silencio"}),  # local time
    ("desde=2024-04-21T10:15:02", {"silencio"}),
    ("desde=2024-04-22T14:00:00.001-03:00", set()),
    ("desde=2024-04-21T13:15:01+00:00", {"potencia", "silencio"}),
    ("desde=2024-04-21T13:15:01 00:00", {"potencia", "silencio"}),  # the + sent unescaped arrives as a space
])
def test_filters(site, query, kinds):
    alerts = get(site, f"/usuario/alertas/?id=1&{query}").json["alertas"]
    assert {alert["tipo"] for alert in alerts} == kinds


@pytest.mark.parametrize("query", [
    "tipo=fogo", "tipo=potencia,", "desde=2024-02-30", "desde=20/04/2024", "desde=2024-04-21T25:00",
    "desde=2024-04-21T10:00:00+3", "estado=ABERTO",
])
def test_malformed_filters_are_400(site, query):
    answer = get(site, f"/usuario/alertas/?id=1&{query}")
    assert answer.status_code == 400 and answer.json["erro"]


def test_the_spec_routes_list_only_their_rule_and_take_the_filters(site):
    excess = get(site, "/usuario/alerta/excesso/?id=1").json
    assert [a["tipo"] for a in excess["alertas"]] == ["excesso"] and excess["tipo"] == "excesso"
    assert get(site, "/usuario/alerta/excesso/?id=1&desde=2024-04-06").json == {
        "id": 1, "tipo": "excesso", "alerta": False, "alertas": []}
    assert get(site, "/usuario/alerta/variacao/?id=1&desde=2024-04-10").json["alerta"] is True
    assert get(site, "/usuario/alerta/variacao/?id=1&desde=ontem").status_code == 400


def test_a_customer_without_alerts(site):
    assert get(site, "/usuario/alertas/?id=3", site.tokens[3]).json == {"id": 3, "alerta": False, "alertas": []}


# --- acknowledging ----------------------------------------------------------------------------

def test_the_customer_acknowledges_its_alert(site):
    excess = alert_of(site, 1, "excesso")
    answer = acknowledge(site, 1, excess["alerta_id"], site.tokens[1])
    assert answer.status_code == 200
    document = answer.json
    assert (document["alerta_id"], document["tipo"], document["estado"]) == (excess["alerta_id"], "excesso", "reconhecido")
    assert document["reconhecido_em"] is not None
    assert alert_of(site, 1, "excesso")["estado"] == "reconhecido"
    again = acknowledge(site, 1, excess["alerta_id"], site.tokens[1]).json
    assert again["reconhecido_em"] == document["reconhecido_em"]  # idempotent
    with site.sessions() as session:
        assert session.get(Alert, excess["alerta_id"]).published_at is None  # published again, acknowledged


def test_the_admin_may_acknowledge_and_a_cleared_alert_stays_cleared(site):
    power = alert_of(site, 1, "potencia")
    answer = acknowledge(site, 1, power["alerta_id"])
    assert answer.status_code == 200
    assert (answer.json["estado"], answer.json["reconhecido_em"] is not None) == ("encerrado", True)


def test_acknowledging_checks_401_400_403_404_in_that_order(site):
    mine = alert_of(site, 1, "variacao")["alerta_id"]
    theirs = alert_of(site, 2, "silencio")["alerta_id"]
    url = "/usuario/alerta/reconhecer/"
    assert site.client.post(f"{url}?id=1&alerta_id={mine}").status_code == 401
    assert site.client.post(f"{url}?id=1&alerta_id=x", headers=bearer("not-a-token")).status_code == 401
    assert acknowledge(site, 1, "x", site.tokens[2]).status_code == 400
    assert site.client.post(f"{url}?id=1", headers=bearer(site.tokens[1])).status_code == 400
    assert acknowledge(site, 1, "007", site.tokens[1]).status_code == 400
    assert acknowledge(site, 1, mine, site.tokens[2]).status_code == 403
    assert acknowledge(site, 1, theirs, site.tokens[1]).status_code == 404  # not customer 1's alert
    assert acknowledge(site, 1, 999_999, site.tokens[1]).status_code == 404
    assert acknowledge(site, 99, mine).status_code == 404
    assert alert_of(site, 2, "silencio")["estado"] == "aberto"
    answer = site.client.get(f"{url}?id=1&alerta_id={mine}", headers=bearer(ADMIN))
    assert answer.status_code == 405 and answer.json["erro"]


# --- thresholds -------------------------------------------------------------------------------

def test_thresholds_in_force_and_the_customer_own(site):
    document = get(site, "/usuario/alertas/configuracao/?id=3", site.tokens[3]).json
    assert document == {"id": 3, "personalizado": {}, "configuracao": {
        "excesso_kwh": 150, "variacao_kwh": 100, "projecao_apos_dias": 3, "fator_diario": 3, "potencia_kw": 8,
        "potencia_minutos": 15, "silencio_minutos": 60, "desligados": []}}
    answer = site.client.patch("/usuario/alertas/configuracao/?id=3", headers=bearer(site.tokens[3]),
                               json={"potencia_kw": 11.5, "desligados": ["consumo_diario"]})
    assert answer.status_code == 200
    assert answer.json["personalizado"] == {"potencia_kw": 11.5, "desligados": ["consumo_diario"]}
    assert answer.json["configuracao"]["potencia_kw"] == 11.5
    reset = site.client.patch("/usuario/alertas/configuracao/?id=3", headers=bearer(ADMIN), json={"potencia_kw": None})
    assert reset.json["personalizado"] == {"desligados": ["consumo_diario"]}
    assert reset.json["configuracao"]["potencia_kw"] == 8


@pytest.mark.parametrize("body", [b"", b"[]", b"not json", b'{"potencia": 9}', b'{"potencia_kw": "9"}',
                                  b'{"potencia_minutos": 15.0}', b'{"desligados": ["fogo"]}'])
def test_malformed_thresholds_are_400(site, body):
    answer = site.client.patch("/usuario/alertas/configuracao/?id=3", headers=bearer(site.tokens[3]), data=body)
    assert answer.status_code == 400 and answer.json["erro"]


def test_thresholds_of_another_customer_are_403_and_of_nobody_404(site):
    assert site.client.patch("/usuario/alertas/configuracao/?id=1", headers=bearer(site.tokens[3]),
                             json={"potencia_kw": 20}).status_code == 403
    assert get(site, "/usuario/alertas/configuracao/?id=1", site.tokens[3]).status_code == 403
    assert site.client.patch("/usuario/alertas/configuracao/?id=99", headers=bearer(ADMIN), json={"potencia_kw": 11}).status_code == 404
    assert site.client.patch("/usuario/alertas/configuracao/?id=1", json={}).status_code == 401


def test_the_openapi_document_describes_the_alert_routes(site):
    document = json.loads(site.client.get("/openapi.json").get_data())
    paths = document["paths"]
    assert {"/usuario/alertas/", "/usuario/alerta/reconhecer/", "/usuario/alertas/configuracao/"} <= set(paths)
    assert set(paths["/usuario/alertas/configuracao/"]) == {"get", "patch"}
    assert "post" in paths["/usuario/alerta/reconhecer/"]
    names = {ref["$ref"].rsplit("/", 1)[1] for ref in paths["/usuario/alerta/excesso/"]["get"]["parameters"]}
    assert names == {"id", "estado", "desde"}
    alert = document["components"]["schemas"]["Alerta"]
    assert alert["properties"]["estado"]["enum"] == ["aberto", "reconhecido", "encerrado"]
    assert "potencia" in alert["properties"]["tipo"]["enum"]
