"""The HTTP routes of SPEC §5 through Flask's test client, on a real SQLite file.

Readings enter the way the ingest worker stores them (`ingest.store.store_batch`, one batch per
reading, received one second after it was taken), so bills are frozen and alerts raised as in
production. Every figure below is worked out by hand in the comments.

Customer 1 (registered first, then its meter reports; zone America/Sao_Paulo, UTC-3; cycles
close on the 10th at 00:00; 0.65 BRL/kWh):

    R1  2024-01-20 00:00     1 000 000 Wh   first reading: cycle 2024-02 [01-10, 02-10) is partial
    R2  2024-02-10 00:00     1 050 000      closes 2024-02: 1 050 000 - 1 000 000 = 50 kWh, R$ 32.50
    R3  2024-02-29 22:00     1 100 000
    R4  2024-03-01 02:00     1 104 000      midnight 03-01 interpolated: 1 100 000 + 4 000 * 2/4 = 1 102 000
    R5  2024-03-01 12:00:00  1 110 000
    R6  2024-03-01 12:00:30  1 110 005
    R7  2024-03-01 12:01:00  1 110 010
    R8  2024-03-01 20:00     1 120 000
    R9  2024-03-02 04:00     1 128 000      midnight 03-02: 1 120 000 + 8 000 * 4/8 = 1 124 000
    R10 2024-03-10 00:00     1 190 000      closes 2024-03: 1 190 000 - 1 050 000 = 140 kWh, R$ 91.00
                                            (variation |140 - 50| = 90 < 100: none; excess needs
                                            mean(50) + 150 = 200 kWh: none)
    R11 2024-03-20 00:00     1 300 000
    R12 2024-04-05 00:00     1 440 000      excess for 2024-04: mean(50, 140) + 150 = 245 kWh, i.e. a
                                            register of 1 190 000 + 245 000 = 1 435 000; R12 is the first
                                            reading past it, at 250 kWh into the cycle
    R13 2024-04-10 00:00     1 450 000      closes 2024-04: 260 kWh, R$ 169.00; variation |260 - 140| =
                                            120 >= 100: raised
    R14 2024-04-20 00:00     1 480 000      open cycle 2024-05 [04-10, 05-10): 30 kWh (R$ 19.50) in 10 of
                                            its 30 days, projected to 90 kWh (R$ 58.50); the next excess
                                            needs mean(50, 140, 260) + 150 = 300 kWh: none

Customer 2's meter reports before it registers (its readings become its own at registration):

    S1 2023-02-28 12:00  10 000     S4 2024-03-01 00:00  1 000 000
    S2 2023-03-01 12:00  34 000     S5 2024-03-01 06:00  1 003 000
    S3 2023-03-02 12:00  58 000     S6 2024-03-02 00:00  1 012 000

Customer 3 has no readings at all.
"""

from __future__ import annotations

import json
from datetime import datetime
from types import SimpleNamespace
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from api import create_app
from core.config import Settings
from core.db import make_engine, make_sessionmaker
from core.periods import to_ms
from core.wire import Reading as Wire
from core.wire import encode, topic_for
from ingest.store import Message, store_batch

ADMIN = "x" * 20
ZONE = ZoneInfo("America/Sao_Paulo")


def local_ms(*fields: int) -> int:
    return to_ms(datetime(*fields, tzinfo=ZONE))


CUSTOMER_1 = [
    (local_ms(2024, 1, 20), 1_000_000),
    (local_ms(2024, 2, 10), 1_050_000),
    (local_ms(2024, 2, 29, 22), 1_100_000),
    (local_ms(2024, 3, 1, 2), 1_104_000),
    (local_ms(2024, 3, 1, 12, 0, 0), 1_110_000),
    (local_ms(2024, 3, 1, 12, 0, 30), 1_110_005),
    (local_ms(2024, 3, 1, 12, 1, 0), 1_110_010),
    (local_ms(2024, 3, 1, 20), 1_120_000),
    (local_ms(2024, 3, 2, 4), 1_128_000),
    (local_ms(2024, 3, 10), 1_190_000),
    (local_ms(2024, 3, 20), 1_300_000),
    (local_ms(2024, 4, 5), 1_440_000),
    (local_ms(2024, 4, 10), 1_450_000),
    (local_ms(2024, 4, 20), 1_480_000),
]
CUSTOMER_2 = [
    (local_ms(2023, 2, 28, 12), 10_000),
    (local_ms(2023, 3, 1, 12), 34_000),
    (local_ms(2023, 3, 2, 12), 58_000),
    (local_ms(2024, 3, 1, 0), 1_000_000),
    (local_ms(2024, 3, 1, 6), 1_003_000),
    (local_ms(2024, 3, 2, 0), 1_012_000),
]
ROUTES = ["/usuario/", "/usuario/fatura/", "/usuario/consumo/", "/usuario/consumo/data/",
          "/usuario/consumo/horario/", "/usuario/alerta/variacao/", "/usuario/alerta/excesso/"]


