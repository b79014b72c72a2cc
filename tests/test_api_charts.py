"""Consumption by hour, day and month for the charts, as JSON and CSV, and the live figures.

Customer 7 has a year of a household's readings (tests/support/household.py) up to 14:55 on
2024-03-20, every hour for the last 35 days and every 6 hours before, always on local midnight:
the energy of a day, an hour or a month is then the difference of two stored readings, which is
how the expected figures below are computed by hand.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from werkzeug.datastructures import MultiDict

from api import create_app, db
from api.charts import parse_span
from api.live import live_document
from core.models import Customer
from core.periods import to_ms
from tests.support import household
from tests.support.seeding import register_customer, store_readings

ADMIN = "operator-token-for-tests"
ZONE = ZoneInfo("America/Sao_Paulo")
END = to_ms(datetime(2024, 3, 20, 15, tzinfo=ZONE))
READINGS = household.readings(END, ZONE)
REGISTER = dict(READINGS)


def local(*parts: int) -> int:
    return to_ms(datetime(*parts, tzinfo=ZONE))


def kwh_between(start: int, end: int) -> float:
    """The hand figure: two stored readings apart, in kWh."""
    return float(Decimal(REGISTER[end] - REGISTER[start]) / 1000)


@pytest.fixture(scope="module")
def site(tmp_path_factory, backend):
    """The app with customer 7 (readings) and 8 (none); yields (app, settings, token of 8)."""
    data = tmp_path_factory.mktemp("charts") / "data"
    settings = backend.settings(data, ENERGY_ADMIN_TOKEN=ADMIN)
    register_customer(settings, 7, "Ana Souza", "Rua A, 7", READINGS[0][0])
    other = register_customer(settings, 8, "Bruno Lima", "Rua B, 8", READINGS[0][0])
    store_readings(settings, 7, READINGS, END)
    app = create_app(settings)
    yield app, settings, other
    app.extensions["energia"].database.dispose()


def get(app, path: str, token: str = ADMIN, **query):
    return app.test_client().get(path, query_string=query, headers={"Authorization": f"Bearer {token}"})


def test_each_day_is_what_consumo_data_answers_and_the_readings_say(site):
    app, *_ = site
    series = get(app, "/usuario/consumo/serie/", id=7, escala="dia", inicio="2024-03-01", fim="19/03/2024").json
    assert (series["de"], series["ate"], len(series["intervalos"])) == ("2024-03-01", "2024-03-19", 19)
    for number, interval in enumerate(series["intervalos"], start=1):
        day = get(app, "/usuario/consumo/data/", id=7, data=f"2024-03-{number:02d}").json
        assert interval["consumo_kwh"] == day["consumo_kwh"] == kwh_between(local(2024, 3, number), local(2024, 3, number + 1))
        assert interval["inicio"] == f"2024-03-{number:02d}T00:00:00-03:00" and interval["medido"]
    assert series["consumo_kwh"] == kwh_between(local(2024, 3, 1), local(2024, 3, 20))


def test_hours_of_a_day_are_the_hourly_steps_of_the_register(site):
    app, *_ = site
    series = get(app, "/usuario/consumo/serie/", id=7, escala="hora", inicio="2024-03-19", fim="2024-03-19").json
    assert len(series["intervalos"]) == 24
    expected = [kwh_between(local(2024, 3, 19, hour), local(2024, 3, 19) + (hour + 1) * 3_600_000) for hour in range(24)]
    assert [interval["consumo_kwh"] for interval in series["intervalos"]] == expected
    assert series["intervalos"][14]["inicio"] == "2024-03-19T14:00:00-03:00"


def test_months_and_what_was_never_measured(site):
    app, *_ = site
    series = get(app, "/usuario/consumo/serie/", id=7, escala="mes", inicio="2023-01-01", fim="2024-04-30").json
    months = series["intervalos"]
    assert [month["inicio"][:7] for month in months][:3] == ["2023-01", "2023-02", "2023-03"]
    first = READINGS[0][0]  # 2023-02-19: January has nothing, February counts from the first reading
    assert (months[0]["medido"], months[0]["consumo_kwh"]) == (False, 0.0)
    assert months[1]["medido"] and months[1]["consumo_kwh"] == kwh_between(first, local(2023, 3, 1))
    assert months[6]["consumo_kwh"] == kwh_between(local(2023, 7, 1), local(2023, 8, 1))
    # March 2024 ends at the latest reading; April has nothing yet.
    assert months[14]["consumo_kwh"] == kwh_between(local(2024, 3, 1), READINGS[-1][0])
    assert (months[15]["medido"], months[15]["consumo_kwh"]) == (False, 0.0)
    assert series["consumo_kwh"] == kwh_between(first, READINGS[-1][0])


def test_the_csv_is_a_brazilian_spreadsheet_of_the_same_intervals(site):
    app, *_ = site
    answer = get(app, "/usuario/consumo/serie.csv", id=7, escala="dia", inicio="2024-03-18", fim="2024-03-21")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="consumo-7-dia-2024-03-18-a-2024-03-21.csv"'
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True)), delimiter=";"))
    assert rows[0] == ["inicio", "fim", "consumo_kwh", "estimado"]
    march_18 = kwh_between(local(2024, 3, 18), local(2024, 3, 19))
    assert rows[1] == ["18/03/2024 00:00", "19/03/2024 00:00", f"{march_18:.3f}".replace(".", ","), ""]
    assert rows[3][2] == f"{kwh_between(local(2024, 3, 20), READINGS[-1][0]):.3f}".replace(".", ",")
    assert rows[4] == ["21/03/2024 00:00", "22/03/2024 00:00", "", ""]  # after the latest reading
    assert len(rows) == 5


@pytest.mark.parametrize("query, message", [
    ({"id": 7}, "escala"),
    ({"id": 7, "escala": "semana"}, "escala"),
    ({"id": 7, "escala": "dia", "inicio": "2024-02-30"}, "inicio"),
    ({"id": 7, "escala": "dia", "fim": "20-03-2024"}, "fim"),
    ({"id": 7, "escala": "dia", "inicio": "1999-12-31", "fim": "2000-01-01"}, "2000"),
])
def test_malformed_periods_are_400_with_what_to_send(site, query, message):
    app, *_ = site
    for path in ("/usuario/consumo/serie/", "/usuario/consumo/serie.csv"):
        answer = get(app, path, **query)
        assert answer.status_code == 400 and message in answer.json["erro"]


def test_the_spec_order_holds_401_400_403_404(site):
    app, _, other = site
    assert app.test_client().get("/usuario/consumo/serie/?id=7&escala=dia").status_code == 401
    assert get(app, "/usuario/consumo/serie/", token=other, id=7, escala="ano").status_code == 400
    assert get(app, "/usuario/consumo/serie/", token=other, id=7, escala="dia").status_code == 403
    assert get(app, "/usuario/consumo/serie.csv", token=other, id=7, escala="dia").status_code == 403
    assert get(app, "/usuario/consumo/serie/", id=9, escala="dia").status_code == 404
    assert get(app, "/usuario/agora/", token=other, id=7).status_code == 403


def test_without_dates_the_series_end_today(site):
    app, *_ = site
    before = datetime.now(ZONE).date()
    series = get(app, "/usuario/consumo/serie/", id=8, escala="dia").json
    after = datetime.now(ZONE).date()  # the same day unless midnight passed during the request
    assert any(series["ate"] == today.isoformat() and series["de"] == (today - timedelta(days=29)).isoformat()
               for today in {before, after})
    assert not any(interval["medido"] for interval in series["intervalos"])


def test_power_now_is_the_mean_of_the_last_minute(site):
    app, settings, _ = site
    live = get(app, "/usuario/agora/", id=7).json
    (before_ts, before_wh), (last_ts, last_wh) = READINGS[-2:]
    assert last_ts - before_ts == 300_000  # the last minute lies between two 5-minute readings
    assert live["potencia_w"] == (last_wh - before_wh) * 12
    assert live["leitura_atual_kwh"] == last_wh / 1000 and live["ultima_leitura"] == "2024-03-20T14:55:00-03:00"
    assert live["estado"] == "silencioso"  # that was long ago
    with app.app_context():
        session = db.session()
        customer = session.get(Customer, 7)
        assert live_document(session, customer, settings, last_ts + 60_000)["estado"] == "transmitindo"
        assert live_document(session, session.get(Customer, 8), settings, last_ts)["potencia_w"] is None


def test_a_schema_valid_span_is_never_refused(site):
    app, *_ = site
    long = get(app, "/usuario/consumo/serie/", id=7, escala="hora", inicio="2024-01-01", fim="2024-03-01").json
    assert long["truncado"] is True and (long["de"], long["ate"]) == ("2024-01-31", "2024-03-01")
    assert len(long["intervalos"]) == 31 * 24
    swapped = get(app, "/usuario/consumo/serie/", id=7, escala="dia", inicio="2024-03-02", fim="2024-03-01").json
    assert swapped["truncado"] is False and (swapped["de"], swapped["ate"]) == ("2024-03-01", "2024-03-02")


def test_a_span_longer_than_one_answer_holds_keeps_its_recent_end_and_says_so():
    span, truncated = parse_span(MultiDict({"escala": "hora", "inicio": "2000-01-01", "fim": "2024-03-31"}),
                                 date(2024, 4, 1))
    assert truncated and (span.first, span.last) == (date(2024, 3, 1), date(2024, 3, 31))
    span, truncated = parse_span(MultiDict({"escala": "mes", "inicio": "2000-01-01", "fim": "2024-03-31"}),
                                 date(2024, 4, 1))
    assert truncated and (span.first, span.last) == (date(2014, 4, 1), date(2024, 3, 31))


def test_the_ends_of_a_span_may_come_in_either_order():
    span, truncated = parse_span(MultiDict({"escala": "dia", "inicio": "2024-03-10", "fim": "2024-03-01"}),
                                 date(2024, 4, 1))
    assert not truncated and (span.first, span.last) == (date(2024, 3, 1), date(2024, 3, 10))
