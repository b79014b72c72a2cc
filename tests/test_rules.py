"""The two alert rules of SPEC §6."""

from decimal import Decimal

from core.rules import excess_threshold, is_variation

D = Decimal


def test_excess_needs_at_least_one_closed_bill():
    assert excess_threshold([], D(150)) is None


def test_excess_threshold_is_the_mean_of_the_last_three_plus_the_margin():
    assert excess_threshold([D(100)], D(150)) == D(250)
    assert excess_threshold([D(900), D(100), D(200), D(300)], D(150)) == D(350)


def test_variation_is_symmetric_and_inclusive():
    assert is_variation(D(300), D(200), D(100))
    assert is_variation(D(100), D(200), D(100))
    assert not is_variation(D("299.999"), D(200), D(100))


# --- early warnings (issue 4) ----------------------------------------------------------------

from core.rules import (  # noqa: E402 - grouped with the tests that use them
    MINUTE_MS, Minute, daily_limit, is_silent, median, minute_powers, projection_reaches, runs_above,
)


def test_projection_reaches_the_target_at_the_pace_so_far():
    day = 86_400_000
    # 100 kWh in 10 of 30 days projects to 300 kWh: reaches 300, not 300.001
    assert projection_reaches(D(100_000), 10 * day, 30 * day, D(300_000))
    assert not projection_reaches(D(100_000), 10 * day, 30 * day, D(300_001))
    assert not projection_reaches(D(100_000), 0, 30 * day, D(1))


def test_median_of_odd_and_even_counts():
    assert median([D(3), D(1), D(2)]) == 2
    assert median([D(4), D(1), D(3), D(2)]) == D("2.5")


def test_daily_limit_needs_enough_measured_days_and_some_usual_consumption():
    week = [D(10_000)] * 6 + [D(12_000)]
    assert daily_limit(week, D(3), 7) == D(30_000)
    assert daily_limit(week[:6], D(3), 7) is None
    assert daily_limit([D(0)] * 10, D(3), 7) is None


def test_minute_powers_interpolate_and_refuse_to_guess_across_gaps():
    t0 = 1_700_000_040_000  # a minute boundary
    # 10 kW is 10 000 Wh per hour, 166.667 Wh a minute; one reading every 30 s
    readings = [(t0 + 30_000 * i, 1_000_000 + round(10_000 * 30 * i / 3600)) for i in range(7)]
    minutes = minute_powers(readings, t0, t0 + 3 * MINUTE_MS, max_gap_ms=15 * MINUTE_MS)
    # registers at the minutes: 0, 167, 333, 500 Wh (rounded), so 167, 166, 167 Wh a minute
    assert [m.power_w for m in minutes] == [10_020, 9_960, 10_020]
    gap = [(t0, 0), (t0 + 20 * MINUTE_MS, 4_000)]  # 12 kW on average, over 20 minutes
    assert minute_powers(gap, t0, t0 + MINUTE_MS, 15 * MINUTE_MS) == [Minute(t0, None)]
    assert minute_powers(gap, t0, t0 + MINUTE_MS, 20 * MINUTE_MS)[0].power_w == 12_000


def test_runs_above_the_limit_continue_from_an_earlier_look():
    limit = D(8_000)
    powers = [9_000, 9_500, 7_000, 8_001, None, 8_500, 8_600]
    minutes = [Minute(i * MINUTE_MS, None if p is None else D(p)) for i, p in enumerate(powers)]
    assert [(r.start, r.end) for r in runs_above(minutes, limit)] == [
        (0, 2 * MINUTE_MS), (3 * MINUTE_MS, 4 * MINUTE_MS), (5 * MINUTE_MS, 7 * MINUTE_MS)]
    [carried, *_] = runs_above(minutes, limit, run_start=-10 * MINUTE_MS)
    assert (carried.start, carried.end) == (-10 * MINUTE_MS, 2 * MINUTE_MS)


def test_silence_counts_only_while_someone_listened():
    hour = 3_600_000
    assert is_silent(received_at=0, listening_since=0, now_ms=hour + 1, limit_ms=hour)
    assert not is_silent(received_at=0, listening_since=0, now_ms=hour, limit_ms=hour)
    assert not is_silent(received_at=0, listening_since=hour // 2, now_ms=hour + 1, limit_ms=hour)
