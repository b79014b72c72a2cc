"""Brazilian formats and the server-side bar chart of the invoice (pure)."""

from datetime import date
from decimal import Decimal

import pytest

from api.chart import HEIGHT, TOP, BOTTOM, bars
from api.formats import brl, day, day_time, kwh, number, percent, short_month

D = Decimal


@pytest.mark.parametrize("value, text", [
    (D("1234.56"), "R$ 1.234,56"), (D("0.005"), "R$ 0,01"), (D("1234567.8"), "R$ 1.234.567,80"),
    (D("-34.125"), "-R$ 34,13"), ("229.35", "R$ 229,35"), (D("0"), "R$ 0,00"),
])
def test_money(value, text):
    assert brl(value) == text


def test_numbers_dates_and_rates():
    assert kwh(D("1190")) == "1.190,000" and kwh(219.29) == "219,290"
    assert number(D("0.589005235"), 8) == "0,58900524" and number(D("999.5"), 0) == "1.000"
    assert day("2023-03-20T00:00:00-03:00") == "20/03/2023" and day(date(2024, 2, 29)) == "29/02/2024"
    assert day("2024-03-20") == "20/03/2024"
    assert day_time("2025-06-20T14:05:59-03:00") == "20/06/2025 14:05"
    assert percent("0.18") == "18%" and percent("0.0095") == "0,95%" and percent("0.046") == "4,6%"
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
