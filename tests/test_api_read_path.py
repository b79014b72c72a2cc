"""The read path's shortcuts answer exactly what the general path answers, with fewer statements.

The data is `tests/test_api_routes.py`'s customer 1 (frozen bills 2024-02 to 2024-04, readings
at whole seconds), stored as the ingest worker stores it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import event

from api import create_app
from api.encoding import JSONProvider
from api.encoding import Encoded
from api.queries import _readings_json, _register_kwh
from api.reading_times import iso_time, iso_times
from core.money import kwh_from_wh
from core.periods import iso
from tests.test_api_routes import CUSTOMER_1, bearer, make_settings, register, store


@pytest.fixture(scope="module")
def site(tmp_path_factory, backend):
    """Customer 1 of the routes' tests behind one app, with a recorder of the SQL it runs."""
    settings = make_settings(backend, tmp_path_factory.mktemp("read-path"))
    app = create_app(settings, {"TESTING": True})
    client = app.test_client()
    token = register(client, 1)
    store(settings, 1, CUSTOMER_1)
    statements: list[str] = []
    engine = app.extensions["energia"].database.read_engine
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_rest: statements.append(sql))
    yield SimpleNamespace(client=client, token=token, statements=statements)
    app.extensions["energia"].database.dispose()


def traced(site, url: str):
    """The answer to a GET with the customer's token, and the SELECTs it ran."""
    site.statements.clear()
    answer = site.client.get(url, headers=bearer(site.token))
    return answer, [sql for sql in site.statements if sql.lstrip().upper().startswith(("SELECT", "WITH"))]


@pytest.mark.parametrize("mes", ["02", "03", "04"])
def test_a_frozen_bill_with_its_year_is_the_bill_found_without_it(site, mes):
    with_year, _ = traced(site, f"/usuario/fatura/?id=1&mes={mes}&ano=2024")
    without_year, _ = traced(site, f"/usuario/fatura/?id=1&mes={mes}")
    assert with_year.status_code == 200 and with_year.json["status"] == "fechada"
    assert with_year.json == without_year.json


def test_a_frozen_bill_takes_the_token_lookup_and_its_own_row(site):
    answer, selects = traced(site, "/usuario/fatura/?id=1&mes=03&ano=2024")
    assert answer.json["valor"] == "91.00"
    assert len(selects) == 2, selects
    assert "FROM customers" in selects[0] and "FROM bills" in selects[1]


def test_the_customer_is_read_once_per_request(site):
    answer, selects = traced(site, "/usuario/consumo/data/?id=1&data=2024-03-01")
    assert answer.status_code == 200
    assert sum("FROM customers" in sql for sql in selects) == 1, selects


def test_the_open_bill_and_other_months_still_take_the_general_path(site):
    open_bill, _ = traced(site, "/usuario/fatura/?id=1&mes=05&ano=2024")
    missing, _ = traced(site, "/usuario/fatura/?id=1&mes=07&ano=2024")
    assert open_bill.json["status"] == "aberta"
    assert missing.status_code == 404


def test_a_day_on_one_page_is_counted_from_its_page_and_a_longer_one_from_the_rollup(site):
    whole, whole_selects = traced(site, "/usuario/consumo/data/?id=1&data=2024-03-01")
    first, first_selects = traced(site, "/usuario/consumo/data/?id=1&data=2024-03-01&limite=1")
    later, later_selects = traced(site, first.json["proxima"].replace("http://localhost", ""))
    assert whole.json["proxima"] is None and whole.json["total_leituras"] == len(whole.json["leituras"]) > 2
    assert first.json["total_leituras"] == later.json["total_leituras"] == whole.json["total_leituras"]
    assert not any("count(" in sql or "FROM reading_intervals" in sql for sql in whole_selects), whole_selects
    for selects in (first_selects, later_selects):
        assert any("FROM reading_intervals" in sql for sql in selects) and not any("count(" in sql for sql in selects)


