"""Local days and billing cycles (SPEC §6), including DST gaps at midnight and short months."""

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from core.periods import Cycle, cycle_bounds, cycle_of, cycles_between, day_bounds, day_start, iso, to_ms

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
UTC = ZoneInfo("UTC")


def utc_ms(*parts):
    return to_ms(datetime(*parts, tzinfo=timezone.utc))


def test_cycle_navigation_wraps_years():
    assert Cycle(2023, 12).next() == Cycle(2024, 1)
    assert Cycle(2024, 1).previous() == Cycle(2023, 12)
    assert cycles_between(Cycle(2023, 11), Cycle(2024, 2)) == [
        Cycle(2023, 11), Cycle(2023, 12), Cycle(2024, 1), Cycle(2024, 2)]


def test_bill_of_march_covers_february_10_to_march_10_local_midnight():
    start, end = cycle_bounds(Cycle(2023, 3), 10, SAO_PAULO)
    assert iso(start, SAO_PAULO) == "2023-02-10T00:00:00-03:00"
    assert iso(end, SAO_PAULO) == "2023-03-10T00:00:00-03:00"


def test_closing_day_31_is_clamped_to_the_last_day_of_short_months():
    start, end = cycle_bounds(Cycle(2024, 3), 31, UTC)
    assert (start, end) == (utc_ms(2024, 2, 29), utc_ms(2024, 3, 31))
    start, end = cycle_bounds(Cycle(2023, 3), 31, UTC)
    assert start == utc_ms(2023, 2, 28)


def test_an_instant_belongs_to_the_cycle_that_contains_it():
    assert cycle_of(utc_ms(2023, 3, 9, 23, 59, 59), 10, UTC) == Cycle(2023, 3)
    assert cycle_of(utc_ms(2023, 3, 10), 10, UTC) == Cycle(2023, 4)
    assert cycle_of(utc_ms(2023, 12, 15), 10, UTC) == Cycle(2024, 1)
    assert cycle_of(utc_ms(2024, 3, 1), 31, UTC) == Cycle(2024, 3)


def test_where_midnight_does_not_exist_the_day_starts_at_the_first_instant():
    # Brazil's 2018 DST began at 00:00 on 4 November: clocks jumped to 01:00 (-02:00).
    start = day_start(date(2018, 11, 4), SAO_PAULO)
    assert start == utc_ms(2018, 11, 4, 3)
    assert iso(start, SAO_PAULO) == "2018-11-04T01:00:00-02:00"
    start, end = day_bounds(date(2018, 11, 4), SAO_PAULO)
    assert end - start == 23 * 3600 * 1000


def test_a_day_when_clocks_go_back_lasts_25_hours():
    # DST ended at midnight on 17 Feb 2019: 16 February ran 23:00-23:59 twice.
    start, end = day_bounds(date(2019, 2, 16), SAO_PAULO)
    assert end - start == 25 * 3600 * 1000
    assert iso(end, SAO_PAULO) == "2019-02-17T00:00:00-03:00"
    start, end = day_bounds(date(2023, 10, 29), ZoneInfo("Europe/Lisbon"))
    assert end - start == 25 * 3600 * 1000


def test_cycle_across_a_dst_change_in_a_zone_that_has_one():
    start, end = cycle_bounds(Cycle(2018, 11), 4, SAO_PAULO)
    assert iso(start, SAO_PAULO) == "2018-10-04T00:00:00-03:00"
    assert iso(end, SAO_PAULO) == "2018-11-04T01:00:00-02:00"


@pytest.mark.parametrize("ts, text", [
    (0, "1969-12-31T21:00:00-03:00"),
    (1_679_321_400_123, "2023-03-20T11:10:00.123-03:00"),
])
def test_iso_uses_the_zone_offset_and_milliseconds_only_when_present(ts, text):
    assert iso(ts, SAO_PAULO) == text
