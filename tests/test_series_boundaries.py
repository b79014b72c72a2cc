"""Series.boundaries: the register at many instants in one statement agrees with SPEC §6 interpolation."""

from decimal import Decimal

import pytest
from sqlalchemy import insert

from core.models import Reading, ReadingFlag
from core.intervals import Point, register_at
from core.series import Series

HOUR = 3_600_000


@pytest.fixture
def meter(db):
    """Meter 3: 0 Wh at hour 0, 1 000 at hour 1, reset to 100 at hour 2 (+100 Wh counted), 300 at hour 4."""
    with db.begin() as session:
        session.execute(insert(Reading), [
            {"meter_id": 3, "ts": 0, "wh": 0}, {"meter_id": 3, "ts": HOUR, "wh": 1_000},
            {"meter_id": 3, "ts": 2 * HOUR, "wh": 100}, {"meter_id": 3, "ts": 4 * HOUR, "wh": 300},
            {"meter_id": 4, "ts": 0, "wh": 999_999},  # another meter, never mixed in
        ])
        # the reset: adjusted register = raw + 1 000 from hour 2 on (1 000 before, 100 counted)
        session.execute(insert(ReadingFlag), [{"meter_id": 3, "ts": 2 * HOUR, "kind": "reset", "prev_ts": HOUR,
                                               "prev_wh": 1_000, "wh": 100, "adjust_wh": 1_000, "power_w": 100,
                                               "flagged_at": 0}])
    return db


def test_boundaries_interpolate_the_adjusted_register(meter):
    with meter() as session:
        series = Series(session, 3)
        found = series.boundaries([-HOUR, 0, HOUR // 2, 3 * HOUR, 4 * HOUR, 9 * HOUR])
    assert found[-HOUR].register == 0 and found[-HOUR].readings == ((0, 0),)  # before the first: its value
    assert found[0].register == 0 and found[0].readings == ((0, 0),)  # exactly at a reading
    assert found[HOUR // 2].register == 500  # half way from 0 to 1 000
    # between 1 100 (hour 2, adjusted) and 1 300 (hour 4): 1 200; the readings keep their raw values
    assert found[3 * HOUR].register == 1_200 and found[3 * HOUR].readings == ((2 * HOUR, 100), (4 * HOUR, 300))
    assert found[9 * HOUR].register == 1_300  # after the last: its value, no extrapolation


def test_boundaries_agree_with_interpolating_every_reading(meter):
    # the adjusted readings: 0, 1 000, 1 100, 1 300 at hours 0, 1, 2, 4
    expected = [Point(0, 0), Point(HOUR, 1_000), Point(2 * HOUR, 1_100), Point(4 * HOUR, 1_300)]
    instants = list(range(-HOUR, 5 * HOUR, HOUR // 7))
    with meter() as session:
        many = Series(session, 3).registers(instants)
    assert many == {instant: register_at(expected, instant) for instant in instants}


def test_more_instants_than_one_statement_holds(meter):
    instants = list(range(0, 4 * HOUR, 40_000))  # 360: two statements
    with meter() as session:
        assert len(Series(session, 3).boundaries(instants)) == 360


def test_a_meter_without_readings_has_no_register(db):
    with db() as session:
        series = Series(session, 42)
        assert series.register_at(0) is None and series.registers([0, 1]) == {0: 0, 1: 0}


def test_the_pure_interpolation():
    points = [Point(10, 100), Point(20, 200)]
    assert [register_at(points, t) for t in (0, 10, 15, 20, 30)] == [100, 100, 150, 200, 200]
    assert register_at([], 5) is None
    assert register_at(points, 13) == Decimal(130)
