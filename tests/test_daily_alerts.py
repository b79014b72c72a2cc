"""`consumo_diario`: a day above 3× the median of the days before it, on hourly synthetic registers.

UTC, hourly readings from 2024-03-01 00:00 at 500 W: 12 kWh a day, so the median day is
12 kWh and the limit 36 kWh. On 2024-03-11 the house draws 4 kW from midnight: 36 kWh at 09:00
(not above the limit), 40 kWh at 10:00, the reading that raises the alert.
"""

from __future__ import annotations

import pytest

from core.alert_settings import apply
from core.config import AlertConfig
from core.models import Customer
from core.rules import DAILY, OPEN
from tests.support.readings import DAY, HOUR, alerts, deliver, deliver_each, enrol, profile, shuffled_chunks, utc

START = utc(2024, 3, 1)
BASE = profile(START, 0, HOUR, [(500, 10 * DAY)])  # 2024-03-01 .. 03-11 00:00, 120 kWh
SPIKE = profile(BASE[-1][0], BASE[-1][1], HOUR, [(4_000, 12 * HOUR), (500, 12 * HOUR), (500, DAY)])[1:]
RAISING = utc(2024, 3, 11, 10)


@pytest.fixture
def site(db, settings):
    utc_settings = settings.with_overrides(timezone="UTC")
    enrol(db, utc_settings)
    deliver(db, utc_settings, BASE)
    return db, utc_settings


def test_a_day_above_three_times_the_median_raises_once_at_the_reading_past_it(site):
    db, settings = site
    deliver_each(db, settings, [r for r in SPIKE if r[0] < RAISING])
    assert alerts(db, DAILY) == []  # 36 kWh at 09:00 is not above 36
    deliver_each(db, settings, [r for r in SPIKE if r[0] >= RAISING])
    [alert] = alerts(db, DAILY)
    assert (alert.cause, alert.state, alert.severity, alert.ano, alert.mes) == ("2024-03-11", OPEN, "aviso", 2024, 4)
    assert alert.criado_em == RAISING + 1_000
    assert alert.detalhes == {
        "dia": "2024-03-11", "consumo_kwh": 40.0, "limite_kwh": 36.0, "mediana_kwh": 12.0, "fator": 3.0,
        "dias_base": 10, "leitura": "2024-03-11T10:00:00+00:00", "leitura_kwh": 160.0,
    }


def test_a_day_at_exactly_the_limit_raises_nothing(site):
    db, settings = site
    flat = profile(BASE[-1][0], BASE[-1][1], HOUR, [(1_500, DAY), (500, DAY)])[1:]  # 36 kWh on 03-11
    deliver_each(db, settings, flat)
    assert alerts(db, DAILY) == []


def test_one_reading_a_day_shows_the_spike_at_the_next_midnight(db, settings):
    utc_settings = settings.with_overrides(timezone="UTC")
    enrol(db, utc_settings)
    daily = profile(START, 0, DAY, [(500, 10 * DAY), (2_000, DAY), (500, DAY)])  # 48 kWh on 03-11
    deliver_each(db, utc_settings, daily)
    [alert] = alerts(db, DAILY)
    assert alert.detalhes["dia"] == "2024-03-11" and alert.detalhes["consumo_kwh"] == 48.0
    assert alert.detalhes["leitura"] == "2024-03-12T00:00:00+00:00"


def test_fewer_than_seven_measured_days_are_no_baseline(db, settings):
    utc_settings = settings.with_overrides(timezone="UTC")
    enrol(db, utc_settings)
    deliver_each(db, utc_settings, profile(START, 0, HOUR, [(500, 6 * DAY), (4_000, DAY)]))
    assert alerts(db, DAILY) == []


def test_redelivery_changes_nothing(site):
    db, settings = site
    deliver_each(db, settings, SPIKE)
    before = [(a.id, a.cause, a.detalhes) for a in alerts(db, DAILY)]
    deliver(db, settings, BASE + SPIKE)
    deliver_each(db, settings, SPIKE[::-1])
    assert [(a.id, a.cause, a.detalhes) for a in alerts(db, DAILY)] == before and len(before) == 1


@pytest.mark.parametrize("seed", [5, 6])
def test_out_of_order_arrival_raises_the_day_once(site, seed):
    db, settings = site
    for batch in shuffled_chunks(SPIKE, seed, largest=5):
        deliver(db, settings, batch)
    [alert] = alerts(db, DAILY)
    assert alert.cause == "2024-03-11" and alert.detalhes["consumo_kwh"] > 36


def test_a_replayed_history_in_one_batch_is_judged_day_by_day(db, settings):
    utc_settings = settings.with_overrides(timezone="UTC")
    enrol(db, utc_settings)
    deliver(db, utc_settings, BASE[:25])  # the first day: the watch is armed
    deliver(db, utc_settings, BASE[25:] + SPIKE)
    assert [a.cause for a in alerts(db, DAILY)] == ["2024-03-11"]


def test_the_factor_is_configurable_and_a_customer_may_turn_the_rule_off(db, settings):
    loose = settings.with_overrides(timezone="UTC", alerts=AlertConfig(daily_factor=5))
    enrol(db, loose)
    deliver(db, loose, BASE)
    deliver_each(db, loose, SPIKE)  # 03-11: 48 + 6 = 54 kWh, not above 5 × 12
    assert alerts(db, DAILY) == []
    utc_settings = settings.with_overrides(timezone="UTC")
    enrol(db, utc_settings, meter=8)
    with db.begin() as session:
        apply(session, session.get(Customer, 8), {"desligados": ["consumo_diario"]}, utc_settings)
    deliver(db, utc_settings, BASE, meter=8)
    deliver_each(db, utc_settings, SPIKE, meter=8)
    assert alerts(db, DAILY, meter=8) == []