def make_settings(backend, data_dir) -> Settings:
    return backend.settings(data_dir, ENERGY_TIMEZONE="America/Sao_Paulo", ENERGY_ADMIN_TOKEN=ADMIN)


def store(settings: Settings, meter_id: int, readings) -> None:
    """Store readings as the worker would: one batch each, received a second after."""
    engine = make_engine(settings.db_url, immediate=True)
    sessions = make_sessionmaker(engine)
    for ts, wh in readings:
        received = ts + 1000
        with sessions.begin() as session:
            store_batch(session, [Message(topic_for(meter_id), encode(Wire(meter_id, ts, wh)), received)], settings, received)
    engine.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register(client, customer_id: int, nome: str = "vitor", endereco: str = "rua c") -> str:
    answer = client.post("/usuario/cadastro/", json={"id": customer_id, "nome": nome, "endereco": endereco},
                         headers=bearer(ADMIN))
    assert answer.status_code == 201, answer.json
    return answer.json["token"]


@pytest.fixture(scope="module")
def site(tmp_path_factory, backend):
    """The three customers above, behind one app."""
    settings = make_settings(backend, tmp_path_factory.mktemp("site"))
    app = create_app(settings, {"TESTING": True})
    client = app.test_client()
    token_1 = register(client, 1)
    store(settings, 1, CUSTOMER_1)
    store(settings, 2, CUSTOMER_2)
    token_2 = register(client, 2, "ana", "rua b")
    token_3 = register(client, 3, "rui", "rua d")
    yield SimpleNamespace(client=client, tokens={1: token_1, 2: token_2, 3: token_3}, settings=settings)
    app.extensions["energia"].database.dispose()


@pytest.fixture
def fresh(tmp_path, backend):
    """An empty app of its own, for tests that register and delete."""
    settings = make_settings(backend, tmp_path / "data")
    app = create_app(settings, {"TESTING": True})
    yield SimpleNamespace(client=app.test_client(), settings=settings)
    app.extensions["energia"].database.dispose()


def get(site, url, token=ADMIN):
    return site.client.get(url, headers=bearer(token))


# --- customer -----------------------------------------------------------------------------

def test_customer_shows_the_accumulated_total_and_latest_reading(site):
    answer = get(site, "/usuario/?id=1")
    assert answer.status_code == 200
    document = answer.json
    assert document["id"] == 1 and document["nome"] == "vitor" and document["endereco"] == "rua c"
    assert document["consumo_total_kwh"] == 480.0  # 1 480 000 - 1 000 000 Wh
    assert document["leitura_atual_kwh"] == 1480.0
    assert document["ultima_leitura"] == "2024-04-20T00:00:00-03:00"
    assert document["primeira_leitura"] == "2024-01-20T00:00:00-03:00"
    assert document["total_leituras"] == 14
    assert "token" not in document


def test_customer_without_readings_has_null_latest_reading(site):
    document = get(site, "/usuario/?id=3").json
    assert document["consumo_total_kwh"] == 0
    assert document["leitura_atual_kwh"] is None and document["ultima_leitura"] is None


def test_readings_sent_before_registration_belong_to_the_customer(site):
    document = get(site, "/usuario/?id=2", site.tokens[2]).json
    assert document["consumo_total_kwh"] == 1002.0  # 1 012 000 - 10 000 Wh
    assert document["total_leituras"] == 6


def test_json_types_are_as_the_spec_says(site):
    raw = get(site, "/usuario/fatura/?id=1&mes=2").get_data(as_text=True)
    assert '"consumo_kwh":50.0' in raw and '"valor":"32.50"' in raw


