"""The intervals of the charts: real hours across DST changes, local days, calendar months."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from api.scales import DAY, HOUR, MONTH, Span, boundaries, default_span
from core.periods import from_ms, to_ms

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
NEW_YORK = ZoneInfo("America/New_York")


def test_default_spans_are_today_the_last_30_days_and_the_last_12_months():
    today = date(2024, 3, 20)
    assert default_span(HOUR, today) == Span(HOUR, today, today)
    assert default_span(DAY, today) == Span(DAY, date(2024, 2, 20), today)
    assert default_span(MONTH, today) == Span(MONTH, date(2023, 4, 1), today)
    assert default_span(MONTH, date(2024, 12, 31)).first == date(2024, 1, 1)


def test_a_day_has_24_hours_from_local_midnight():
    cuts = boundaries(Span(HOUR, date(2024, 3, 20), date(2024, 3, 20)), SAO_PAULO)
    assert len(cuts) == 25
    assert cuts[0] == to_ms(datetime(2024, 3, 20, tzinfo=SAO_PAULO))
    assert cuts[-1] == to_ms(datetime(2024, 3, 21, tzinfo=SAO_PAULO))
    assert {b - a for a, b in zip(cuts, cuts[1:])} == {3_600_000}


def test_days_when_clocks_change_have_23_or_25_hours():
    spring = boundaries(Span(HOUR, date(2024, 3, 10), date(2024, 3, 10)), NEW_YORK)
    autumn = boundaries(Span(HOUR, date(2024, 11, 3), date(2024, 11, 3)), NEW_YORK)
    assert (len(spring) - 1, len(autumn) - 1) == (23, 25)
    # the repeated hour appears twice, each with its own offset
    labels = [from_ms(cut, NEW_YORK).isoformat()[11:] for cut in autumn[1:3]]
    assert labels == ["01:00:00-04:00", "01:00:00-05:00"]


def test_a_day_whose_midnight_did_not_exist_starts_when_it_began():
    # Brazil's DST began at 00:00 on 2018-11-04: the day started at 01:00 and had 23 hours.
    cuts = boundaries(Span(HOUR, date(2018, 11, 4), date(2018, 11, 4)), SAO_PAULO)
    assert from_ms(cuts[0], SAO_PAULO).isoformat() == "2018-11-04T01:00:00-02:00"
    assert len(cuts) - 1 == 23


def test_days_and_months_start_at_local_midnight():
    days = boundaries(Span(DAY, date(2024, 2, 28), date(2024, 3, 1)), SAO_PAULO)
    assert [from_ms(cut, SAO_PAULO).date().isoformat() for cut in days] == [
        "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02"]
    months = boundaries(Span(MONTH, date(2023, 11, 15), date(2024, 2, 3)), SAO_PAULO)
    assert [from_ms(cut, SAO_PAULO).date().isoformat() for cut in months] == [
        "2023-11-01", "2023-12-01", "2024-01-01", "2024-02-01", "2024-03-01"]


def test_spans_are_put_in_order_and_cut_to_their_most_recent_part():
    assert Span(HOUR, date(2024, 1, 1), date(2024, 1, 31)).fitted() == (Span(HOUR, date(2024, 1, 1), date(2024, 1, 31)), False)
    assert Span(HOUR, date(2024, 1, 1), date(2024, 2, 1)).fitted() == (Span(HOUR, date(2024, 1, 2), date(2024, 2, 1)), True)
    assert Span(DAY, date(2024, 1, 1), date(2024, 12, 31)).fitted()[1] is False
    assert Span(DAY, date(2024, 1, 1), date(2025, 1, 1)).fitted() == (Span(DAY, date(2024, 1, 2), date(2025, 1, 1)), True)
    assert Span(MONTH, date(2000, 1, 1), date(2010, 1, 1)).fitted() == (Span(MONTH, date(2000, 2, 1), date(2010, 1, 1)), True)
    assert Span(DAY, date(2024, 1, 2), date(2024, 1, 1)).fitted() == (Span(DAY, date(2024, 1, 1), date(2024, 1, 2)), False)
