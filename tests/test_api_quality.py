"""Hourly consumption with estimates, and the operator's lists, through Flask's test client.

Readings enter as the worker stores them (`ingest.store.store_batch`) into a real SQLite file.
Zone America/Sao_Paulo (UTC-3 today; UTC-2 in its summer time until 2019).

Customer 5, day 2024-01-25 (every figure by hand): a reading every 5 minutes, 100 Wh each
(1.2 kWh per hour), from 00:00 (200 000 Wh) to 06:00; silence; at 09:30 the register is 12 kWh
higher than at 06:00; then every 5 minutes again, 100 Wh each, to 00:00 of the 26th.
    hours 00-05   1.200 kWh each, 12 readings each (the 06:00 reading is hour 06's)
    hours 06-08   12 000 / 3.5 = 3 428.571 Wh each, estimated (inside the gap); shown 3.429, 3.428,
                  3.429 kWh, each the change of the rounded running total (10.629, 14.057, 17.486)
    hour  09      1 714.286 (09:00-09:30, gap) + 600 (09:30-10:00) = 2 314.286 Wh, estimated
    hours 10-23   1.200 kWh each
    day           7.2 + 12 + 14.5 x 1.2 = 36.6 kWh
Customer 6 reports every 10 minutes, 200 Wh each (1.2 kWh per hour), around two DST changes:
2018-11-04 began at 01:00 (-02:00) and lasted 23 hours; 2019-02-16 lasted 25 hours (23:00 twice).
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from api import create_app
from core.config import Settings
from core.db import make_engine, make_sessionmaker
from core.periods import to_ms
from core.wire import Reading, encode, topic_for
from ingest.store import Message, store_batch

ADMIN = "q" * 20
ZONE = ZoneInfo("America/Sao_Paulo")
MIN = 60_000


def local(*fields: int) -> int:
    return to_ms(datetime(*fields, tzinfo=ZONE))


def gap_day() -> list[tuple[int, int]]:
    day = local(2024, 1, 25)
    morning = [(day + k * 5 * MIN, 200_000 + k * 100) for k in range(73)]  # 00:00 .. 06:00
    resumed = 200_000 + 72 * 100 + 12_000
    evening = [(day + 570 * MIN + k * 5 * MIN, resumed + k * 100) for k in range(175)]  # 09:30 .. 00:00
    return morning + evening


def dst_days() -> list[tuple[int, int]]:
    readings = []
    for start, end in ((local(2018, 11, 3, 22), local(2018, 11, 5, 2)), (local(2019, 2, 15, 22), local(2019, 2, 17, 2))):
        base = readings[-1][1] + 50_000 if readings else 1_000_000
        readings += [(ts, base + (ts - start) // (10 * MIN) * 200) for ts in range(start, end + 1, 10 * MIN)]
    return readings


def store(settings: Settings, meter_id: int, readings, received: int | None = None) -> None:
    """One batch, received just after the newest reading (or at `received`)."""
    received = received or max(ts for ts, _ in readings) + 1000
    messages = [Message(topic_for(meter_id), encode(Reading(meter_id, ts, wh)), received) for ts, wh in readings]
    engine = make_engine(settings.db_url, immediate=True)
    with make_sessionmaker(engine).begin() as session:
        store_batch(session, messages, settings, received)
    engine.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def site(tmp_path_factory, backend):
    settings = backend.settings(tmp_path_factory.mktemp("quality"), ENERGY_TIMEZONE="America/Sao_Paulo",
                                ENERGY_ADMIN_TOKEN=ADMIN)
    app = create_app(settings, {"TESTING": True})
    client = app.test_client()
    tokens = {}
    for customer_id in (5, 6):
        answer = client.post("/usuario/cadastro/", json={"id": customer_id, "nome": "n", "endereco": "e"},
                             headers=bearer(ADMIN))
        tokens[customer_id] = answer.json["token"]
    store(settings, 5, gap_day())
    store(settings, 6, dst_days())
    t0 = local(2024, 3, 1)
    store(settings, 7, [(t0, 0), (t0 + 5_000, 100_000), (t0 + 10_000, 100_010)])  # a jump
    store(settings, 8, [(t0, 50_000), (t0 + 3_600_000, 300)])  # a reset
    store(settings, 9, [(t0, 50_000), (t0 + 5_000, 40_000)])  # a replacement
    now = t0 + 3_600_000
    store_raw(settings, [Message("meters/8/reading", b"garbage", now), Message("meters/9/reading", b"\x02" * 21, now),
                         Message(topic_for(8), encode(Reading(8, t0, 1)), now)])  # a conflict
    yield SimpleNamespace(client=client, tokens=tokens)
    app.extensions["energia"].database.dispose()


def store_raw(settings: Settings, messages: list[Message]) -> None:
    engine = make_engine(settings.db_url, immediate=True)
    with make_sessionmaker(engine).begin() as session:
        store_batch(session, messages, settings, messages[0].received_ms)
    engine.dispose()


def get(site, url, token=ADMIN):
    return site.client.get(url, headers=bearer(token))


# --- hours --------------------------------------------------------------------------------

def test_the_hours_of_a_day_with_a_gap_are_exact_where_measured_and_estimated_inside_it(site):
    answer = get(site, "/usuario/consumo/horas/?id=5&data=2024-01-25")
    assert answer.status_code == 200, answer.json
    document = answer.json
    hours = document["horas"]
    assert len(hours) == 24
    assert hours[0] == {"inicio": "2024-01-25T00:00:00-03:00", "fim": "2024-01-25T01:00:00-03:00",
                        "consumo_kwh": 1.2, "estimado": False, "leituras": 12}
    assert [h["estimado"] for h in hours] == [False] * 6 + [True] * 4 + [False] * 14
    assert [h["consumo_kwh"] for h in hours[5:11]] == [1.2, 3.429, 3.428, 3.429, 2.314, 1.2]
    assert [h["leituras"] for h in hours[5:11]] == [12, 1, 0, 0, 6, 12]
    assert document["consumo_kwh"] == 36.6 and document["estimado"] is True
    assert document["total_leituras"] == 247 and document["lacuna_minutos"] == 15
    assert round(sum(h["consumo_kwh"] for h in hours), 3) == document["consumo_kwh"]
    day = get(site, "/usuario/consumo/data/?id=5&data=25/01/2024").json
    assert (day["consumo_kwh"], day["total_leituras"]) == (36.6, 247)


def test_a_day_of_23_and_one_of_25_hours_across_dst(site):
    short = get(site, "/usuario/consumo/horas/?id=6&data=2018-11-04").json
    assert len(short["horas"]) == 23
    assert short["horas"][0]["inicio"] == "2018-11-04T01:00:00-02:00"
    assert short["horas"][-1]["fim"] == "2018-11-05T00:00:00-02:00"
    assert {h["consumo_kwh"] for h in short["horas"]} == {1.2} and short["consumo_kwh"] == 27.6
    long = get(site, "/usuario/consumo/horas/?id=6&data=16/02/2019").json
    assert len(long["horas"]) == 25
    assert [h["inicio"] for h in long["horas"][-2:]] == ["2019-02-16T23:00:00-02:00", "2019-02-16T23:00:00-03:00"]
    assert long["consumo_kwh"] == 30.0 and long["estimado"] is False
    assert all(h["leituras"] == 6 for h in long["horas"])


def test_every_year_form_lists_the_hours_of_each_year_and_sums_them(site):
    document = get(site, "/usuario/consumo/horas/?id=6&data=04/11/").json
    assert len(document["horas"]) == 23 + 24  # 2018 (DST began) and 2019 (no readings that day)
    assert [p["inicio"] for p in document["periodos"]] == ["2018-11-04T01:00:00-02:00", "2019-11-04T00:00:00-03:00"]
    day = get(site, "/usuario/consumo/data/?id=6&data=04/11/").json
    assert document["consumo_kwh"] == day["consumo_kwh"] == 27.6
    assert round(sum(h["consumo_kwh"] for h in document["horas"]), 3) == 27.6


def test_the_hours_route_checks_like_the_others(site):
    assert site.client.get("/usuario/consumo/horas/?id=5&data=2024-01-25").status_code == 401
    assert get(site, "/usuario/consumo/horas/?id=5&data=2024-13-01").status_code == 400
    assert get(site, "/usuario/consumo/horas/?id=5").status_code == 400
    assert get(site, "/usuario/consumo/horas/?id=5&data=2024-01-25", site.tokens[6]).status_code == 403
    assert get(site, "/usuario/consumo/horas/?id=5&data=2024-01-25", site.tokens[5]).status_code == 200
    assert get(site, "/usuario/consumo/horas/?id=77&data=2024-01-25").status_code == 404
    empty = get(site, "/usuario/consumo/horas/?id=5&data=2020-01-01").json
    assert empty["consumo_kwh"] == 0 and len(empty["horas"]) == 24 and not empty["estimado"]


# --- operator lists -----------------------------------------------------------------------

def test_flagged_steps_are_listed_newest_first_with_what_they_count(site):
    document = get(site, "/admin/leituras/sinalizadas").json
    assert document["total"] == 3 and document["proxima"] is None
    kinds = {(f["medidor"], f["tipo"]) for f in document["sinalizadas"]}
    assert kinds == {(7, "jump"), (8, "reset"), (9, "replacement")}
    assert document["sinalizadas"][0]["medidor"] == 8  # its step is the newest reading
    jump = get(site, "/admin/leituras/sinalizadas?tipo=jump").json["sinalizadas"][0]
    assert (jump["potencia_kw"], jump["consumo_contado_kwh"], jump["kwh"]) == (72000.0, 100.0, 100.0)
    assert jump["anterior"] == {"ts": "2024-03-01T00:00:00-03:00", "kwh": 0.0}
    reset = get(site, "/admin/leituras/sinalizadas?medidor=8").json["sinalizadas"]
    assert [(r["tipo"], r["consumo_contado_kwh"], r["ajuste_kwh"]) for r in reset] == [("reset", 0.3, 50.0)]
    replaced = get(site, "/admin/leituras/sinalizadas?tipo=replacement").json["sinalizadas"][0]
    assert (replaced["consumo_contado_kwh"], replaced["ajuste_kwh"]) == (0.0, 10.0)


def test_rejected_readings_are_listed_with_reason_payload_and_meter(site):
    document = get(site, "/admin/leituras/rejeitadas").json
    assert document["total"] == 3
    assert [(r["motivo"], r["medidor"]) for r in document["rejeitadas"]] == [
        ("conflict", 8), ("unknown_version", 9), ("malformed", 8)]
    assert document["rejeitadas"][2]["payload_hex"] == b"garbage".hex()
    assert get(site, "/admin/leituras/rejeitadas?motivo=conflict").json["total"] == 1
    assert get(site, "/admin/leituras/rejeitadas?medidor=8").json["total"] == 2


@pytest.mark.parametrize("path", ["/admin/leituras/rejeitadas", "/admin/leituras/sinalizadas"])
def test_the_lists_page_through_every_item_with_proxima(site, path):
    seen, url = [], f"{path}?limite=1"
    while url:
        document = get(site, url).json
        seen += document[path.rsplit("/", 1)[1]]
        url = document["proxima"] and urlsplit(document["proxima"])._replace(scheme="", netloc="").geturl()
    assert len(seen) == 3 and seen == get(site, path).json[path.rsplit("/", 1)[1]]


@pytest.mark.parametrize("path", ["/admin/leituras/rejeitadas", "/admin/leituras/sinalizadas"])
def test_only_the_admin_sees_the_lists(site, path):
    assert site.client.get(path).status_code == 401
    assert get(site, path, site.tokens[5]).status_code == 403
    assert get(site, f"{path}?medidor=07", site.tokens[5]).status_code == 400  # 400 before 403
    for bad in ("medidor=-1", "medidor=4294967296", "limite=0", "limite=1001", "apos=x", "apos=1:2"):
        answer = get(site, f"{path}?{bad}")
        assert answer.status_code == 400 and "erro" in answer.json, bad


def test_the_new_routes_are_in_the_openapi_document(site):
    paths = site.client.get("/openapi.json").json["paths"]
    for path in ("/usuario/consumo/horas/", "/admin/leituras/rejeitadas", "/admin/leituras/sinalizadas"):
        assert "get" in paths[path]