# --- bills --------------------------------------------------------------------------------

@pytest.mark.parametrize("query, consumo, valor", [
    ("mes=2", 50.0, "32.50"),
    ("mes=02&ano=2024", 50.0, "32.50"),
    ("mes=2024-03", 140.0, "91.00"),
    ("mes=4", 260.0, "169.00"),
])
def test_closed_bills(site, query, consumo, valor):
    answer = get(site, f"/usuario/fatura/?id=1&{query}")
    assert answer.status_code == 200, answer.json
    bill = answer.json
    assert bill["status"] == "fechada"
    assert bill["consumo_kwh"] == consumo and bill["consumo_faturado_kwh"] == consumo
    assert bill["valor"] == valor
    assert [item["valor"] for item in bill["itens"]] == [valor]
    assert "projecao_kwh" not in bill


def test_a_bill_covers_its_cycle(site):
    bill = get(site, "/usuario/fatura/?id=1&mes=2").json
    assert (bill["id"], bill["ano"], bill["mes"]) == (1, 2024, 2)
    assert bill["inicio"] == "2024-01-10T00:00:00-03:00"
    assert bill["fim"] == "2024-02-10T00:00:00-03:00"


def test_the_open_bill_has_a_projection(site):
    bill = get(site, "/usuario/fatura/?id=1&mes=5").json
    assert bill["status"] == "aberta"
    assert bill["consumo_kwh"] == 30.0 and bill["valor"] == "19.50"
    assert bill["projecao_kwh"] == 90.0 and bill["projecao_valor"] == "58.50"  # 30 kWh in 10 of 30 days


@pytest.mark.parametrize("query", ["mes=1", "mes=6", "mes=3&ano=2023", "mes=2024-03&ano=2023", "mes=2025-02"])
def test_months_without_a_bill_are_404(site, query):
    answer = get(site, f"/usuario/fatura/?id=1&{query}")
    assert answer.status_code == 404
    assert answer.json["erro"]


def test_without_ano_the_latest_year_with_that_bill(site):
    # customer 2 has bills for cycles 2023-03 .. 2024-03: mes=3 is March 2024, mes=4 April 2023
    assert get(site, "/usuario/fatura/?id=2&mes=3").json["ano"] == 2024
    assert get(site, "/usuario/fatura/?id=2&mes=4").json["ano"] == 2023


def test_a_customer_without_readings_has_no_bills(site):
    assert get(site, "/usuario/fatura/?id=3&mes=3").status_code == 404


@pytest.mark.parametrize("query", ["mes=13", "mes=", "", "mes=3&ano=24", "mes=2024-3"])
def test_malformed_months_are_400(site, query):
    answer = get(site, f"/usuario/fatura/?id=1&{query}")
    assert answer.status_code == 400 and answer.json["erro"]


# --- consumption --------------------------------------------------------------------------

def test_all_consumption_pages_until_proxima_is_null(site):
    url, pages, seen = "/usuario/consumo/?id=1&limite=5", 0, []
    while url:
        document = get(site, url).json
        assert document["consumo_kwh"] == 480.0 and document["total_leituras"] == 14
        seen += document["leituras"]
        pages += 1
        url = document["proxima"]
        if url:
            assert url.startswith("http://localhost/usuario/consumo/?")
            url = urlsplit(url)._replace(scheme="", netloc="").geturl()
    assert pages == 3  # 5 + 5 + 4
    assert [reading["kwh"] for reading in seen] == [wh / 1000 for _, wh in CUSTOMER_1]
    assert seen[0] == {"ts": "2024-01-20T00:00:00-03:00", "kwh": 1000.0}


def test_one_page_holds_everything_by_default(site):
    document = get(site, "/usuario/consumo/?id=1").json
    assert len(document["leituras"]) == 14 and document["proxima"] is None


@pytest.mark.parametrize("data", ["2024-03-01", "01/03/2024"])
def test_a_day_interpolates_the_register_at_both_midnights(site, data):
    document = get(site, f"/usuario/consumo/data/?id=1&data={data}").json
    assert document["consumo_kwh"] == 22.0  # 1 124 000 - 1 102 000 Wh
    assert document["total_leituras"] == 5
    assert [r["ts"][11:19] for r in document["leituras"]] == ["02:00:00", "12:00:00", "12:00:30", "12:01:00", "20:00:00"]
    assert document["periodos"] == [{"inicio": "2024-03-01T00:00:00-03:00", "fim": "2024-03-02T00:00:00-03:00"}]


