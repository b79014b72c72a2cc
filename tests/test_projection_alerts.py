"""`projecao_excesso` and `projecao_variacao`: the open cycle's projection crossing a threshold.

UTC, closing day 10. The first reading (2024-01-10, 0 Wh) and the one of 02-10 (100 kWh) close
the bill of 2024-02 at 100 kWh. The open cycle 2024-03 runs [02-10, 03-10): 29 days. Its
thresholds: excess mean(100) + 150 = 250 kWh; variation 100 + 100 = 200 kWh (upwards).
The projection is consumption × 29 / days elapsed, trusted from 3 days into the cycle.
With 34.483 kWh on 02-15 (5 days): 34.483 × 29 / 5 = 200.0014 kWh reaches 200; 34.482 gives
199.9956 and does not.
"""

from __future__ import annotations

import pytest

from core.alert_settings import apply
from core.models import Customer
from core.rules import EXCESS, PROJECTED_EXCESS, PROJECTED_VARIATION
from tests.support.readings import alerts, deliver, deliver_each, enrol, shuffled_chunks, utc

CLOSED = [(utc(2024, 1, 10), 0), (utc(2024, 2, 10), 100_000)]
OPEN = [(utc(2024, 2, day), 100_000 + 5_000 * (day - 10)) for day in range(11, 15)]  # 5 kWh a day
CROSSING = (utc(2024, 2, 15), 134_483)
JUST_UNDER = (utc(2024, 2, 15), 134_482)


@pytest.fixture
def site(db, settings):
    utc_settings = settings.with_overrides(timezone="UTC")
    enrol(db, utc_settings)
    deliver_each(db, utc_settings, CLOSED)
    return db, utc_settings


def test_the_variation_projection_is_raised_once_at_the_reading_that_reaches_it(site):
    db, settings = site
    deliver_each(db, settings, OPEN)
    assert alerts(db, PROJECTED_VARIATION) == []  # 145 kWh projected
    deliver_each(db, settings, [CROSSING])
    [alert] = alerts(db, PROJECTED_VARIATION)
    assert (alert.cause, alert.ano, alert.mes, alert.severity, alert.criado_em) == (
        "2024-03", 2024, 3, "aviso", CROSSING[0] + 1_000)
    assert alert.detalhes == {
        "projecao": True, "projecao_kwh": 200.001, "limite_kwh": 200.0, "consumo_anterior_kwh": 100.0,
        "margem_kwh": 100.0, "consumo_kwh": 34.483, "dias_decorridos": 5.0, "dias_do_ciclo": 29.0,
        "leitura": "2024-02-15T00:00:00+00:00", "leitura_kwh": 134.483,
    }
    deliver_each(db, settings, [(utc(2024, 2, 16), 150_000), (utc(2024, 2, 20), 220_000)])
    assert len(alerts(db, PROJECTED_VARIATION)) == 1 and alerts(db, PROJECTED_EXCESS) != []


def test_just_under_raises_nothing(site):
    db, settings = site
    deliver_each(db, settings, [*OPEN, JUST_UNDER])
    assert alerts(db, PROJECTED_VARIATION) == [] and alerts(db, PROJECTED_EXCESS) == []


def test_nothing_is_projected_before_three_days_of_the_cycle(site):
    db, settings = site
    deliver_each(db, settings, [(utc(2024, 2, 11), 120_000), (utc(2024, 2, 12, 23), 130_000)])
    assert alerts(db, PROJECTED_EXCESS) == [] and alerts(db, PROJECTED_VARIATION) == []  # 580 kWh projected
    deliver_each(db, settings, [(utc(2024, 2, 13), 135_000)])  # 3 days: 35 × 29 / 3 = 338.3 kWh
    assert sorted(a.tipo for a in alerts(db) if a.tipo.startswith("projecao")) == [PROJECTED_EXCESS, PROJECTED_VARIATION]
    assert alerts(db, PROJECTED_EXCESS)[0].detalhes["leitura"] == "2024-02-13T00:00:00+00:00"


def test_no_excess_projection_once_the_excess_itself_was_raised(site):
    db, settings = site
    deliver_each(db, settings, [(utc(2024, 2, 11), 360_000), (utc(2024, 2, 14), 365_000)])
    assert [a.cause for a in alerts(db, EXCESS)] == ["2024-03"]
    assert alerts(db, PROJECTED_EXCESS) == []
    assert [a.cause for a in alerts(db, PROJECTED_VARIATION)] == ["2024-03"]


def test_each_cycle_gets_its_own(site):
    db, settings = site
    deliver_each(db, settings, [*OPEN, CROSSING, (utc(2024, 3, 10), 300_000), (utc(2024, 3, 15), 400_000)])
    assert [a.cause for a in alerts(db, PROJECTED_VARIATION)] == ["2024-03", "2024-04"]


def test_redelivery_changes_nothing(site):
    db, settings = site
    deliver_each(db, settings, [*OPEN, CROSSING])
    before = [(a.id, a.tipo, a.cause, a.detalhes) for a in alerts(db)]
    deliver(db, settings, [*CLOSED, *OPEN, CROSSING])
    deliver_each(db, settings, [CROSSING, *OPEN[::-1]])
    assert [(a.id, a.tipo, a.cause, a.detalhes) for a in alerts(db)] == before


@pytest.mark.parametrize("seed", [8, 9, 10])
def test_out_of_order_arrival_raises_it_once(site, seed):
    db, settings = site
    for batch in shuffled_chunks([*OPEN, CROSSING], seed, largest=2):
        deliver(db, settings, batch)
    assert len(alerts(db, PROJECTED_VARIATION)) == 1
    assert alerts(db, PROJECTED_EXCESS) == []


def test_a_customer_margin_moves_the_projected_excess(site):
    db, settings = site
    with db.begin() as session:
        apply(session, session.get(Customer, 7), {"excesso_kwh": 50}, settings)  # 100 + 50 = 150 kWh
    deliver_each(db, settings, [*OPEN, CROSSING])
    [alert] = alerts(db, PROJECTED_EXCESS)
    assert (alert.detalhes["limite_kwh"], alert.detalhes["margem_kwh"]) == (150.0, 50.0)
