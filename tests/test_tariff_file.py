"""The [tariff] table of the config file: the README's complete example, and refusals that name the key."""

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from core.config import ConfigError, Settings
from core.tariffs import BLOCKS, FLAT, OFF_PEAK, PEAK, TIME_OF_USE, TWO_STAGE

README = Path(__file__).resolve().parents[1] / "README.md"
D = Decimal


def readme_example() -> str:
    """The TOML block of the README's "Tariffs" section."""
    section = README.read_text().split("## Tariffs", 1)[1]
    return re.search(r"```toml\n(.*?)```", section, re.S).group(1)


def settings_from(tmp_path, text):
    path = tmp_path / "energy.toml"
    path.write_text(text)
    return Settings.from_env({"ENERGY_CONFIG": str(path)})


def test_the_readme_example_parses_into_every_kind(tmp_path):
    settings = settings_from(tmp_path, readme_example())
    schedule = settings.schedule
    assert settings.due_days == 10 and settings.tariff.price_per_kwh == D("0.65")
    assert schedule.default_plan == "residencial" and schedule.default_connection == "monofasico"
    assert sorted(schedule.plans) == ["branca", "faixas", "padrao", "residencial"]
    residencial = schedule.plan("residencial")
    assert [v.valid_from for v in residencial] == [date(2024, 5, 28), date(2025, 5, 28)]
    assert residencial[1].kind == FLAT and [(c.label, c.price) for c in residencial[1].rate] == [
        ("TUSD", D("0.46177")), ("TE", D("0.31624"))]
    faixas = schedule.plan("faixas")[0]
    assert faixas.kind == BLOCKS and [b.up_to_kwh for b in faixas.blocks] == [100, 220, None]
    branca = schedule.plan("branca")[0]
    assert branca.kind == TIME_OF_USE
    assert branca.time_of_use.day_periods() == [
        (0, 1020, OFF_PEAK), (1020, 1080, "intermediario"), (1080, 1260, PEAK), (1260, 1320, "intermediario"),
        (1320, 1440, OFF_PEAK)]
    assert schedule.flag_on(date(2025, 8, 15)) == ("vermelha_2", D("0.07877"))
    assert schedule.flag_on(date(2025, 2, 15)) == ("verde", 0)  # no flag named for February
    assert schedule.taxes_on(date(2025, 3, 1)).divisor(D(100)) == D("0.7668")  # 1 - 0.18 - 0.0095 - 0.0437
    assert schedule.taxes_on(date(2024, 12, 31)).any is False  # before the first version: no taxes
    assert schedule.cip_for(date(2025, 3, 9), D("150")) == 6
    assert schedule.minimum_for("trifasico") == 100 and schedule.minimum_for(None) == 0
    assert date(2025, 11, 20) in schedule.holidays


def test_the_spec_keys_alone_leave_everything_else_off(tmp_path):
    settings = settings_from(tmp_path, '[tariff]\nprice_per_kwh = "0.80"\nminimum_kwh = 30\n')
    schedule = settings.schedule
    assert schedule.default_plan == "padrao" and schedule.plan(None)[0].rate[0].price == D("0.80")
    assert schedule.minimum_for(None) == 30 and schedule.taxes == () and schedule.flag_months == {}


def test_two_stage_divisor():
    from core.tariffs import Band, Taxes
    taxes = Taxes(date(2025, 1, 1), (Band(None, D("0.18")),), D("0.01"), D("0.046"), TWO_STAGE)
    assert taxes.divisor(D(1)) == D("0.77408")  # 0.944 x 0.82


@pytest.mark.parametrize("text, fragment", [
    ('[tariff]\ndefualt_plan = "x"\n', "unknown key 'defualt_plan'"),
    ('[tariff]\ndefault_plan = "nenhum"\n', "tariff.default_plan"),
    ('[[tariff.plans.r]]\nvaild_from = 2024-01-01\ntusd = "1"\nte = "1"\n', "unknown key 'vaild_from'"),
    ('[[tariff.plans.r]]\nvalid_from = 2024-01-01\ntusd = "1"\n', "give both tusd and te"),
    ('[[tariff.plans.r]]\nvalid_from = "2024-13-01"\nprice_per_kwh = "1"\n', "tariff.plans.r[0].valid_from"),
    ('[[tariff.plans.r]]\nvalid_from = 2024-01-01\nprice_per_kwh = "-1"\n', "zero or more"),
    ('[[tariff.plans.r]]\nvalid_from = 2024-01-01\nprice_per_kwh = "1"\n'
     '[[tariff.plans.r]]\nvalid_from = 2024-01-01\nprice_per_kwh = "2"\n', "same valid_from"),
    ('[[tariff.plans.r]]\nvalid_from = 2024-01-01\nblocks = [{ price_per_kwh = "1" }, { up_to_kwh = 5, price_per_kwh = "1" }]\n',
     "the last has none"),
    ('[[tariff.plans.r]]\nvalid_from = 2024-01-01\npeak = ["18:00", "21:00"]\nintermediate = [["20:00", "22:00"]]\n'
     'ponta = { price_per_kwh = "1" }\nintermediario = { price_per_kwh = "1" }\nfora_ponta = { price_per_kwh = "1" }\n',
     "overlap"),
    ('[[tariff.plans.r]]\nvalid_from = 2024-01-01\npeak = ["21:00", "18:00"]\n', "end after it starts"),
    ('[[tariff.plans.r]]\nvalid_from = 2024-01-01\npeak = ["18:00", "21:00"]\nponta = { price_per_kwh = "1" }\n',
     "every period"),
    ('[[tariff.taxes]]\nvalid_from = 2024-01-01\nicms = "18"\n', "fraction below 1"),
    ('[[tariff.taxes]]\nvalid_from = 2024-01-01\nicms = "0.5"\npis = "0.3"\ncofins = "0.2"\n', "below 1"),
    ('[[tariff.taxes]]\nvalid_from = 2024-01-01\nformula = "simples"\n', "classic, two_stage"),
    ('[tariff.flag_months]\n"2025-05" = "roxa"\n', "verde, amarela"),
    ('[tariff.flag_months]\n"2025-05" = "amarela"\n', "no [[tariff.flags]]"),
    ('[tariff.flag_months]\n"2025-5" = "verde"\n', "not a month"),
    ('[[tariff.cip]]\nvalid_from = 2024-01-01\n', "either amount"),
    ('[tariff]\ndefault_connection = "quadrifasico"\n', "monofasico, bifasico, trifasico"),
    ('[tariff]\nproration = "horas"\n', "consumption, days"),
    ('[tariff.minimum_by_connection]\nbifasico = "x"\n', "tariff.minimum_by_connection.bifasico"),
    ('[billing]\ndue_days = -1\n', "billing.due_days"),
])
def test_bad_tariffs_are_refused_with_the_key_named(tmp_path, text, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        settings_from(tmp_path, text)
