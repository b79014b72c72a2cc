"""Alert thresholds: the [alerts] TOML section, and a customer's own thresholds over it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.alert_settings import InvalidSetting, apply, document, merged, thresholds
from core.config import ConfigError, Settings
from core.models import Customer
from tests import test_settlement as spec_scenario
from tests.support.readings import alerts


def test_defaults_of_every_rule():
    config = Settings.from_env({}).alerts
    assert (config.excess_kwh, config.variation_kwh) == (150, 100)
    assert (config.daily_factor, config.daily_window_days, config.daily_min_days) == (3, 30, 7)
    assert (config.power_kw, config.power_minutes, config.silence_minutes) == (8, 15, 60)
    assert (config.projection_after_days, config.disabled) == (3, frozenset())


def test_the_toml_section_sets_them(tmp_path):
    path = tmp_path / "energy.toml"
    path.write_text(
        "[alerts]\nexcess_kwh = 90\nvariation_kwh = 40\ndaily_factor = 2.5\ndaily_window_days = 14\n"
        "daily_min_days = 5\npower_kw = \"6.5\"\npower_minutes = 10\nsilence_minutes = 0.5\n"
        'projection_after_days = 7\ndisabled = ["silencio"]\n'
    )
    config = Settings.from_env({"ENERGY_CONFIG": str(path)}).alerts
    assert (config.excess_kwh, config.variation_kwh, config.daily_factor) == (90, 40, Decimal("2.5"))
    assert (config.daily_window_days, config.daily_min_days, config.power_kw) == (14, 5, Decimal("6.5"))
    assert (config.power_minutes, config.silence_minutes, config.projection_after_days) == (10, Decimal("0.5"), 7)
    assert config.disabled == {"silencio"}


@pytest.mark.parametrize("body, fragment", [
    ("[alerts]\npower_minutes = 0\n", "alerts.power_minutes"),
    ("[alerts]\npower_kw = 0\n", "alerts.power_kw"),
    ("[alerts]\ndaily_min_days = 40\n", "alerts.daily_min_days"),
    ('[alerts]\ndisabled = ["fogo"]\n', "alerts.disabled"),
])
def test_bad_alert_settings_are_named(tmp_path, body, fragment):
    path = tmp_path / "energy.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=fragment):
        Settings.from_env({"ENERGY_CONFIG": str(path)})


def test_a_customer_overrides_some_thresholds_and_null_restores_the_default():
    settings = Settings.from_env({})
    customer = Customer(id=1, settings={})
    customer.settings = {"outra_coisa": 1, "alertas": merged({}, {"potencia_kw": Decimal("11.5"), "desligados": ["silencio"]})}
    config = thresholds(customer, settings)
    assert (config.power_kw, config.disabled, config.excess_kwh) == (Decimal("11.5"), {"silencio"}, 150)
    assert document(customer, settings)["personalizado"] == {"potencia_kw": Decimal("11.5"), "desligados": ["silencio"]}
    assert merged(customer.settings["alertas"], {"potencia_kw": None}) == {"desligados": ["silencio"]}


@pytest.mark.parametrize("changes, fragment", [
    ({"potencia": 3}, "chave desconhecida"),
    ({"potencia_kw": "8"}, "número"),
    ({"potencia_kw": True}, "número"),
    ({"potencia_minutos": 2.5}, "inteiro"),
    ({"fator_diario": 0.5}, "de 1 a 1000"),
    ({"potencia_minutos": 15.0}, "inteiro"),
    ({"desligados": ["fogo"]}, "tipos de alerta"),
])
def test_bad_customer_thresholds_say_what_to_send(changes, fragment):
    with pytest.raises(InvalidSetting, match=fragment):
        merged({}, changes)


def test_the_spec_excess_rule_uses_the_customer_margin(db, settings):
    utc = settings.with_overrides(timezone="UTC")
    spec_scenario.enrol(db, utc)
    with db.begin() as session:
        apply(session, session.get(Customer, 7), {"excesso_kwh": 200}, utc)  # mean(100, 120) + 200 = 310
    for reading in spec_scenario.HISTORY:
        spec_scenario.deliver(db, utc, [reading])
    assert [a.tipo for a in alerts(db) if a.tipo in ("excesso", "variacao")] == ["variacao"]
