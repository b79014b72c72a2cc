"""Energy per hour and what is estimated (core.intervals): pure functions, figures by hand."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from core.intervals import GAP_MS, HOUR_MS, Point, estimated, hour_bounds, intervals, register_at, rounded_kwh
from core.money import kwh_from_wh
from core.series import Series
from core.wire import Reading, encode, topic_for
from ingest.store import Message, store_batch

MIN = 60_000


def test_a_day_has_as_many_hours_as_its_length():
    assert len(hour_bounds(0, 24 * HOUR_MS)) == 25
    assert len(hour_bounds(0, 23 * HOUR_MS)) - 1 == 23
    assert len(hour_bounds(0, 25 * HOUR_MS)) - 1 == 25
    assert hour_bounds(0, HOUR_MS * 3 // 2) == [0, HOUR_MS, HOUR_MS * 3 // 2]  # a half-hour DST shift


def test_the_register_between_readings_is_on_the_straight_line_and_flat_outside():
    points = [Point(0, 1_000), Point(HOUR_MS, 2_000)]
    assert register_at(points, -5) == 1_000
    assert register_at(points, HOUR_MS // 4) == 1_250
    assert register_at(points, HOUR_MS) == 2_000
    assert register_at(points, 9 * HOUR_MS) == 2_000
    assert register_at([], 0) is None


def test_steady_readings_give_exact_hours_and_no_estimate():
    points = [Point(ts, ts // (5 * MIN) * 100) for ts in range(0, 3 * HOUR_MS + 1, 5 * MIN)]  # 1.2 kWh/h
    hours = intervals(hour_bounds(0, 3 * HOUR_MS), points)
    assert [(h.wh, h.readings, h.estimated) for h in hours] == [(1_200, 12, False)] * 3


def test_hours_inside_a_gap_are_estimated_and_the_gap_energy_is_exact():
    # Every 5 min from 00:00 to 02:00 at 1.2 kWh/h; silent until 05:30, 12 kWh more; then again.
    before = [Point(ts, ts // (5 * MIN) * 100) for ts in range(0, 2 * HOUR_MS + 1, 5 * MIN)]
    resumed = 2_400 + 12_000
    after = [Point(ts, resumed + (ts - 330 * MIN) // (5 * MIN) * 100) for ts in range(330 * MIN, 8 * HOUR_MS + 1, 5 * MIN)]
    hours = intervals(hour_bounds(0, 8 * HOUR_MS), before + after)
    assert [h.estimated for h in hours] == [False, False, True, True, True, True, False, False]
    per_gap_hour = Decimal("3428.571428571")  # 12 kWh over 3.5 h
    assert [h.wh.quantize(Decimal("0.000000001")) for h in hours[2:5]] == [per_gap_hour] * 3
    assert hours[5].wh.quantize(Decimal("0.000000001")) == Decimal("2314.285714286")  # half in the gap, half measured
    assert sum(h.wh for h in hours[2:6]) == 12_000 + 600  # the gap's energy, exactly
    assert [h.readings for h in hours] == [12, 12, 1, 0, 0, 6, 12, 12]


def test_a_gap_shorter_than_the_threshold_is_not_an_estimate():
    points = [Point(0, 0), Point(GAP_MS, 500), Point(GAP_MS + 1 + HOUR_MS, 900)]
    hours = intervals(hour_bounds(0, 2 * HOUR_MS), points)
    assert hours[0].estimated and hours[1].estimated  # the second step is longer than GAP_MS
    assert not intervals([0, GAP_MS], points[:2])[0].estimated


def test_only_an_end_inside_a_gap_makes_an_estimate():
    assert estimated([0, 10, 20, 30], [(10, 20)]) == [False, False, False]  # readings at both ends: exact
    assert estimated([0, 10, 20], [(5, 25)]) == [True, True]
    assert estimated([0, 10, 20, 30], [(12, 18)]) == [False, False, False]  # the gap inside one interval
    assert estimated([0, 10, 20, 30], [(15, 25)]) == [False, True, True]


def test_hours_before_the_first_and_after_the_last_reading_count_nothing():
    points = [Point(HOUR_MS + k * 10 * MIN, 5_000 + k * 100) for k in range(7)]  # readings from 01:00 to 02:00
    hours = intervals(hour_bounds(0, 4 * HOUR_MS), points)
    assert [(h.wh, h.estimated) for h in hours] == [(0, False), (600, False), (0, False), (0, False)]
    assert intervals([0, HOUR_MS], [])[0].wh == 0


def test_rounded_hours_add_up_to_the_rounded_total():
    exact = [Decimal(12_000) / 7] * 7  # 1714.2857... Wh each, 12 kWh in all
    shown = rounded_kwh(exact)
    assert sum(shown) == Decimal("12.000")
    assert shown == [Decimal("1.714"), Decimal("1.715"), Decimal("1.714"), Decimal("1.714"), Decimal("1.714"),
                     Decimal("1.715"), Decimal("1.714")]  # running totals 1.714, 3.429, 5.143, 6.857, ...
    assert all(abs(figure - kwh_from_wh(value)) <= Decimal("0.001") for figure, value in zip(shown, exact))


@given(
    steps=st.lists(st.tuples(st.integers(1, 3 * HOUR_MS), st.integers(0, 50_000)), min_size=1, max_size=40),
    offset=st.integers(-HOUR_MS, 5 * HOUR_MS),
    length=st.integers(1, 30 * HOUR_MS),
)
def test_the_hours_of_any_span_add_up_to_its_consumption(steps, offset, length):
    points, ts, wh = [], 0, 0
    for elapsed, energy in steps:
        ts, wh = ts + elapsed, wh + energy
        points.append(Point(ts, wh))
    start, end = offset, offset + length
    hours = intervals(hour_bounds(start, end), points)
    total = register_at(points, end) - register_at(points, start)
    assert sum(h.wh for h in hours) == total
    assert all(h.wh >= 0 for h in hours)
    assert sum(rounded_kwh([h.wh for h in hours])) == kwh_from_wh(total)
    assert sum(h.readings for h in hours) == sum(start <= p.ts < end for p in points)


def test_the_database_marks_the_same_estimates_as_the_loaded_readings(db, settings):
    t0 = 1_700_000_000_000
    times = [t0, t0 + 5 * MIN, t0 + 40 * MIN, t0 + 45 * MIN, t0 + 3 * HOUR_MS, t0 + 3 * HOUR_MS + MIN]
    messages = [Message(topic_for(3), encode(Reading(3, ts, index)), times[-1] + 1000) for index, ts in enumerate(times)]
    with db.begin() as session:
        store_batch(session, messages, settings, times[-1] + 1000)
    with db() as session:
        series = Series(session, 3)
        bounds = list(range(t0 - HOUR_MS, t0 + 4 * HOUR_MS + 1, 10 * MIN))
        energies, flags = series.measure(bounds)
        expected = intervals(bounds, series.points(bounds[0], bounds[-1]))
        assert flags == [interval.estimated for interval in expected]
        assert energies == [interval.wh for interval in expected]
        # 00:10, 00:20, 00:30 lie in the 00:05-00:40 silence (4 intervals end there); 00:50..02:50,
        # 13 boundaries, in the 00:45-03:00 one (14 intervals)
        assert flags.count(True) == 4 + 14