def test_a_day_paginates(site):
    first = get(site, "/usuario/consumo/data/?id=1&data=2024-03-01&limite=2").json
    second = site.client.get(first["proxima"], headers=bearer(ADMIN)).json
    third = site.client.get(second["proxima"], headers=bearer(ADMIN)).json
    assert [len(page["leituras"]) for page in (first, second, third)] == [2, 2, 1]
    assert third["proxima"] is None and third["total_leituras"] == 5


def test_the_same_day_every_year_is_summed(site):
    # 2023-03-01: 46 000 - 22 000 = 24 kWh (S1..S3 at 1 kW); 2024-03-01: 1 012 000 - 1 000 000 = 12 kWh
    document = get(site, "/usuario/consumo/data/?id=2&data=01/03/", site.tokens[2]).json
    assert document["consumo_kwh"] == 36.0
    assert document["total_leituras"] == 3
    assert [r["ts"] for r in document["leituras"]] == [
        "2023-03-01T12:00:00-03:00", "2024-03-01T00:00:00-03:00", "2024-03-01T06:00:00-03:00"]
    assert len(document["periodos"]) == 2


def test_every_year_paginates_across_years(site):
    url, stamps = "/usuario/consumo/data/?id=2&data=01/03/&limite=1", []
    while url:
        document = get(site, url).json
        stamps += [r["ts"] for r in document["leituras"]]
        url = document["proxima"]
    assert len(stamps) == 3 and stamps == sorted(stamps)


def test_29_february_skips_common_years(site):
    # only 2024 has it: S3 -> S4 climbs 942 000 Wh in 364.5 days, so one day is 2 584.36 Wh
    document = get(site, "/usuario/consumo/data/?id=2&data=29/02/").json
    assert document["consumo_kwh"] == 2.584
    assert document["total_leituras"] == 0 and document["leituras"] == []
    assert document["periodos"] == [{"inicio": "2024-02-29T00:00:00-03:00", "fim": "2024-03-01T00:00:00-03:00"}]


def test_a_day_without_readings_is_zero(site):
    document = get(site, "/usuario/consumo/data/?id=3&data=2024-03-01").json
    assert document["consumo_kwh"] == 0 and document["total_leituras"] == 0 and document["proxima"] is None
    assert get(site, "/usuario/consumo/data/?id=3&data=01/03/").json["periodos"] == []


def test_a_minute(site):
    document = get(site, "/usuario/consumo/horario/?id=1&data=2024-03-01&horario=12:00:").json
    assert document["consumo_kwh"] == 0.01  # 1 110 010 - 1 110 000 Wh
    assert [r["ts"] for r in document["leituras"]] == ["2024-03-01T12:00:00-03:00", "2024-03-01T12:00:30-03:00"]
    assert document["total_leituras"] == 2
    assert document["periodos"] == [{"inicio": "2024-03-01T12:00:00-03:00", "fim": "2024-03-01T12:01:00-03:00"}]


def test_a_second(site):
    document = get(site, "/usuario/consumo/horario/?id=1&data=01/03/2024&horario=12:00:30").json
    assert document["total_leituras"] == 1
    assert document["leituras"] == [{"ts": "2024-03-01T12:00:30-03:00", "kwh": 1110.005}]
    assert document["consumo_kwh"] == 0.0  # 5 Wh per 30 s: 0.17 Wh in that second


def test_a_minute_every_year(site):
    # 2023: 1 kW, 16.67 Wh in the minute; 2024: 9 000 Wh in 18 h = 500 W, 8.33 Wh: 25 Wh in all
    document = get(site, "/usuario/consumo/horario/?id=2&data=01/03/&horario=12:00:").json
    assert document["consumo_kwh"] == 0.025
    assert [r["ts"] for r in document["leituras"]] == ["2023-03-01T12:00:00-03:00"]


@pytest.mark.parametrize("query", ["data=2023-02-30", "data=2024-03-01&horario=24:00:", "data=2024-03-01&horario=12:00",
                                   "data=2024-03-01", "horario=12:00:", "data=32/01/&horario=12:00:"])
