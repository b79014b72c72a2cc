"""The register series: energy of many intervals at once, equal to each interval on its own."""

from decimal import Decimal

from core.models import Reading, ReadingFlag
from core.series import Series

HOUR = 3_600_000

# Meter 7: 0 Wh at 1h, 1 000 Wh at 3h, then a reset to 0 at 4h (the store records the drop with
# +1 000 Wh added to every later register: adjusted 1 000), 600 Wh at 5h (adjusted 1 600).
READINGS = [(1 * HOUR, 0), (3 * HOUR, 1_000), (4 * HOUR, 0), (5 * HOUR, 600)]


def _store(db) -> None:
    with db.begin() as session:
        session.add_all(Reading(meter_id=7, ts=ts, wh=wh) for ts, wh in READINGS)
        session.add(ReadingFlag(meter_id=7, ts=4 * HOUR, kind="drop", prev_ts=3 * HOUR, prev_wh=1_000,
                                wh=0, adjust_wh=1_000, power_w=0, flagged_at=4 * HOUR))


def test_each_hour_gets_the_interpolated_register_difference(db):
    _store(db)
    with db() as session:
        hours = Series(session, 7).energy_between([h * HOUR for h in range(7)])
    # Before the first reading nothing counts; 1h-3h is 1 000 Wh spread evenly; 3h-4h the reset
    # step counts nothing (the adjusted register stays at 1 000); 4h-5h is 600 Wh; after 5h, flat.
    assert hours == [Decimal(0), Decimal(500), Decimal(500), Decimal(0), Decimal(600), Decimal(0)]


def test_intervals_agree_with_consumption_of_each_interval(db):
    _store(db)
    boundaries = [0, HOUR + 1234, 2 * HOUR + 1, 3 * HOUR, 4 * HOUR + 999, 9 * HOUR]
    with db() as session:
        series = Series(session, 7)
        together = series.energy_between(boundaries)
        one_by_one = [series.consumption_wh(low, high) for low, high in zip(boundaries, boundaries[1:])]
    assert together == one_by_one
    assert sum(together) == Decimal(1_600)


def test_a_meter_without_readings_and_too_few_boundaries_give_zeros_or_nothing(db):
    with db() as session:
        series = Series(session, 8)
        assert series.energy_between([0, HOUR, 2 * HOUR]) == [Decimal(0), Decimal(0)]
        assert series.energy_between([HOUR]) == []
        assert series.energy_between([]) == []
