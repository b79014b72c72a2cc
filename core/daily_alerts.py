"""`consumo_diario`: a local day whose consumption exceeds a multiple of the customer's usual day.

The usual day is the median of the days before it (`daily_window_days`, 30 by default) that
were measured whole, i.e. that began at or after the meter's first reading; the rule needs at
least `daily_min_days` (7) of them. A day's consumption is the register at its end (or at the
latest reading, while it lasts) minus the register at its start, interpolated as for bills,
so the alert fires at the first reading that takes the running day past the limit, or, when
only a reading after midnight shows it, at that reading. Once per customer and day.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Iterable

from sqlalchemy import Row
from sqlalchemy.orm import Session

from core import rules
from core.alerting import raise_alert, raised
from core.bills import closing_day
from core.config import AlertConfig, Settings
from core.models import AlertWatch, Customer, MeterState
from core.money import kwh_from_wh
from core.periods import cycle_of, day_start, iso, local_date
from core.series import Series

MAX_DAYS_PER_CHECK = 32  # a batch that spans more days (a history replayed) checks the latest ones


def check_days(
    session: Session, customer: Customer, state: MeterState, watch: AlertWatch, days: Iterable[date],
    config: AlertConfig, settings: Settings, now_ms: int,
) -> None:
    """Judge some local days (the running one included) and arm the watch for the latest reading's day."""
    zone = settings.zone
    today = local_date(state.last_ts, zone)
    wanted = sorted({day for day in days if day <= today})[-MAX_DAYS_PER_CHECK:]
    if today not in wanted:
        wanted.append(today)
    series = Series(session, state.meter_id)
    registers = _day_registers(series, wanted[0] - timedelta(days=config.daily_window_days), today, settings)
    watch.day_end, watch.daily_at = registers[today + timedelta(days=1)][0], None
    for day in wanted:
        limit, usual, measured = _limit(registers, day, state.first_ts, config)
        if limit is None or raised(session, customer.id, rules.DAILY, day.isoformat()):
            continue
        start, low = registers[day]
        end, high = registers[day + timedelta(days=1)]
        if high - low > limit:
            _raise(session, customer, series, day, start, end, low, limit, usual, measured, config, settings, now_ms)
        elif day == today:
            watch.daily_at = str(low + limit)  # the register above which today raises


def due_days(state: MeterState, watch: AlertWatch | Row, late_ts: Iterable[int], settings: Settings) -> list[date]:
    """The days a batch asks to judge: the day just ended (and any the batch skipped over), the
    running one, and the last two days where late readings landed. Empty when nothing is due."""
    late_ts = list(late_ts)
    armed_today = watch.day_end is not None and state.last_ts < watch.day_end
    if armed_today and not late_ts and (
            watch.daily_at is None or state.last_wh + state.adjust_wh <= Decimal(watch.daily_at)):
        return []  # the common case, decided without a calendar
    zone = settings.zone
    today = local_date(state.last_ts, zone)
    recent = today - timedelta(days=1)
    days = {day for day in (local_date(ts, zone) for ts in late_ts) if day >= recent}
    if watch.day_end is None:
        days |= {recent, today}
    elif not armed_today:
        armed = local_date(watch.day_end - 1, zone)
        days |= {armed + timedelta(days=n) for n in range(min((today - armed).days, MAX_DAYS_PER_CHECK) + 1)}
    elif watch.daily_at is not None and state.last_wh + state.adjust_wh > Decimal(watch.daily_at):
        days.add(today)
    return sorted(days)


def _day_registers(series: Series, first: date, last: date, settings: Settings) -> dict[date, tuple[int, Decimal]]:
    """The start instant of each day from `first` to the day after `last`, and the register then.

    All the days' registers come from one batched lookup (a month of days: one statement, not 33).
    """
    days = [first + timedelta(days=n) for n in range((last - first).days + 2)]
    starts = {day: day_start(day, settings.zone) for day in days}
    registers = series.registers(starts.values())
    return {day: (start, registers[start]) for day, start in starts.items()}


def _limit(registers: dict[date, tuple[int, Decimal]], day: date, first_ts: int,
           config: AlertConfig) -> tuple[Decimal | None, Decimal, int]:
    """The day's limit (Wh), the median day and how many days it was taken over."""
    earlier = []
    for back in range(config.daily_window_days, 0, -1):
        before = day - timedelta(days=back)
        start, low = registers[before]
        if start >= first_ts:
            earlier.append(registers[before + timedelta(days=1)][1] - low)
    limit = rules.daily_limit(earlier, config.daily_factor, config.daily_min_days)
    return limit, rules.median(earlier) if earlier else Decimal(0), len(earlier)


def _raise(session: Session, customer: Customer, series: Series, day: date, start: int, end: int,
           low: Decimal, limit: Decimal, usual: Decimal, measured: int, config: AlertConfig,
           settings: Settings, now_ms: int) -> None:
    """Raise the day's alert at the reading that took it past the limit."""
    target = low + limit
    crossing = series.first_reaching(start, end, Decimal(int(target) + 1))  # strictly above the limit
    if crossing is not None:
        reading, consumed = crossing, Decimal(series.adjusted(crossing.ts, crossing.wh)) - low
    else:  # only the interpolated register at midnight shows it: the first reading after the day
        reading = series.first_at_or_after(end)
        consumed = (series.register_at(end) or low) - low
    cycle = cycle_of(start, closing_day(customer, settings), settings.zone)
    raise_alert(session, customer.id, rules.DAILY, day.isoformat(), cycle, now_ms, {
        "dia": day.isoformat(),
        "consumo_kwh": float(kwh_from_wh(consumed)),
        "limite_kwh": float(kwh_from_wh(limit)),
        "mediana_kwh": float(kwh_from_wh(usual)),
        "fator": float(config.daily_factor),
        "dias_base": measured,
        "leitura": iso(reading.ts, settings.zone) if reading else None,
        "leitura_kwh": float(kwh_from_wh(reading.wh)) if reading else None,
    })