def test_malformed_day_or_time_is_400(site, query):
    answer = get(site, f"/usuario/consumo/horario/?id=1&{query}")
    assert answer.status_code == 400 and answer.json["erro"]


# --- alerts -------------------------------------------------------------------------------

def test_the_excess_alert(site):
    document = get(site, "/usuario/alerta/excesso/?id=1").json
    assert document["id"] == 1 and document["alerta"] is True
    [alert] = document["alertas"]
    assert alert["tipo"] == "excesso" and (alert["ano"], alert["mes"]) == (2024, 4)
    assert alert["criado_em"] == "2024-04-05T00:00:01-03:00"  # R12 was received a second after it was taken
    details = alert["detalhes"]
    assert details["consumo_kwh"] == 250.0 and details["limite_kwh"] == 245.0
    assert details["leitura"] == "2024-04-05T00:00:00-03:00"


def test_the_variation_alert(site):
    document = get(site, "/usuario/alerta/variacao/?id=1", site.tokens[1]).json
    assert document["alerta"] is True
    [alert] = document["alertas"]
    assert alert["tipo"] == "variacao" and (alert["ano"], alert["mes"]) == (2024, 4)
    details = alert["detalhes"]
    assert (details["consumo_kwh"], details["consumo_anterior_kwh"], details["diferenca_kwh"]) == (260.0, 140.0, 120.0)
    assert details["leitura"] == "2024-04-10T00:00:00-03:00"


def test_no_alerts_is_false_and_empty(site):
    assert get(site, "/usuario/alerta/excesso/?id=3").json == {"id": 3, "tipo": "excesso", "alerta": False, "alertas": []}


def test_alerts_filter_by_state(site):
    assert len(get(site, "/usuario/alerta/excesso/?id=1&estado=aberto").json["alertas"]) == 1
    assert get(site, "/usuario/alerta/excesso/?id=1&estado=resolvido").json["alerta"] is False


# --- authentication and the order of checks -----------------------------------------------

def test_no_token_is_401_before_anything_else(site):
    for route in ROUTES:
        answer = site.client.get(f"{route}?id=abc")
        assert answer.status_code == 401, route
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert answer.json["erro"]


@pytest.mark.parametrize("header", ["Bearer nope", "Basic eHh4", "Bearer", "bearer  ", ADMIN, f"Token {ADMIN}"])
def test_unknown_tokens_are_401(site, header):
    assert site.client.get("/usuario/?id=1", headers={"Authorization": header}).status_code == 401


def test_the_bearer_scheme_is_case_insensitive(site):
    assert site.client.get("/usuario/?id=1", headers={"Authorization": f"bearer {ADMIN}"}).status_code == 200


def test_check_order_for_a_customer_token(site):
    token = site.tokens[1]
    assert get(site, "/usuario/?id=1", token).status_code == 200
    assert get(site, "/usuario/?id=abc", token).status_code == 400  # malformed before foreign
    assert get(site, "/usuario/?id=2", token).status_code == 403  # someone else's
    assert get(site, "/usuario/?id=999", token).status_code == 403  # never reveals which ids exist
    assert get(site, "/usuario/?id=999").status_code == 404  # only the admin learns it is absent
    for route in ROUTES:
        assert get(site, f"{route}?id=2&mes=3&data=2024-03-01&horario=12:00:", token).status_code == 403, route


def test_customer_tokens_may_not_register_or_delete(site):
    token = site.tokens[1]
    answer = site.client.post("/usuario/cadastro/", json={"id": 50, "nome": "a", "endereco": "b"}, headers=bearer(token))
    assert answer.status_code == 403
    assert site.client.post("/usuario/cadastro/", json={"id": 0}, headers=bearer(token)).status_code == 400
    assert site.client.delete("/usuario/delete/?id=1", headers=bearer(token)).status_code == 403
    assert site.client.delete("/usuario/delete/?id=x", headers=bearer(token)).status_code == 400
    assert get(site, "/usuario/?id=1").status_code == 200


@pytest.mark.parametrize("query", ["", "id=", "id=abc", "id=-1", "id=1e3", "id=01", "id=0", "id=4294967296",
                                   "id=1&id=2", "id=1%00"])
def test_malformed_ids_are_400_on_every_route(site, query):
    for route in ROUTES:
        answer = get(site, f"{route}?{query}&mes=3&data=2024-03-01&horario=12:00:")
        assert answer.status_code == 400, (route, query)
        assert answer.json["erro"]


