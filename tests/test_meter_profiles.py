"""The loads premises are built from: each one's shape, composition, determinism."""

from __future__ import annotations

import random
import statistics
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meter.profiles import Bursts, Constant, Cycling, DailyCurve, During, OnDays, Presence, Sum, Window

ZONE = ZoneInfo("America/Sao_Paulo")
MONDAY = datetime(2024, 3, 4, tzinfo=ZONE)


def test_loads_add_up_and_can_be_composed():
    rng = random.Random(0)
    fridge = Cycling(watts=100, period_min=40, duty=0.5)
    constant = Constant(50, jitter=0)
    moment = datetime.fromtimestamp(0, ZONE)  # minute 0 of a cycle: compressor on
    assert Sum((constant, fridge)).power_w(moment, rng) == 150
    assert fridge.power_w(moment + timedelta(minutes=25), rng) == 0


def test_refrigerator_runs_its_duty_share():
    fridge = Cycling(watts=120, period_min=40, duty=0.4, phase_min=13)
    rng = random.Random(0)
    samples = [fridge.power_w(MONDAY + timedelta(minutes=m), rng) for m in range(24 * 60)]
    assert statistics.mean(samples) == pytest.approx(48, rel=0.02)


def test_weekend_curve_replaces_the_weekday_one():
    curve = DailyCurve(weekdays=(100.0,) * 24, weekend=(300.0,) * 24, jitter=0)
    rng = random.Random(0)
    assert curve.power_w(MONDAY, rng) == 100
    assert curve.power_w(MONDAY + timedelta(days=5), rng) == 300


def test_a_daily_curve_needs_24_hours():
    with pytest.raises(ValueError, match="24"):
        DailyCurve(weekdays=(1.0,) * 23)


def test_bursts_fall_inside_their_window_and_repeat_for_the_same_day():
    shower = Bursts(watts=5000, minutes=10, windows=(Window(6, 8, 1.0),), seed=9)
    rng = random.Random(0)
    on = [m for m in range(24 * 60) if shower.power_w(MONDAY + timedelta(minutes=m), rng)]
    assert on and 6 * 60 <= on[0] and on[-1] < 8 * 60 + 10
    assert on == [m for m in range(24 * 60) if shower.power_w(MONDAY + timedelta(minutes=m), rng)]


def test_sunday_curve_replaces_the_weekend_one_on_sundays_only():
    shop = DailyCurve(weekdays=(100.0,) * 24, weekend=(50.0,) * 24, sunday=(0.0,) * 24, jitter=0)
    rng = random.Random(0)
    week = [shop.power_w(MONDAY + timedelta(days=day, hours=10), rng) for day in range(7)]
    assert week == [100, 100, 100, 100, 100, 50, 0]


def test_presence_keeps_a_day_the_same_and_varies_between_days():
    people = Presence(Constant(1000, jitter=0), seed=4, away_chance=0.0, spread=0.2)
    rng = random.Random(0)
    morning, evening = (people.power_w(MONDAY + timedelta(hours=h), rng) for h in (7, 21))
    assert morning == evening
    days = {round(people.power_w(MONDAY + timedelta(days=d, hours=12), rng)) for d in range(30)}
    assert len(days) > 20 and all(300 <= watts <= 2000 for watts in days)


def test_presence_empties_the_house_on_days_away():
    people = Presence(Constant(1000, jitter=0), seed=1, away_chance=0.1)
    rng = random.Random(0)
    year = [people.power_w(MONDAY + timedelta(days=d, hours=12), rng) for d in range(365)]
    away = sum(1 for watts in year if watts == 0)
    assert 15 <= away <= 60  # about 10 % of days


def test_on_days_runs_only_on_its_weekdays():
    weekdays = OnDays(Constant(500, jitter=0), weekdays=(0, 1, 2, 3, 4))
    rng = random.Random(0)
    assert [weekdays.power_w(MONDAY + timedelta(days=d), rng) for d in range(7)] == [500] * 5 + [0, 0]


def test_during_draws_between_its_instants_only():
    start = int(MONDAY.timestamp() * 1000)
    heater = During(9500, start, start + 3_600_000)
    rng = random.Random(0)
    assert heater.power_w(MONDAY - timedelta(seconds=1), rng) == 0
    assert heater.power_w(MONDAY, rng) == 9500
    assert heater.power_w(MONDAY + timedelta(minutes=59), rng) == 9500
    assert heater.power_w(MONDAY + timedelta(hours=1), rng) == 0
