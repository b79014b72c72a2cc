"""Southern-hemisphere seasons, a neighbourhood's weather, and air conditioning on hot days."""

from __future__ import annotations

import random
import statistics
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meter.profiles import Constant
from meter.seasons import AirConditioning, Seasonal, Weather, season

ZONE = ZoneInfo("America/Sao_Paulo")


def test_summer_is_in_january_and_winter_in_july():
    assert season(date(2026, 1, 20)) == pytest.approx(1.0, abs=0.01)
    assert season(date(2026, 7, 21)) == pytest.approx(-1.0, abs=0.01)
    assert abs(season(date(2026, 4, 21))) < 0.1
    assert season(date(2026, 12, 15)) > 0.8 and season(date(2026, 3, 1)) > 0.6  # hot December to March


def test_a_seasonal_load_moves_between_its_summer_and_winter_factors():
    fridge = Seasonal(Constant(100, jitter=0), summer=1.2, winter=0.8)
    rng = random.Random(0)
    at = [fridge.power_w(datetime(2026, month, 20, 12, tzinfo=ZONE), rng) for month in (1, 4, 7)]
    assert at[0] == pytest.approx(120, abs=0.5)
    assert at[1] == pytest.approx(100, abs=3)
    assert at[2] == pytest.approx(80, abs=0.5)


def test_weather_is_hot_in_summer_mild_in_winter_and_shared():
    weather = Weather(seed=3)
    january = [weather.max_c(date(2026, 1, day)) for day in range(1, 32)]
    july = [weather.max_c(date(2026, 7, day)) for day in range(1, 32)]
    assert 28 <= statistics.mean(january) <= 34
    assert 17 <= statistics.mean(july) <= 24
    assert statistics.stdev(january) > 1  # each day has its own luck
    assert Weather(seed=3).max_c(date(2026, 1, 5)) == weather.max_c(date(2026, 1, 5))
    assert Weather(seed=4).max_c(date(2026, 1, 5)) != weather.max_c(date(2026, 1, 5))


def test_air_conditioning_runs_on_hot_afternoons_only():
    hot_day = Weather(mean_c=35, swing_c=0, noise_c=0)
    cool_day = Weather(mean_c=22, swing_c=0, noise_c=0)
    split = AirConditioning(watts=1200, threshold_c=28, hours=((13.0, 18.0),), weather=hot_day)
    rng = random.Random(0)
    afternoon = datetime(2026, 1, 15, 13, tzinfo=ZONE)
    samples = [split.power_w(afternoon + timedelta(minutes=m), rng) for m in range(0, 300)]
    assert set(samples) == {0.0, 1200}
    assert 0.6 <= statistics.mean(samples) / 1200 <= 0.95  # 7 °C above its threshold: most of each cycle
    assert split.power_w(datetime(2026, 1, 15, 10, tzinfo=ZONE), rng) == 0
    cool = AirConditioning(watts=1200, threshold_c=28, hours=((13.0, 18.0),), weather=cool_day)
    assert not any(cool.power_w(afternoon + timedelta(minutes=m), rng) for m in range(300))


def test_air_conditioning_hours_may_pass_midnight():
    always_hot = Weather(mean_c=35, swing_c=0, noise_c=0)
    bedroom = AirConditioning(watts=900, threshold_c=28, hours=((22.0, 2.0),), weather=always_hot, duty=1.0)
    rng = random.Random(0)
    at = {hour: bedroom.power_w(datetime(2026, 1, 15, hour, 30, tzinfo=ZONE), rng) for hour in (21, 23, 1, 3)}
    assert at == {21: 0, 23: 900, 1: 900, 3: 0}
