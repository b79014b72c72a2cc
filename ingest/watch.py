"""The early-warning checks a batch may make due, for the registered meters it holds.

Each rule keeps what it needs in the meter's `AlertWatch` row, so a batch decides in memory
whether anything is due: the daily rule when the latest reading entered a new local day or went
past the day's armed register; the projection when the open cycle's pace reaches its armed
target; the power rule when a step of the batch was above the limit or a run is being followed;
all of them when late readings landed in the last two days. The rules themselves (core.*_alerts)
compute from the stored readings, never from what this batch held, so redelivered and reordered
readings give the same alerts as readings in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from core.alert_settings import thresholds
from core.config import Settings
from core.daily_alerts import check_days, due_days
from core.db import insert_ignore
from core.models import AlertWatch, Customer, MeterState
from core.periods import MS_PER_DAY
from core.power_alerts import check_power
from core.rules import DAILY, POWER, projection_reaches
from core.settlement import settle
from core.silence import clear_silence

RECENT_MS = 2 * MS_PER_DAY  # late readings older than this (before the latest one) are history


@dataclass
class Arrivals:
    """What one batch brought for one meter."""

    before_ts: int | None  # the latest reading stored before the batch
    peak_w: int = 0  # highest power of the steps appended after it
    late: list[int] = field(default_factory=list)  # instants of the late readings stored
    late_peak_w: int = 0  # highest power of the steps around them


def observe(session: Session, states: Iterable[MeterState], arrivals: dict[int, Arrivals],
            settings: Settings, now_ms: int) -> None:
    """Record that the batch's registered meters reported, and run the checks they made due.

    The decision reads plain rows; customer and watch objects are loaded only for the meters
    where something is due, so a batch of a thousand quiet meters costs two statements.
    """
    registered = [state for state in states if state.registered and state.last_ts is not None]
    if not registered:
        return
    ids = [state.meter_id for state in registered]
    rows = _watch_rows(session, ids)
    session.execute(update(AlertWatch).where(AlertWatch.meter_id.in_(ids)).values(received_at=now_ms),
                    execution_options={"synchronize_session": False})
    for state in registered:
        row = rows[state.meter_id]
        arrived = arrivals.get(state.meter_id) or Arrivals(before_ts=state.last_ts)
        late = [ts for ts in arrived.late if ts >= state.last_ts - RECENT_MS]
        days = due_days(state, row, late, settings)
        projection = row.proj_end is None or _projection_due(state, row)  # never armed, or due
        power = _power_due(arrived, late, row, settings.alerts.power_kw * 1000)
        if not (row.silent or days or projection or power):
            continue
        customer, watch = session.get(Customer, state.meter_id), session.get(AlertWatch, state.meter_id)
        if customer is None or watch is None:
            continue
        config = thresholds(customer, settings)
        if watch.silent:
            clear_silence(session, watch, settings, now_ms)
        if days and DAILY not in config.disabled:
            check_days(session, customer, state, watch, days, config, settings, now_ms)
        if projection:
            settle(session, customer, state, settings, now_ms)
        if power and POWER not in config.disabled:
            scan_from = min(late) - config.power_minutes * 60_000 if late else arrived.before_ts  # None: all
            check_power(session, customer, state, watch, config, settings, now_ms, scan_from)


def _projection_due(state: MeterState, watch: Row) -> bool:
    """Whether the open cycle's pace now projects it to its armed target."""
    if watch.proj_target_wh is None or watch.proj_after is None or watch.proj_end is None:
        return False
    if not watch.proj_after <= state.last_ts < watch.proj_end:
        return False
    consumed = state.last_wh + state.adjust_wh - Decimal(watch.proj_start_wh)
    return projection_reaches(consumed, state.last_ts - watch.proj_since, watch.proj_end - watch.proj_since,
                              Decimal(watch.proj_target_wh))


def _power_due(arrived: Arrivals, late: list[int], watch: Row, configured_w: Decimal) -> bool:
    """Whether the power rule has anything to look at: a step above the limit, or a run followed."""
    if watch.power_scan_to is not None:
        return True
    limit_w = configured_w if watch.power_limit_w is None else watch.power_limit_w
    if limit_w == 0:  # the rule is off for this customer
        return False
    return arrived.peak_w > limit_w or bool(late) and arrived.late_peak_w > limit_w


def _watch_rows(session: Session, meter_ids: list[int]) -> dict[int, Row]:
    """The watch rows of these meters as plain rows, created when missing."""
    table = AlertWatch.__table__
    found = {row.meter_id: row for row in session.execute(select(table).where(table.c.meter_id.in_(meter_ids)))}
    missing = [meter_id for meter_id in meter_ids if meter_id not in found]
    if missing:
        insert_ignore(session, table, [{"meter_id": meter_id, "silent": False} for meter_id in missing])
        found.update({row.meter_id: row for row in session.execute(select(table).where(table.c.meter_id.in_(missing)))})
    return found
