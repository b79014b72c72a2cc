"""The instants a `data`/`horario` query covers (api.windows), across years and DST changes."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from api.params import Clock, Day
from api.windows import clock_windows, dates, day_windows
from core.periods import iso, to_ms

ZONE = ZoneInfo("America/Sao_Paulo")  # DST until 2019: 2018-11-04 00:00 -> 01:00, 2019-02-17 00:00 -> 2019-02-16 23:00


def ms(*fields):
    return to_ms(datetime(*fields, tzinfo=ZONE))


def shown(windows):
    return [(iso(start, ZONE), iso(end, ZONE)) for start, end in windows]


def test_a_full_date_is_one_day_whatever_the_data():
    assert dates(Day(1, 3, 2024), None, None, ZONE) == [date(2024, 3, 1)]


def test_every_year_runs_from_the_first_reading_to_the_latest():
    first, last = ms(2021, 6, 1), ms(2024, 2, 1)
    assert dates(Day(1, 3, None), first, last, ZONE) == [date(2021, 3, 1), date(2022, 3, 1), date(2023, 3, 1),
                                                          date(2024, 3, 1)]
    assert dates(Day(29, 2, None), first, last, ZONE) == [date(2024, 2, 29)]
    assert dates(Day(1, 3, None), None, None, ZONE) == []


def test_the_years_are_local_years():
    # 2024-01-01T01:00Z is still 2023-12-31 in São Paulo
    first = to_ms(datetime(2024, 1, 1, 1, tzinfo=ZoneInfo("UTC")))
    assert dates(Day(31, 12, None), first, first, ZONE) == [date(2023, 12, 31)]


def test_days_are_23_or_25_hours_long_on_dst_changes():
    assert shown(day_windows([date(2018, 11, 4), date(2019, 2, 16)], ZONE)) == [
        ("2018-11-04T01:00:00-02:00", "2018-11-05T00:00:00-02:00"),  # midnight did not exist
        ("2019-02-16T00:00:00-02:00", "2019-02-17T00:00:00-03:00"),  # 23:00-23:59 happened twice
    ]


def test_the_last_representable_day_has_an_end():
    [(start, end)] = day_windows([date(9999, 12, 31)], ZONE)
    assert end - start == 86_400_000


def test_wall_times_use_fold_0():
    skipped = clock_windows([date(2018, 11, 4)], Clock(0, 30, None), ZONE)
    assert shown(skipped) == [("2018-11-04T01:30:00-02:00", "2018-11-04T01:31:00-02:00")]  # offset before the jump
    repeated = clock_windows([date(2019, 2, 16)], Clock(23, 30, 15), ZONE)
    assert shown(repeated) == [("2019-02-16T23:30:15-02:00", "2019-02-16T23:30:16-02:00")]  # first occurrence
