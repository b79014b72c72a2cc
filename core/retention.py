"""Retention: raw readings older than `[retention] raw_days` give way to interval data (SPEC §3).

A meter reporting every 5 s stores 17,280 readings a day. Past the retention window only the
first and the last reading of each 15-minute bucket stay in `readings`; the rest are deleted.
What remains answers every figure on the 15-minute grid exactly as before (`core.rollups`
explains why): bills, days, hours, months, the accumulated total, and the estimate marks. The
rollup (`reading_intervals`) keeps how many readings each bucket received.

The work goes in slices, each a short transaction of a few thousand deletions, so that the
ingest worker, which runs the slices between its batches, never waits long. Each meter's
`pruned_to` says how far it has gone; a late reading older than that stays (it is counted).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import TextClause, select, text
from sqlalchemy.orm import Session, sessionmaker

from core.models import MeterState, Reading
from core.rollups import BUCKET_MS, bucket_of

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
SLICE_ROWS = 20_000  # deletions per slice (one transaction): tens of milliseconds in SQLite
METERS_PER_SLICE = 200
MAX_SPAN_MS = 31 * DAY_MS


@dataclass
class Progress:
    """What a slice (or a whole pass) did."""

    meters: int = 0
    removed: int = 0
    done: bool = False

    def add(self, other: "Progress") -> None:
        """Fold another slice's figures into these."""
        self.meters += other.meters
        self.removed += other.removed
        self.done = other.done


def cutoff(now_ms: int, raw_days: int) -> int | None:
    """The instant before which raw readings are thinned, on the grid; None when kept for ever."""
    if raw_days <= 0:
        return None
    return bucket_of(now_ms - raw_days * DAY_MS)


def prune_slice(session: Session, limit: int, max_rows: int = SLICE_ROWS) -> Progress:
    """Thin the raw readings before `limit` of the meters that have some, up to about `max_rows`.

    `done` says no meter had anything left to thin before `limit`.
    """
    progress = Progress()
    pending = session.scalars(
        select(MeterState)
        .where(MeterState.first_ts.is_not(None), MeterState.first_ts < limit)
        .where((MeterState.pruned_to.is_(None)) | (MeterState.pruned_to < limit))
        .order_by(MeterState.meter_id)
        .limit(METERS_PER_SLICE)
        .with_for_update()
    ).all()
    for state in pending:
        progress.meters += 1
        progress.removed += _prune_meter(session, state, limit, max_rows - progress.removed)
        if progress.removed >= max_rows:
            return progress
    progress.done = len(pending) < METERS_PER_SLICE and all(state.pruned_to >= limit for state in pending)
    return progress


def _prune_meter(session: Session, state: MeterState, limit: int, budget: int) -> int:
    """Thin one meter from where it stopped towards `limit`, about `budget` deletions at most."""
    removed = 0
    since = state.pruned_to if state.pruned_to is not None else bucket_of(state.first_ts)
    span = _span(state)
    while since < limit and removed < budget:
        until = min(limit, since + span)
        count = session.execute(_THIN, {"meter": state.meter_id, "since": since, "until": until}).rowcount
        removed += count
        state.readings = (state.readings or 0) - count
        state.pruned_readings = (state.pruned_readings or 0) + count
        state.pruned_to = since = until
    return removed


def _span(state: MeterState) -> int:
    """A stretch of time holding about a slice's worth of this meter's readings, whole buckets."""
    elapsed = max((state.last_ts or 0) - (state.first_ts or 0), BUCKET_MS)
    per_ms = max(state.readings or 0, 1) / elapsed
    span = int(SLICE_ROWS / 4 / per_ms)
    return min(max(bucket_of(span), BUCKET_MS), MAX_SPAN_MS)


def _thin() -> TextClause:
    """Delete a meter's readings in `[since, until)` but the first and the last of each bucket."""
    window = f"FROM {Reading.__tablename__} WHERE meter_id = :meter AND ts >= :since AND ts < :until"
    bucket = f"ts / {BUCKET_MS}"
    return text(
        f"DELETE {window} AND ts NOT IN ("
        f"SELECT min(ts) {window} GROUP BY {bucket} UNION ALL SELECT max(ts) {window} GROUP BY {bucket})"
    )


_THIN = _thin()


def prune(sessions: sessionmaker[Session], now_ms: int, raw_days: int, max_rows: int = SLICE_ROWS) -> Progress:
    """A whole pass, slice after slice, each in its own transaction, logging its progress."""
    total = Progress(done=True)
    limit = cutoff(now_ms, raw_days)
    if limit is None:
        return total
    while True:
        with sessions.begin() as session:
            progress = prune_slice(session, limit, max_rows)
        total.add(progress)
        if progress.removed:
            log.info("retention: %d raw readings thinned so far (%d meters visited)", total.removed, total.meters)
        if progress.done or not progress.meters:
            return total
