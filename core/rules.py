"""The alert rules as pure functions over plain figures: no database, no broker, no web.

The two rules of SPEC §6 (`excesso`, `variacao`) and the early warnings of issue 4: the open
cycle's projection crossing either threshold, a day far above the customer's usual day, power
held above a limit (a stuck heater or shower), and, for operators, a meter gone silent.
Energy is in Wh or kWh as `Decimal`/int, instants in ms since the epoch.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterator, Sequence

EXCESS = "excesso"
VARIATION = "variacao"
PROJECTED_EXCESS = "projecao_excesso"
PROJECTED_VARIATION = "projecao_variacao"
DAILY = "consumo_diario"
POWER = "potencia"
SILENCE = "silencio"

OPEN = "aberto"  # alert states: raised, acknowledged by the customer, cleared
ACKNOWLEDGED = "reconhecido"
CLEARED = "encerrado"
STATES = (OPEN, ACKNOWLEDGED, CLEARED)

SEVERITY = {
    EXCESS: "alerta", VARIATION: "alerta", POWER: "alerta",
    PROJECTED_EXCESS: "aviso", PROJECTED_VARIATION: "aviso", DAILY: "aviso", SILENCE: "aviso",
}
AUDIENCE = {SILENCE: "operador"}  # who acts on it; every other kind is the customer's
KINDS = (EXCESS, VARIATION, PROJECTED_EXCESS, PROJECTED_VARIATION, DAILY, POWER, SILENCE)

EXCESS_HISTORY = 3  # closed bills averaged by the excess rule
MINUTE_MS = 60_000  # power is judged minute by minute
MS_PER_HOUR = 3_600_000


def excess_threshold(closed_consumption: Sequence[Decimal], excess_kwh: Decimal) -> Decimal | None:
    """The cycle consumption that raises `excesso`: mean of the last 3 closed bills plus the margin.

    `closed_consumption` is in cycle order, oldest first; the rule needs at least one bill.
    """
    recent = list(closed_consumption)[-EXCESS_HISTORY:]
    if not recent:
        return None
    return sum(recent, Decimal(0)) / len(recent) + excess_kwh


def is_variation(current_kwh: Decimal, previous_kwh: Decimal, variation_kwh: Decimal) -> bool:
    """True when a closed bill differs from the one before by at least the margin, up or down."""
    return abs(current_kwh - previous_kwh) >= variation_kwh


def projection_reaches(consumed_wh: Decimal, elapsed_ms: int, span_ms: int, target_wh: Decimal) -> bool:
    """Whether consumption so far, extended at the same pace to the whole cycle, reaches a target.

    Cross-multiplied, so no rounding decides it: `consumed × span / elapsed >= target`.
    """
    if elapsed_ms <= 0:
        return False
    return consumed_wh * max(span_ms, elapsed_ms) >= target_wh * elapsed_ms


def median(values: Sequence[Decimal]) -> Decimal:
    """The middle value (the mean of the two middle ones for an even count); needs one value."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def daily_limit(earlier_days_wh: Sequence[Decimal], factor: Decimal, min_days: int) -> Decimal | None:
    """The consumption (Wh) a day must exceed to raise `consumo_diario`: factor × median day.

    None when fewer than `min_days` earlier days were measured, or when the median day is zero
    (a house that uses nothing has no "usual day" to compare with).
    """
    if len(earlier_days_wh) < max(min_days, 1):
        return None
    usual = median(earlier_days_wh)
    return usual * factor if usual > 0 else None


@dataclass(frozen=True, slots=True)
class Minute:
    """One minute `[start, start + 1 min)` and its mean power, None where the readings cannot tell."""

    start: int
    power_w: Decimal | None

    @property
    def end(self) -> int:
        """The minute's end."""
        return self.start + MINUTE_MS


def minute_floor(ts_ms: int) -> int:
    """The start of the minute holding an instant."""
    return ts_ms - ts_ms % MINUTE_MS


def minute_powers(readings: Sequence[tuple[int, int]], start: int, end: int, max_gap_ms: int) -> list[Minute]:
    """Mean power of each whole minute in `[start, end)` (both on minute boundaries).

    `readings` are `(ts, adjusted Wh)` in time order. The register at a minute boundary is
    interpolated between the readings around it; a boundary whose readings are further apart
    than `max_gap_ms` (or that lies outside them) is unknown, and so are the minutes it bounds.
    Judging whole minutes, not single steps, keeps a 5-second register of whole watt-hours
    (about ±0.7 kW of rounding per step) from breaking a steady 8.5 kW load into pieces.
    """
    times = [ts for ts, _ in readings]
    minutes = []
    low = _register(readings, times, start, max_gap_ms)
    for moment in range(start, end, MINUTE_MS):
        high = _register(readings, times, moment + MINUTE_MS, max_gap_ms)
        power = None if low is None or high is None else (high - low) * MS_PER_HOUR / MINUTE_MS
        minutes.append(Minute(moment, power))
        low = high
    return minutes


def _register(readings: Sequence[tuple[int, int]], times: Sequence[int], instant: int, max_gap_ms: int) -> Decimal | None:
    """The register at an instant, interpolated between readings at most `max_gap_ms` apart."""
    index = bisect.bisect_right(times, instant)
    if index == 0:
        return None
    before_ts, before_wh = readings[index - 1]
    if before_ts == instant:
        return Decimal(before_wh)
    if index == len(readings):
        return None
    after_ts, after_wh = readings[index]
    if after_ts - before_ts > max_gap_ms:
        return None
    return Decimal(before_wh) + Decimal(after_wh - before_wh) * (instant - before_ts) / (after_ts - before_ts)


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive minutes above the power limit: `[start, end)`."""

    start: int
    end: int

    @property
    def duration_ms(self) -> int:
        """How long the power stayed above the limit."""
        return self.end - self.start


def runs_above(minutes: Sequence[Minute], limit_w: Decimal, run_start: int | None = None) -> Iterator[Run]:
    """The runs of consecutive minutes whose power is above `limit_w`.

    `run_start` continues a run that began before the first minute (known from an earlier look).
    The last run yielded may still be going on when the last minute is above the limit.
    """
    start = run_start
    end = minutes[0].start if run_start is not None and minutes else run_start
    for minute in minutes:
        if minute.power_w is not None and minute.power_w > limit_w:
            start = minute.start if start is None else start
            end = minute.end
            continue
        if start is not None and end is not None and end > start:
            yield Run(start, end)
        start, end = None, None
    if start is not None and end is not None and end > start:
        yield Run(start, end)


def step_power_w(prev_ts: int, prev_wh: int, ts: int, wh: int) -> int:
    """Mean power between two readings, in watts, rounded down (0 when the register went down)."""
    return max(wh - prev_wh, 0) * MS_PER_HOUR // max(ts - prev_ts, 1)


def is_silent(received_at: int, listening_since: int, now_ms: int, limit_ms: int) -> bool:
    """Whether a meter has been silent for longer than `limit_ms` while somebody was listening.

    A worker that has just started (or reconnected) cannot tell a silent meter from one whose
    readings wait in the broker's queue, so silence counts only from when it began listening.
    """
    return now_ms - max(received_at, listening_since) > limit_ms
