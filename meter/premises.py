"""The premises a simulated meter measures: Brazilian homes and a few small businesses.

Each factory draws its appliances from a seed (same seed, same premises) and returns a profile
(`meter.profiles`). Figures follow DOMAIN.md: a home uses about 160 kWh a month on average
(EPE, 2022), within roughly 100-400 kWh; 73 % of homes have an electric shower, which takes
about a quarter of their energy (Procel); air conditioning is in a minority of homes and runs on
hot afternoons and nights. A small shop or a bakery uses several times what a home does.
"""

from __future__ import annotations

import random
from typing import Callable

from meter.profiles import Bursts, Constant, Cycling, DailyCurve, OnDays, Presence, Profile, Sum, Window
from meter.seasons import AirConditioning, Seasonal, Weather

HOME = "home"
SHOP = "shop"
BAKERY = "bakery"

SHOWER_SHARE = 0.73  # homes with an electric shower (Procel)
AIR_CONDITIONING_SHARE = 0.3  # homes with a split unit (more in the hot north, fewer in the south)
BUSINESS_SHARE = 0.04  # of a neighbourhood's meters, when the kind is drawn rather than chosen

# Activity of one occupant, in watts at each hour 0h..23h: nearly nothing at night, a morning
# peak 6-8h, a light day, the evening peak 18-22h (lights, TV, cooking), winding down after.
_WEEKDAY_ACTIVITY = (
    6, 5, 5, 5, 5, 12, 70, 85, 45, 20, 18, 30,
    35, 20, 18, 18, 25, 50, 95, 115, 110, 90, 55, 20,
)
# At weekends people get up later and stay home during the day.
_WEEKEND_ACTIVITY = (
    10, 6, 5, 5, 5, 5, 15, 35, 65, 60, 50, 60,
    70, 55, 45, 45, 50, 65, 95, 110, 105, 90, 65, 30,
)

# A small shop (mercadinho): lights, tills and a fan from 8h to 19h on weekdays, Saturday mornings,
# closed on Sundays.
_SHOP_WEEKDAY = (0,) * 7 + (300, 900, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 900, 200) + (0,) * 4
_SHOP_SATURDAY = (0,) * 7 + (300, 900, 1000, 1000, 1000, 1000, 300) + (0,) * 10
_SHOP_SUNDAY = (0,) * 24

# A bakery (padaria): ovens from 4h for the first bread, a second batch at 15h for the afternoon
# coffee, the shop open 6h-20h every day, until 13h on Sundays.
_BAKERY_WEEKDAY = (0, 0, 0, 0, 500, 1500, 2000, 2000, 2000, 1800, 1800, 1800,
                   1800, 1800, 1800, 1800, 2000, 2000, 2000, 1800, 600, 0, 0, 0)
_BAKERY_SUNDAY = _BAKERY_WEEKDAY[:13] + (600,) + (0,) * 10


def household(seed: int, weather: Weather = Weather()) -> Profile:
    """A Brazilian home, its size and appliances drawn from `seed` (same seed, same home)."""
    draw = random.Random(f"household:{seed}")
    occupants = draw.choice((1, 2, 2, 3, 3, 3, 4, 4, 5))
    scale = 0.9 + 0.2 * occupants
    activity = DailyCurve(
        weekdays=tuple(watts * scale for watts in _WEEKDAY_ACTIVITY),
        weekend=tuple(watts * scale for watts in _WEEKEND_ACTIVITY),
    )
    refrigerator = Cycling(
        watts=draw.uniform(90, 150),
        period_min=draw.uniform(30, 50),
        duty=draw.uniform(0.3, 0.45),
        phase_min=draw.uniform(0, 60),
    )
    standby = Constant(draw.uniform(70, 100))
    # People's loads: lights need more in winter's early evenings, and the shower goes on its
    # hotter setting for longer in winter; both follow today's presence.
    people: list[Profile] = [Seasonal(activity, summer=0.95, winter=1.1)]
    if draw.random() < SHOWER_SHARE:
        shower = Bursts(
            watts=draw.choice((4400, 5500, 5500, 6800)),
            minutes=draw.uniform(6, 9),
            windows=_shower_windows(occupants),
            seed=seed,
        )
        people.append(Seasonal(shower, summer=0.8, winter=1.2))
    if draw.random() < AIR_CONDITIONING_SHARE:
        people.append(AirConditioning(
            watts=draw.uniform(900, 1400),
            threshold_c=draw.uniform(28, 31),
            hours=((13.0, 18.0), (21.5, 2.0)),  # the living room in the afternoon, a bedroom at night
            weather=weather,
            phase_min=draw.uniform(0, 20),
        ))
    return Sum((standby, Seasonal(refrigerator, summer=1.2, winter=0.85), Presence(Sum(tuple(people)), seed)))


