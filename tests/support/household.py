"""A year of a household's readings, for tests and screenshots that need realistic figures.

About 6 kWh a day: a base load, morning and evening peaks, more at weekends, and air
conditioning in the afternoons of the southern summer (December to March), so that closing a
summer bill raises the `variacao` and `excesso` alerts as it would for a real customer. The
register is exact (integer Wh) and reproducible: the "noise" is a hash of the hour.

Readings come every 6 hours for most of the year, every hour for the last `hourly_days` days, and
every 5 minutes for the last two hours, always on those boundaries of local time, so the energy
of any local day or hour in those stretches is the difference of two readings.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.periods import from_ms, to_ms

HOUR_MS = 3_600_000
FIVE_MIN_MS = 300_000


def power_w(moment: datetime) -> int:
    """Mean power (W) drawn in the hour starting at the local `moment`."""
    hour, weekday, month = moment.hour, moment.weekday(), moment.month
    watts = 110.0
    if 6 <= hour < 8:
        watts += 420
    if 18 <= hour < 22:
        watts += 640
    if weekday >= 5 and 10 <= hour < 18:
        watts += 180
    if month in (12, 1, 2, 3) and 13 <= hour < 21:
        watts += 800
    noise = int.from_bytes(hashlib.sha256(moment.isoformat().encode()).digest()[:2], "big") / 65535
    return round(watts * (0.85 + 0.3 * noise))


def readings(end_ms: int, zone: ZoneInfo, days: int = 395, hourly_days: int = 35) -> list[tuple[int, int]]:
    """`(ts, wh)` from local midnight `days` days before `end_ms` to just before it, in time order."""
    end = from_ms(end_ms, zone)
    start = to_ms((end - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0))
    hourly_from = to_ms((end - timedelta(days=hourly_days)).replace(hour=0, minute=0, second=0, microsecond=0))
    fine_from = end_ms - 2 * HOUR_MS
    stamps = [
        ts for ts in range(start, end_ms, FIVE_MIN_MS)
        if ts >= fine_from or (ts % HOUR_MS == 0 and (ts >= hourly_from or from_ms(ts, zone).hour % 6 == 0))
    ]
    found, register = [(stamps[0], 1_250_000)], 1_250_000
    for low, high in zip(stamps, stamps[1:]):
        register += _energy_wh(low, high, zone)
        found.append((high, register))
    return found


def _energy_wh(start_ms: int, end_ms: int, zone: ZoneInfo) -> int:
    """Energy between two instants, hour by hour of the profile (exact to the Wh)."""
    total, cursor = 0.0, start_ms
    while cursor < end_ms:
        hour_start = cursor - cursor % HOUR_MS
        upto = min(end_ms, hour_start + HOUR_MS)
        total += power_w(from_ms(hour_start, zone)) * (upto - cursor) / HOUR_MS
        cursor = upto
    return round(total)
