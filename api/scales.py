"""The intervals of a consumption chart: hours, days or months of the configured zone. Pure.

A span is a range of local calendar days, both ends included. Hours are real hours: a day on
which clocks go forward has 23 of them, one on which they go back 25 (the repeated hour shows
its own offset). Days and months start at local midnight, or at the first instant of a day
whose midnight a DST gap swallows (core.periods.day_start).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from core.periods import day_start

HOUR, DAY, MONTH = "hora", "dia", "mes"
SCALES = (HOUR, DAY, MONTH)
HOUR_MS = 3_600_000
MAX_DAYS = {HOUR: 31, DAY: 366}  # at most 744 hours or 366 days per answer
MAX_MONTHS = 120


@dataclass(frozen=True)
class Span:
    """Local days `first` to `last` (both included), cut into intervals of `scale`."""

    scale: str
    first: date
    last: date

    def fitted(self) -> tuple["Span", bool]:
        """This span with its ends in order and cut to the most one answer holds, keeping its
        last day (the recent end is what a chart shows); and whether it had to be cut."""
        first, last = sorted((self.first, self.last))
        if self.scale == MONTH:
            months = (last.year - first.year) * 12 + last.month - first.month + 1
            if months > MAX_MONTHS:
                index = last.year * 12 + last.month - MAX_MONTHS
                return Span(self.scale, date(index // 12, index % 12 + 1, 1), last), True
            return Span(self.scale, first, last), False
        if (last - first).days + 1 > MAX_DAYS[self.scale]:
            return Span(self.scale, last - timedelta(days=MAX_DAYS[self.scale] - 1), last), True
        return Span(self.scale, first, last), False


def default_span(scale: str, today: date) -> Span:
    """Today by hour, the last 30 days by day, or the last 12 months by month (this one included)."""
    if scale == HOUR:
        return Span(scale, today, today)
    if scale == DAY:
        return Span(scale, today - timedelta(days=29), today)
    month_index = today.year * 12 + today.month - 1 - 11
    return Span(scale, date(month_index // 12, month_index % 12 + 1, 1), today)


def boundaries(span: Span, zone: ZoneInfo) -> list[int]:
    """The instants (ms) that cut the span into its intervals, first start to last end."""
    if span.scale == MONTH:
        months = _month_starts(span.first, span.last)
        return [day_start(first_day, zone) for first_day in months]
    days = [span.first + timedelta(days=offset) for offset in range((span.last - span.first).days + 2)]
    starts = [day_start(each, zone) for each in days]
    if span.scale == DAY:
        return starts
    start, end = starts[0], starts[-1]
    return [*range(start, end, HOUR_MS), end]


def _month_starts(first: date, last: date) -> list[date]:
    """The first day of every month from `first`'s to `last`'s, and of the month after."""
    index, end = first.year * 12 + first.month - 1, last.year * 12 + last.month
    return [date(month // 12, month % 12 + 1, 1) for month in range(index, end + 1)]
