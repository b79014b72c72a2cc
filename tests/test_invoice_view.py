"""The invoice's own formats and its server-side bar chart (pure); `api.formats` has its own tests."""

from decimal import Decimal

import pytest

from api.formats import brl
from api.history_chart import BOTTOM, HEIGHT, TOP, bars
from api.invoice_formats import number, percent, reference, short_month

D = Decimal


@pytest.mark.parametrize("value, text", [
    (D("1234.56"), "R$ 1.234,56"), (D("0.005"), "R$ 0,01"), (D("-34.125"), "-R$ 34,13"), ("229.35", "R$ 229,35"),
])
def test_money_as_the_invoice_shows_it(value, text):
    assert brl(value) == text


def test_unit_prices_rates_and_months():
    assert number(D("0.589005235"), 8) == "0,58900524" and number(D("999.5"), 0) == "1.000"
    assert number(D("1234567.891"), 3) == "1.234.567,891"
    assert percent("0.18") == "18%" and percent("0.0095") == "0,95%" and percent("0.046") == "4,6%"
    assert reference(2024, 3) == "03/2024"
    assert short_month(2024, 3) == "MAR/24" and short_month(2025, 12) == "DEZ/25"


def test_bars_scale_to_the_tallest_and_keep_the_last_twelve():
    months = [(2024, m, D(m * 10)) for m in range(1, 13)] + [(2025, 1, D(60))]
    drawn = bars(months, (2025, 1))
    assert len(drawn) == 12 and drawn[0].label == "FEV/24" and drawn[-1].label == "JAN/25"
    usable = HEIGHT - TOP - BOTTOM
    tallest = max(drawn, key=lambda bar: bar.height)
    assert tallest.label == "DEZ/24" and tallest.height == usable and tallest.y == TOP  # 120 kWh
    assert drawn[-1].height == pytest.approx(usable / 2, abs=0.1)  # 60 of 120
    assert [bar.current for bar in drawn].count(True) == 1 and drawn[-1].current
    assert all(bar.y + bar.height == pytest.approx(TOP + usable, abs=0.1) for bar in drawn)  # one baseline


def test_no_consumption_draws_flat_bars():
    drawn = bars([(2024, 1, D(0)), (2024, 2, D(0))], (2024, 2))
    assert [bar.height for bar in drawn] == [0, 0] and [bar.value for bar in drawn] == ["0", "0"]
