"""Household consumption profiles: plausible, deterministic, never negative."""

from __future__ import annotations

import random
import statistics
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meter.profiles import Bursts, Constant, Cycling, DailyCurve, Sum, Window, household

ZONE = ZoneInfo("America/Sao_Paulo")
MONDAY = datetime(2024, 3, 4, tzinfo=ZONE)
STEP_S = 60


def day_kwh(seed: int, day: datetime) -> float:
    """Energy of one simulated day, sampled every minute."""
    profile, rng = household(seed), random.Random(seed)
    watts = [profile.power_w(day + timedelta(seconds=s + STEP_S / 2), rng) for s in range(0, 86_400, STEP_S)]
    return sum(watts) * STEP_S / 3_600_000


def mean_power_at(hour: int, seeds: range, days: int = 7) -> float:
    """Mean power at `hour`:30 over several homes and days."""
    samples = []
    for seed in seeds:
        profile, rng = household(seed), random.Random(seed)
        for day in range(days):
            moment = MONDAY + timedelta(days=day, hours=hour, minutes=30)
            samples += [profile.power_w(moment + timedelta(seconds=s), rng) for s in range(0, 600, 30)]
    return statistics.mean(samples)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 7, 42])
def test_a_week_of_a_home_uses_4_to_8_kwh_a_day(seed):
    week = [day_kwh(seed, MONDAY + timedelta(days=day)) for day in range(7)]
    assert 4.0 <= statistics.mean(week) <= 8.0
    assert all(2.5 <= kwh <= 10.0 for kwh in week)


def test_homes_average_about_160_kwh_a_month():
    monthly = statistics.mean(day_kwh(seed, MONDAY + timedelta(days=seed % 7)) for seed in range(30)) * 30
    assert 130 <= monthly <= 200


def test_the_night_is_quieter_than_the_evening_peak():
    seeds = range(10)
    night, evening = mean_power_at(3, seeds), mean_power_at(20, seeds)
    assert night < 250
    assert evening > 2 * night


def test_morning_peak_stands_above_the_middle_of_the_night():
    seeds = range(10)
    assert mean_power_at(7, seeds) > 1.5 * mean_power_at(3, seeds)


def test_same_seed_same_home_same_noise():
    moments = [MONDAY + timedelta(minutes=7 * i) for i in range(500)]
    first = [household(5).power_w(m, rng) for rng in [random.Random(1)] for m in moments]
    second = [household(5).power_w(m, rng) for rng in [random.Random(1)] for m in moments]
    other = [household(6).power_w(m, rng) for rng in [random.Random(1)] for m in moments]
    assert first == second
    assert first != other


@pytest.mark.parametrize("seed", range(8))
def test_power_is_never_negative(seed):
    profile, rng = household(seed), random.Random(seed)
    assert all(profile.power_w(MONDAY + timedelta(seconds=s), rng) >= 0 for s in range(0, 7 * 86_400, 97))


def test_the_electric_shower_shows_as_a_burst_of_kilowatts():
    profile, rng = household(3), random.Random(3)
    evening = [profile.power_w(MONDAY + timedelta(hours=18, seconds=s), rng) for s in range(0, 4 * 3600, 10)]
    assert max(evening) > 4000


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