def test_the_largest_id_is_well_formed(site):
    assert get(site, "/usuario/?id=4294967295").status_code == 404


# --- shape of the HTTP answers ------------------------------------------------------------

def test_the_trailing_slash_is_optional(site):
    for route in ROUTES:
        url = f"{route.rstrip('/')}?id=1&mes=3&data=2024-03-01&horario=12:00:"
        answer = get(site, url)
        assert answer.status_code == 200, route


def test_unknown_routes_and_methods_answer_json(site):
    answer = get(site, "/usuario/nada/")
    assert answer.status_code == 404 and answer.json["erro"]
    answer = site.client.put("/usuario/?id=1", headers=bearer(ADMIN))
    assert answer.status_code == 405 and answer.json["erro"] and "GET" in answer.headers["Allow"]
    assert site.client.get("/usuario/cadastro/", headers=bearer(ADMIN)).status_code == 405
    assert get(site, "/usuario//fatura/?id=1&mes=3").status_code == 404


def test_query_strings_up_to_8_kib_reach_the_app(site):
    prefix = "/usuario/?id=1&x="
    padding = "a" * (8192 - len(prefix) + len("/usuario/?"))
    assert len(f"id=1&x={padding}") == 8192
    assert get(site, prefix + padding).status_code == 200
    answer = get(site, prefix + padding + "a")
    assert answer.status_code == 414 and answer.json["erro"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_large_bodies_are_413(site):
    answer = site.client.post("/usuario/cadastro/", data=b"{" + b" " * 70_000 + b"}", headers=bearer(ADMIN))
    assert answer.status_code == 413 and answer.json["erro"]


def test_security_headers(site):
    answer = get(site, "/usuario/?id=1")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["Cache-Control"] == "no-store"
    page = site.client.get("/")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_the_sign_in_page(site):
    page = site.client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert '<html lang="pt-BR">' in text and 'name="token"' in text
    accepted = site.client.post("/", data={"token": site.tokens[1]})
    assert accepted.status_code == 303 and accepted.headers["Location"] == "/painel/"
    refused = site.client.post("/", data={"token": "nope"})
    assert refused.status_code == 200 and "Token desconhecido" in refused.get_data(as_text=True)


def test_health_and_openapi_need_no_token(site):
    assert site.client.get("/healthz").json == {"status": "ok"}
    document = json.loads(site.client.get("/openapi.json").get_data())
    assert document["openapi"].startswith("3.")
    assert {"/usuario/", "/usuario/fatura/", "/usuario/consumo/", "/usuario/consumo/data/",
            "/usuario/consumo/horario/", "/usuario/alerta/variacao/", "/usuario/alerta/excesso/",
            "/usuario/cadastro/", "/usuario/delete/"} <= set(document["paths"])


# --- cadastro and delete ------------------------------------------------------------------

def test_cadastro_answers_201_with_the_customer_and_its_token(fresh):
    answer = fresh.client.post("/usuario/cadastro", json={"id": 3, "nome": "vitor", "endereco": "rua c"},
                               headers=bearer(ADMIN))
    assert answer.status_code == 201
    document = answer.json
    assert (document["id"], document["nome"], document["endereco"]) == (3, "vitor", "rua c")
    assert document["consumo_total_kwh"] == 0 and document["ultima_leitura"] is None
    assert answer.headers["Location"] == "/usuario/?id=3"
    assert fresh.client.get("/usuario/?id=3", headers=bearer(document["token"])).status_code == 200


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[]", b'{"id": 3}', b'{"id": "3", "nome": "a", "endereco": "b"}',
    b'{"id": 3.0, "nome": "a", "endereco": "b"}', b'{"id": true, "nome": "a", "endereco": "b"}',
    b'{"id": 4294967296, "nome": "a", "endereco": "b"}', b'{"id": 3, "nome": "", "endereco": "b"}',
    json.dumps({"id": 3, "nome": "n" * 201, "endereco": "b"}).encode(),
])
def test_cadastro_rejects_malformed_bodies(fresh, body):
    answer = fresh.client.post("/usuario/cadastro/", data=body, headers=bearer(ADMIN))
    assert answer.status_code == 400 and answer.json["erro"]


