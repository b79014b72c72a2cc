"""Simulated time: durations, `--since`, `--speed`, and where a replayed history starts."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from core.periods import to_ms
from meter.timeline import History, parse_duration, parse_since, parse_speed

ZONE = ZoneInfo("America/Sao_Paulo")
NOW = to_ms(datetime(2026, 11, 24, 19, 7, 31, tzinfo=ZONE))
MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000


@pytest.mark.parametrize("text, ms", [
    ("90d", 90 * DAY), ("36h", 36 * HOUR), ("15m", 15 * MINUTE), ("2.5s", 2500), ("1h30m", 90 * MINUTE),
    ("1w", 7 * DAY), ("250ms", 250), (" 2H ", 2 * HOUR),
])
def test_durations(text, ms):
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "90", "d", "1y", "-5m", "5 minutes", "1h-30m"])
def test_what_is_not_a_duration_says_so(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_since_is_a_duration_ago_or_a_local_date():
    assert parse_since("95d", ZONE, NOW) == NOW - 95 * DAY
    assert parse_since("2026-08-01", ZONE, NOW) == to_ms(datetime(2026, 8, 1, tzinfo=ZONE))
    assert parse_since("2026-08-01T06:00", ZONE, NOW) == to_ms(datetime(2026, 8, 1, 6, tzinfo=ZONE))
    assert parse_since("2026-08-01T06:00Z", ZONE, NOW) == to_ms(datetime(2026, 8, 1, 3, tzinfo=ZONE))
    with pytest.raises(ValueError, match="ISO date"):
        parse_since("last summer", ZONE, NOW)


def test_speed_is_max_or_a_factor_of_real_time():
    assert parse_speed("max") is None
    assert parse_speed("20000") == 20000
    for bad in ("0.5", "fast", "inf", "-3"):
        with pytest.raises(ValueError):
            parse_speed(bad)


def test_history_starts_on_the_first_step_after_since():
    history = History(NOW - 2 * DAY, step_ms=15 * MINUTE)
    assert history.origin_ms % (15 * MINUTE) == 0
    assert NOW - 2 * DAY <= history.origin_ms < NOW - 2 * DAY + 15 * MINUTE
    assert history.first_ts(0) == history.origin_ms  # a new meter


def test_a_meter_with_a_newer_state_continues_after_its_last_reading():
    history = History(NOW - 2 * DAY, step_ms=15 * MINUTE)
    stored = NOW - DAY + 7 * MINUTE  # a reading between two steps, from a run stopped a day ago
    first = history.first_ts(stored)
    assert stored < first <= stored + 15 * MINUTE and first % (15 * MINUTE) == 0
    assert history.first_ts(history.origin_ms) == history.origin_ms + 15 * MINUTE  # never the same time twice


def test_a_meter_with_an_older_state_starts_at_since():
    history = History(NOW - 2 * DAY, step_ms=HOUR)
    assert history.first_ts(NOW - 200 * DAY) == history.origin_ms


def test_a_finite_speed_spreads_the_history_over_real_time():
    history = History(NOW - DAY, step_ms=15 * MINUTE, speed=3600)
    assert history.real_offset_s(history.origin_ms) == 0
    assert history.real_offset_s(history.origin_ms + HOUR) == pytest.approx(1.0)  # an hour a second
    assert History(NOW - DAY).real_offset_s(NOW) == 0  # max speed: everything due at once