def shop(seed: int, weather: Weather = Weather()) -> Profile:
    """A small shop: a drinks fridge and a freezer day and night, lights while open, air conditioning on
    hot weekdays."""
    draw = random.Random(f"shop:{seed}")
    size = draw.uniform(0.8, 1.3)
    cold = Sum((
        Cycling(watts=350 * size, period_min=30, duty=0.5, phase_min=draw.uniform(0, 30)),
        Cycling(watts=250 * size, period_min=45, duty=0.45, phase_min=draw.uniform(0, 45)),
    ))
    open_hours = DailyCurve(
        weekdays=tuple(watts * size for watts in _SHOP_WEEKDAY),
        weekend=tuple(watts * size for watts in _SHOP_SATURDAY),
        sunday=_SHOP_SUNDAY,
        jitter=0.1,
    )
    cooling = AirConditioning(watts=1800 * size, threshold_c=27, hours=((10.0, 18.0),), weather=weather,
                              duty=0.6, phase_min=draw.uniform(0, 20))
    return Sum((Constant(60 * size), Seasonal(cold, summer=1.2, winter=0.85), open_hours, OnDays(cooling, weekdays=(0, 1, 2, 3, 4))))


def bakery(seed: int, weather: Weather = Weather()) -> Profile:
    """A bakery: electric ovens in the small hours and the afternoon, display fridges, a busy counter."""
    draw = random.Random(f"bakery:{seed}")
    size = draw.uniform(0.8, 1.3)
    ovens = (Window(4.0, 4.5, 1.0), Window(5.5, 6.0, 1.0), Window(9.5, 10.5, 0.8), Window(15.0, 15.5, 1.0))
    baking = Sum((
        Bursts(watts=9000 * size, minutes=90, windows=ovens[:1], seed=seed),
        Bursts(watts=9000 * size, minutes=60, windows=ovens[1:2], seed=seed + 1),
        Bursts(watts=6000 * size, minutes=45, windows=ovens[2:3], seed=seed + 2),
        Bursts(watts=9000 * size, minutes=60, windows=ovens[3:], seed=seed + 3),
    ))
    counter = DailyCurve(
        weekdays=tuple(watts * size for watts in _BAKERY_WEEKDAY),
        weekend=tuple(watts * size for watts in _BAKERY_WEEKDAY),
        sunday=tuple(watts * size for watts in _BAKERY_SUNDAY),
        jitter=0.15,
    )
    cold = Cycling(watts=900 * size, period_min=30, duty=0.55, phase_min=draw.uniform(0, 30))
    return Sum((Constant(120 * size), Seasonal(cold, summer=1.2, winter=0.85), counter, baking))


FACTORIES: dict[str, Callable[[int, Weather], Profile]] = {HOME: household, SHOP: shop, BAKERY: bakery}


def premises(kind: str, seed: int, weather: Weather = Weather()) -> Profile:
    """The profile of premises of `kind` ("home", "shop" or "bakery"); `ValueError` for another kind."""
    try:
        factory = FACTORIES[kind]
    except KeyError:
        raise ValueError(f"unknown kind of premises {kind!r}: use one of {', '.join(FACTORIES)}") from None
    return factory(seed, weather)


def drawn_kind(seed: int) -> str:
    """The kind of premises of a neighbourhood meter whose kind was not chosen: mostly homes."""
    draw = random.Random(f"kind:{seed}")
    if draw.random() >= BUSINESS_SHARE:
        return HOME
    return draw.choice((SHOP, SHOP, BAKERY))


def _shower_windows(occupants: int) -> tuple[Window, ...]:
    """About one shower a day per occupant, at most three (the rest of the family showers elsewhere or on
    the 'summer' setting), split between the morning and the evening."""
    morning = Window(6.0, 8.0, 0.6)
    evening = Window(18.0, 22.0, 0.9)
    late = Window(19.0, 22.5, 0.6)
    return (morning, evening, late)[: min(occupants, 3)] if occupants > 1 else (evening,)
