"""Brazilian formats of money, energy, power and time."""

from decimal import Decimal

import pytest

from api import formats


def test_money_is_reais_with_dot_thousands_and_comma_cents():
    assert formats.brl(Decimal("1234.56")) == "R$ 1.234,56"
    assert formats.brl("0.005") == "R$ 0,01"  # half-up to the cent
    assert formats.brl(Decimal("-12.3")) == "-R$ 12,30"
    assert formats.brl("1234567.8") == "R$ 1.234.567,80"


def test_energy_keeps_the_watt_hour_and_power_switches_to_kilowatts():
    assert formats.kwh_text(Decimal("1234.5678")) == "1.234,568 kWh"
    assert formats.kwh_text(0.5) == "0,500 kWh"
    assert formats.kwh_number(Decimal("1234.5"), grouped=False) == "1234,500"
    assert formats.kwh_text(None) == "—"
    assert (formats.power_text(850), formats.power_text(1250), formats.power_text(None)) == ("850 W", "1,25 kW", "—")


def test_times_are_day_month_year_and_local_wall_clock():
    assert formats.when("2023-03-20T14:10:59-03:00") == "20/03/2023 14:10"
    assert formats.day("2023-03-20T00:00:00-03:00") == "20/03/2023"
    assert formats.when(None) == "—"


def test_intervals_are_named_for_tables_and_for_axes():
    assert formats.interval_label("hora", "2024-03-20T14:00:00-03:00") == "14:00"
    assert formats.interval_label("dia", "2024-03-20T00:00:00-03:00") == "20/03/2024"
    assert formats.interval_label("mes", "2024-03-01T00:00:00-03:00") == "março de 2024"
    assert formats.short_label("mes", "2024-03-01T00:00:00-03:00") == "mar/24"
    assert formats.short_label("dia", "2024-03-20T00:00:00-03:00") == "20/03"


@pytest.mark.parametrize("value, text", [(3, "3"), (Decimal("8.50"), "8,5"), (1234.25, "1.234,25"), (60.0, "60")])
def test_plain_numbers_have_no_trailing_zeros(value, text):
    assert formats.number(value) == text


def test_power_rounds_half_up_like_the_page_script_does():
    # Python's format() alone rounds 1.805 half-even to 1.80; the live panel's JS shows 1,81.
    assert formats.power_text(1805) == "1,81 kW"
    assert formats.power_text(1815) == "1,82 kW"
