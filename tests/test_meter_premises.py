"""Homes and small businesses: monthly totals of real Brazilian homes, daily and weekly shapes, seeds."""

from __future__ import annotations

import random
import statistics
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meter.device import Meter
from meter.neighbourhood import household_seed
from meter.premises import BAKERY, HOME, SHOP, drawn_kind, household, premises
from meter.profiles import Bursts, Presence, Sum
from meter.seasons import AirConditioning, Seasonal, Weather

ZONE = ZoneInfo("America/Sao_Paulo")
WEATHER = Weather(seed=0)
HOMES = [household_seed(0, meter_id) for meter_id in range(1, 9)]  # meters 1-8 of a neighbourhood seeded 0
MONDAY = datetime(2026, 3, 2, tzinfo=ZONE)


def month_kwh(profile, year: int, month: int, seed: int) -> float:
    """A month of a meter measuring `profile`, integrated as the simulator does (the profile every minute)."""
    meter = Meter(1, profile, ZONE, random.Random(seed))
    start = datetime(year, month, 1, tzinfo=ZONE)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=ZONE)
    meter.read(int(start.timestamp() * 1000))
    return meter.read(int(end.timestamp() * 1000)).wh / 1000


def parts(profile) -> list:
    """Every load inside a profile, wrappers opened."""
    inner = getattr(profile, "parts", None) or [getattr(profile, "part", None)]
    found = [profile]
    for part in filter(None, inner):
        found += parts(part)
    return found


@pytest.fixture(scope="module")
def summer_and_winter() -> dict[int, tuple[float, float]]:
    """January and July totals of eight homes."""
    return {seed: (month_kwh(household(seed, WEATHER), 2026, 1, seed),
                   month_kwh(household(seed, WEATHER), 2026, 7, seed)) for seed in HOMES}


def test_monthly_totals_are_those_of_real_brazilian_homes(summer_and_winter):
    for seed, months in summer_and_winter.items():
        assert all(100 <= kwh <= 400 for kwh in months), f"home {seed}: {months} kWh"
    winter = [july for _, july in summer_and_winter.values()]
    assert 130 <= statistics.mean(winter) <= 220  # EPE: about 160 kWh a month


def test_the_sample_holds_the_kinds_of_home_it_claims_to(summer_and_winter):
    kinds = [{type(part) for part in parts(household(seed, WEATHER))} for seed in HOMES]
    assert any(AirConditioning in found for found in kinds)
    assert any(Bursts in found for found in kinds) and any(Bursts not in found for found in kinds)


def test_air_conditioned_homes_use_more_in_summer(summer_and_winter):
    cooled = [seed for seed in HOMES if any(isinstance(p, AirConditioning) for p in parts(household(seed, WEATHER)))]
    for seed in cooled:
        january, july = summer_and_winter[seed]
        assert january > july + 30, f"home {seed}: {january:.0f} kWh in January, {july:.0f} in July"


def test_the_electric_shower_takes_about_a_quarter_where_there_is_one():
    seed = next(s for s in HOMES if any(isinstance(p, Bursts) for p in parts(household(s, WEATHER))))
    home = household(seed, WEATHER)
    without = Sum(tuple(_without_shower(home)))
    total, rest = month_kwh(home, 2026, 7, seed), month_kwh(without, 2026, 7, seed)
    assert 0.1 <= (total - rest) / total <= 0.45


def _without_shower(home: Sum):
    """The home's loads with the shower taken out of the people's loads."""
    for part in home.parts:
        if isinstance(part, Presence):
            people = tuple(p for p in part.part.parts if not (isinstance(p, Seasonal) and isinstance(p.part, Bursts)))
            yield Presence(Sum(people), part.seed, part.away_chance, part.spread)
        else:
            yield part


def mean_power_at(hour: int, seeds: list[int], days: int = 7) -> float:
    """Mean power at `hour`:30 over several homes and days (in March, not at the height of summer)."""
    samples = []
    for seed in seeds:
        profile, rng = household(seed, WEATHER), random.Random(seed)
        for day in range(days):
            moment = MONDAY + timedelta(days=day, hours=hour, minutes=30)
            samples += [profile.power_w(moment + timedelta(seconds=s), rng) for s in range(0, 600, 30)]
    return statistics.mean(samples)


def test_evenings_and_mornings_stand_above_the_night():
    seeds = list(range(20))
    night, morning, evening = (mean_power_at(hour, seeds) for hour in (3, 7, 20))
    assert night < 300
    assert evening > 2 * night
    assert morning > 1.3 * night


def test_same_seed_same_home_same_noise():
    moments = [MONDAY + timedelta(minutes=7 * i) for i in range(500)]
    first = [household(5).power_w(m, rng) for rng in [random.Random(1)] for m in moments]
    second = [household(5).power_w(m, rng) for rng in [random.Random(1)] for m in moments]
    other = [household(6).power_w(m, rng) for rng in [random.Random(1)] for m in moments]
    assert first == second
    assert first != other


@pytest.mark.parametrize("kind", [HOME, SHOP, BAKERY])
def test_power_is_never_negative(kind):
    profile, rng = premises(kind, 3, WEATHER), random.Random(3)
    assert all(profile.power_w(MONDAY + timedelta(seconds=s), rng) >= 0 for s in range(0, 7 * 86_400, 97))


def day_kwh(profile, day: datetime, seed: int = 0) -> float:
    rng = random.Random(seed)
    return sum(profile.power_w(day + timedelta(minutes=m, seconds=30), rng) for m in range(24 * 60)) / 60_000


def test_a_shop_sells_on_weekdays_and_saturday_mornings_and_rests_on_sunday():
    shop = premises(SHOP, 2, WEATHER)
    week = [day_kwh(shop, MONDAY + timedelta(days=d)) for d in range(7)]
    assert min(week[:5]) > week[5] > 1.2 * week[6]
    rng = random.Random(0)
    sunday_noon = statistics.mean(shop.power_w(MONDAY + timedelta(days=6, hours=12, minutes=m), rng) for m in range(60))
    assert sunday_noon < 600  # only the fridges
    assert 400 <= month_kwh(shop, 2026, 7, 2) <= 1200


def test_a_bakery_bakes_before_dawn_and_uses_several_homes_worth():
    bakery = premises(BAKERY, 2, WEATHER)
    rng = random.Random(0)
    dawn = statistics.mean(bakery.power_w(MONDAY + timedelta(hours=4, minutes=m), rng) for m in range(0, 120))
    midnight = statistics.mean(bakery.power_w(MONDAY + timedelta(minutes=m), rng) for m in range(0, 120))
    assert dawn > 5 * midnight
    assert 1200 <= month_kwh(bakery, 2026, 7, 2) <= 4000


def test_unknown_premises_are_refused_by_name():
    with pytest.raises(ValueError, match="home, shop, bakery"):
        premises("castle", 1)


def test_a_neighbourhood_is_mostly_homes_with_a_few_businesses():
    kinds = [drawn_kind(household_seed(0, meter_id)) for meter_id in range(1, 1001)]
    assert 0.9 <= kinds.count(HOME) / len(kinds) <= 0.99
    assert SHOP in kinds and BAKERY in kinds