def test_cadastro_accepts_json_whatever_the_content_type(fresh):
    answer = fresh.client.post("/usuario/cadastro/", data=b'{"id": 9, "nome": "a", "endereco": "b"}',
                               content_type="text/plain", headers=bearer(ADMIN))
    assert answer.status_code == 201


def test_cadastro_of_an_existing_id_is_409(fresh):
    register(fresh.client, 4)
    answer = fresh.client.post("/usuario/cadastro/", json={"id": 4, "nome": "b", "endereco": "c"}, headers=bearer(ADMIN))
    assert answer.status_code == 409 and answer.json["erro"]


def test_cadastro_needs_a_token(fresh):
    assert fresh.client.post("/usuario/cadastro/", json={"id": 4, "nome": "b", "endereco": "c"}).status_code == 401


def test_delete_then_register_again_starts_empty(fresh):
    old_token = register(fresh.client, 1)
    store(fresh.settings, 1, CUSTOMER_1)
    assert fresh.client.get("/usuario/alerta/variacao/?id=1", headers=bearer(ADMIN)).json["alerta"] is True

    answer = fresh.client.delete("/usuario/delete/?id=1", headers=bearer(ADMIN))
    assert answer.status_code == 200 and answer.json == {"id": 1, "removido": True}
    assert fresh.client.delete("/usuario/delete?id=1", headers=bearer(ADMIN)).status_code == 404
    assert fresh.client.get("/usuario/?id=1", headers=bearer(ADMIN)).status_code == 404
    assert fresh.client.get("/usuario/?id=1", headers=bearer(old_token)).status_code == 401

    new_token = register(fresh.client, 1, "outra pessoa", "rua nova")
    customer = fresh.client.get("/usuario/?id=1", headers=bearer(new_token)).json
    assert customer["nome"] == "outra pessoa" and customer["consumo_total_kwh"] == 0
    assert customer["ultima_leitura"] is None and customer["total_leituras"] == 0
    assert fresh.client.get("/usuario/fatura/?id=1&mes=3", headers=bearer(new_token)).status_code == 404
    for tipo in ("variacao", "excesso"):
        assert fresh.client.get(f"/usuario/alerta/{tipo}/?id=1", headers=bearer(new_token)).json["alertas"] == []
    assert fresh.client.get("/usuario/consumo/?id=1", headers=bearer(new_token)).json["leituras"] == []


def test_delete_of_an_absent_customer_is_404(fresh):
    assert fresh.client.delete("/usuario/delete/?id=77", headers=bearer(ADMIN)).status_code == 404


def test_an_unexpected_error_is_a_logged_json_500(tmp_path, backend, caplog):
    app = create_app(make_settings(backend, tmp_path / "data"), {"TESTING": True})

    def broken():
        raise RuntimeError("a bug")

    app.add_url_rule("/broken", view_func=broken)
    answer = app.test_client().get("/broken")
    assert answer.status_code == 500 and answer.json["erro"]
    assert "RuntimeError: a bug" in caplog.text  # with its traceback
    app.extensions["energia"].database.dispose()


def test_a_late_reading_before_the_first_opens_earlier_closed_bills(fresh):
    # The meter first reports in cycle 2024-04, then a reading from 2024-01-05 arrives late:
    # cycles 2024-01 .. 2024-03 now lie between readings, so they are closed bills too.
    # 900 000 Wh on 01-05 to 1 000 000 Wh on 03-15 is 100 000 Wh over 70 days; the cycle
    # [01-10, 02-10) holds 31 of those days: 44 285.714 Wh, 44.286 kWh, R$ 28.79.
    token = register(fresh.client, 7)
    store(fresh.settings, 7, [(local_ms(2024, 3, 15), 1_000_000), (local_ms(2024, 3, 20), 1_010_000)])
    assert fresh.client.get("/usuario/fatura/?id=7&mes=2", headers=bearer(token)).status_code == 404
    store(fresh.settings, 7, [(local_ms(2024, 1, 5), 900_000)])
    bill = fresh.client.get("/usuario/fatura/?id=7&mes=2", headers=bearer(token)).json
    assert bill["status"] == "fechada"
    assert bill["consumo_kwh"] == 44.286 and bill["valor"] == "28.79"
    assert fresh.client.get("/usuario/fatura/?id=7&mes=4", headers=bearer(token)).json["status"] == "aberta"
