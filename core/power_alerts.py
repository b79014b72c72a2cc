"""`potencia`: power held above a limit (8 kW) for a while (15 minutes): a stuck heater or shower.

Judged from the stored register, minute by minute (`core.rules.minute_powers`): an episode is a
run of consecutive whole minutes whose mean power is above the limit, and it raises one alert
when it has lasted the configured time, at the first reading that shows it. A minute counts only
when the readings around its boundaries are at most that time apart (plus a tenth, for readings
that come a little late), so a gap in the data never looks like a long episode, and readings
every 15 minutes (a history replayed) still show one.

The alert's cause is the episode's start (UTC, to the minute). Readings that arrive late or out
of order can move that start while the data fills in (a gap is interpolated evenly), so an
episode whose alert exists is recognised by an alert that starts within one episode length
before it or anywhere inside it: redelivery and reordering never raise it twice. When a run that
raised an alert ends, the alert is cleared (`encerrado`) with the episode's end in `detalhes`.
"""

from __future__ import annotations

from datetime import timezone
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import rules
from core.alert_states import clear
from core.alerting import raise_alert
from core.bills import closing_day
from core.config import AlertConfig, Settings
from core.models import Alert, AlertWatch, Customer, MeterState, Reading
from core.money import kwh, kwh_from_wh
from core.periods import cycle_of, from_ms, iso
from core.series import Series

FIRST_LOOK_BACK_MS = 5 * rules.MINUTE_MS
MAX_LOOK_BACK_MS = 24 * rules.MS_PER_HOUR  # a run longer than a day is dated from a day back


def check_power(
    session: Session, customer: Customer, state: MeterState, watch: AlertWatch, config: AlertConfig,
    settings: Settings, now_ms: int, scan_from: int | None,
) -> None:
    """Examine the whole minutes from `scan_from` (None: the first reading), or from where the
    last look stopped, to the latest reading; raise the episodes that reached the limit's
    duration, clear those that ended.

    A look that continues the last one knows which minutes it examined already; a fresh one
    (a first look, or late readings before where the last stopped) starts from the beginning
    of the run going on at `scan_from` and lets the existing alerts say what was raised.
    """
    limit_w = config.power_kw * 1000
    duration = config.power_minutes * rules.MINUTE_MS
    max_gap = duration + duration // 10  # readings every 15 min, a little late, still count
    series = Series(session, state.meter_id)
    end = rules.minute_floor(state.last_ts)
    pending = watch.power_scan_to
    continuing = pending is not None and (scan_from is None or scan_from >= pending)
    if continuing:
        start, run_start = pending, watch.power_run_start
    else:  # start afresh: from the run going on there, if any, so its minutes are all examined
        start = rules.minute_floor(state.first_ts if scan_from is None else scan_from)
        start = min(start, pending) if pending is not None else start
        start = _run_start_before(series, start, limit_w, max_gap) or start
        run_start = None
    if start >= end:  # no whole minute to judge yet
        watch.power_scan_to, watch.power_run_start = start, run_start
        return
    readings = _readings(series, start, end)
    ongoing = None
    for run in rules.runs_above(rules.minute_powers(readings, start, end, max_gap), limit_w, run_start):
        if run.duration_ms >= duration and (not continuing or run.start + duration > start):
            _raise_episode(session, customer, series, run, config, settings, now_ms)
        if run.end == end:
            ongoing = run
        elif run.duration_ms >= duration:
            clear(session, customer.id, rules.POWER, now_ms, _cause(run.start - duration), _cause(run.end),
                  {"fim": iso(run.end, settings.zone), "potencia_max_kw": _kw(_peak(series, run.start, run.end, max_gap))})
    hot_tail = any(
        rules.step_power_w(a_ts, a_wh, b_ts, b_wh) > limit_w
        for (a_ts, a_wh), (b_ts, b_wh) in zip(readings, readings[1:]) if b_ts > end
    )
    watch.power_run_start = ongoing.start if ongoing else None
    watch.power_scan_to = end if ongoing or hot_tail else None


def _raise_episode(session: Session, customer: Customer, series: Series, run: rules.Run,
                   config: AlertConfig, settings: Settings, now_ms: int) -> None:
    """Raise an episode's alert unless an alert already covers it."""
    duration = config.power_minutes * rules.MINUTE_MS
    known = session.scalar(select(Alert.id).where(
        Alert.customer_id == customer.id, Alert.tipo == rules.POWER,
        Alert.cause >= _cause(run.start - duration), Alert.cause <= _cause(run.end),
    ).limit(1))
    if known is not None:
        return
    reached = run.start + duration
    reading = series.first_at_or_after(reached)
    energy = (series.register_at(reached) or Decimal(0)) - (series.register_at(run.start) or Decimal(0))
    cycle = cycle_of(run.start, closing_day(customer, settings), settings.zone)
    raise_alert(session, customer.id, rules.POWER, _cause(run.start), cycle, now_ms, {
        "inicio": iso(run.start, settings.zone),
        "minutos": config.power_minutes,
        "limite_kw": float(config.power_kw),
        "potencia_media_kw": _kw(energy * rules.MS_PER_HOUR / duration),
        "potencia_max_kw": _kw(_peak(series, run.start, reached, duration + duration // 10)),
        "energia_kwh": float(kwh_from_wh(energy)),
        "leitura": iso(reading.ts, settings.zone) if reading else None,
        "leitura_kwh": float(kwh_from_wh(reading.wh)) if reading else None,
    })


def _run_start_before(series: Series, instant: int, limit_w: Decimal, max_gap_ms: int) -> int | None:
    """The start of the run above the limit that is going on at `instant`, looking back up to a day."""
    run_start, cursor, span = None, instant, FIRST_LOOK_BACK_MS
    while instant - cursor < MAX_LOOK_BACK_MS:
        low = cursor - span
        for minute in reversed(rules.minute_powers(_readings(series, low, cursor), low, cursor, max_gap_ms)):
            if minute.power_w is None or minute.power_w <= limit_w:
                return run_start
            run_start = minute.start
        cursor, span = low, span * 2
    return run_start


def _peak(series: Series, start: int, end: int, max_gap_ms: int) -> Decimal:
    """The highest whole-minute power of `[start, end)`, from the stored readings.

    A run that continues an earlier look knows only the peak of the minutes it saw itself, so the
    figures an alert shows are taken from the readings of the span they describe.
    """
    minutes = rules.minute_powers(_readings(series, start, end), start, end, max_gap_ms)
    return max((minute.power_w for minute in minutes if minute.power_w is not None), default=Decimal(0))


def _readings(series: Series, start: int, end: int) -> list[tuple[int, int]]:
    """`(ts, adjusted Wh)` of the readings in `[start, end]` and of the one on each side."""
    rows = series.session.execute(
        select(Reading.ts, Reading.wh)
        .where(Reading.meter_id == series.meter_id, Reading.ts >= start, Reading.ts <= end)
        .order_by(Reading.ts)
    ).all()
    before, after = series.at_or_before(start - 1), series.after(end)
    pairs = [(before.ts, before.wh)] if before else []
    pairs += [(ts, wh) for ts, wh in rows]
    pairs += [(after.ts, after.wh)] if after else []
    return [(ts, series.adjusted(ts, wh)) for ts, wh in pairs]


def _cause(ts_ms: int) -> str:
    """An episode's cause key: its start in UTC, to the second, text that sorts in time order."""
    return from_ms(ts_ms, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _kw(watts: Decimal) -> float:
    return float(kwh(Decimal(watts) / 1000))