def test_a_minute_off_the_rollup_grid_is_counted_reading_by_reading(site):
    whole, _ = traced(site, "/usuario/consumo/horario/?id=1&data=2024-03-01&horario=12:00:")
    first, selects = traced(site, "/usuario/consumo/horario/?id=1&data=2024-03-01&horario=12:00:&limite=1")
    assert first.json["total_leituras"] == whole.json["total_leituras"] == len(whole.json["leituras"]) > 1
    assert any("count(" in sql for sql in selects) and not any("FROM reading_intervals" in sql for sql in selects)


def test_a_day_page_lists_readings_as_the_spec_writes_them(site):
    answer, _ = traced(site, "/usuario/consumo/data/?id=1&data=2024-03-01")
    assert answer.json["leituras"][:2] == [{"ts": "2024-03-01T02:00:00-03:00", "kwh": 1104.0},
                                           {"ts": "2024-03-01T12:00:00-03:00", "kwh": 1110.0}]
    assert answer.json["leituras"][2] == {"ts": "2024-03-01T12:00:30-03:00", "kwh": 1110.005}


ZONES = ["America/Sao_Paulo", "Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu",
         "America/St_Johns", "Pacific/Chatham", "Europe/Dublin", "Africa/Casablanca", "UTC"]


def instants_around_clock_changes() -> list[int]:
    """Every 20 minutes and 7 seconds of three years (both clock changes, from both sides), with
    milliseconds, negative instants, 5-second runs and the 1890s (offsets with seconds)."""
    instants = []
    for year in (1890, 1990, 2018, 2024):
        start = datetime(year, 1, 1, tzinfo=timezone.utc)
        instants += [int((start + timedelta(seconds=1207 * n)).timestamp() * 1000) for n in range(26_200)]
    instants += [ts + 123 for ts in instants[::97]] + [-1, -1000, -86_400_001, 0]
    instants += [ts + 5000 * step for ts in instants[::500] for step in range(40)]
    return instants


@pytest.mark.parametrize("zone", ZONES)
def test_reading_times_are_core_iso_across_clock_changes(zone):
    here = ZoneInfo(zone)
    instants = instants_around_clock_changes()
    expected = [iso(ts, here) for ts in instants]
    assert [iso_time(ts, here) for ts in instants] == expected
    assert iso_times(instants, here) == expected
    in_order = sorted(instants)  # as a page lists them
    assert iso_times(in_order, here) == [iso(ts, here) for ts in in_order]


@pytest.mark.parametrize("wh", [0, 1, 5, 999, 1000, 1_110_005, 123_456_789, -42, 2**53 + 1, 10**20 + 7])
def test_register_kwh_encodes_as_the_decimal_figure(wh):
    provider = JSONProvider(Flask(__name__))
    assert provider.dumps(_register_kwh(wh)) == provider.dumps(kwh_from_wh(wh))
    assert json.loads(provider.dumps(_register_kwh(wh))) == float(kwh_from_wh(wh))


def test_a_page_of_readings_is_the_json_the_encoder_writes():
    provider = JSONProvider(Flask(__name__))
    here = ZoneInfo("America/Sao_Paulo")
    readings = [(ts, wh) for ts, wh in zip(instants_around_clock_changes()[::50], range(0, 10**19, 3 * 10**15 + 7))]
    readings += [(1_700_000_000_123, 0), (1_700_000_000_999, 1), (-5, 999), (0, 10**20 + 7), (1, -42)]
    expected = [{"ts": iso(ts, here), "kwh": kwh_from_wh(wh)} for ts, wh in readings]
    assert _readings_json(readings, here) == provider.dumps(expected, separators=(",", ":"))
    assert _readings_json([], here) == "[]"


@pytest.mark.parametrize("debug", [False, True])
def test_encoded_values_are_spliced_into_the_answer_as_jsonify_writes_it(debug):
    app = Flask(__name__)
    app.json = JSONProvider(app)
    app.debug = debug  # debug mode indents
    document = {"id": 7, "leituras": [{"ts": "2024-03-01T02:00:00-03:00", "kwh": 1104.5}], "data": "01/03/", "nada": None}
    spliced = dict(document, leituras=Encoded('[{"ts":"2024-03-01T02:00:00-03:00","kwh":1104.5}]'))
    with app.app_context():
        assert app.json.response(spliced).get_data() == app.json.response(document).get_data()
