"""Batched, idempotent writes of readings (SPEC §4, §7), inside the caller's transaction.

In the common case every reading of a meter is newer than the last one stored: the step from
the previous reading is classified in memory and the rows are appended in one statement. A
reading at or before the last one (redelivery, out of order) takes the careful path: compared
with what is stored (duplicate or conflict), inserted, and the steps around it re-classified.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable, NamedTuple, Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from core import quality, rollups, wire
from core.config import Settings
from core.db import insert_ignore, insert_many, update_many
from core.models import Customer, MeterState, Reading, ReadingFlag, RejectedReading
from core.settlement import settle
from ingest.watch import Arrivals, observe

log = logging.getLogger(__name__)

MAX_STORED_PAYLOAD = 1024
MAX_STORED_TOPIC = 256
APPENDED = ("meter_id", "first_ts", "first_wh", "last_ts", "last_wh", "adjust_wh", "readings")  # set by _append
CORRECTIONS_OVERFLOW = "the corrections of this meter's register drops would reach 2^63 Wh"


class Message(NamedTuple):
    """A message as received from the broker (a tuple: the worker makes one per reading)."""

    topic: str
    payload: bytes
    received_ms: int


@dataclass
class Outcome:
    """What one batch did, for the worker's counters and log."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)
    flagged: Counter = field(default_factory=Counter)
    settled: int = 0
    oldest_ts: int | None = None


def store_batch(session: Session, messages: Sequence[Message], settings: Settings, now_ms: int) -> Outcome:
    """Decode, validate and store a batch; bill the customers whose cycle or threshold it crossed.

    Raises `wire.Rejected` (register_overflow) in one absurd case that is only found after the
    batch's rows are written: a late reading whose register drop would push the meter's
    corrections to 2^63 Wh. The caller then stores the batch's messages one at a time.
    """
    outcome = Outcome(received=len(messages))
    rejected: list[dict] = []
    by_meter = _decode_all(messages, outcome, rejected)
    states = _lock_states(session, sorted(by_meter))
    new_rows: list[dict] = []
    state_rows: list[dict] = []  # the state rows' new values after appending
    late_rows: list[tuple[int, int, int]] = []
    flags: list[dict] = []
    arrivals: dict[int, Arrivals] = {}
    for meter_id in sorted(by_meter):
        state = states[meter_id]
        received = sorted(by_meter[meter_id].values(), key=lambda pair: pair[0].ts_ms)
        last = state.last_ts
        inner = [pair for pair in received if last is not None and pair[0].ts_ms <= last]
        tail = received[len(inner):]
        arrived = arrivals[meter_id] = Arrivals(before_ts=last)
        if inner:
            late_rows += _store_inner(session, state, inner, settings, now_ms, outcome, rejected, arrived)
        if tail:
            arrived.peak_w = _append(state, tail, settings.max_power_w, now_ms, new_rows, flags, outcome, rejected)
            state_rows.append({name: getattr(state, name) for name in APPENDED})
    insert_many(session, Reading.__table__, new_rows)  # in (meter, time) order, the table's key
    update_many(session, MeterState.__table__, "meter_id", state_rows)
    rollups.record(session, [*((row["meter_id"], row["ts"], row["wh"]) for row in new_rows), *late_rows])
    if flags:
        session.execute(insert(ReadingFlag), flags)
    if rejected:
        session.execute(insert(RejectedReading), rejected)
    outcome.stored += len(new_rows)
    for reason in (row["reason"] for row in rejected):
        outcome.rejected[reason] += 1
    late_arrivals = {meter_id for meter_id, arrived in arrivals.items() if arrived.late}
    _settle_due(session, states.values(), late_arrivals, settings, now_ms, outcome)
    observe(session, states.values(), arrivals, settings, now_ms)
    return outcome


Received = tuple[wire.Reading, Message]


def _decode_all(messages: Iterable[Message], outcome: Outcome, rejected: list[dict]) -> dict[int, dict[int, Received]]:
    """Decode each message; keep one reading per meter and timestamp, reject the rest."""
    by_meter: dict[int, dict[int, Received]] = {}
    for message in messages:
        try:
            reading = wire.decode(message.topic, message.payload)
        except wire.Rejected as problem:
            rejected.append(rejected_row(message, problem.reason, problem.detail, topic_meter(message.topic)))
            continue
        problem = quality.time_rejection(reading, message.received_ms)
        if problem is not None:
            rejected.append(rejected_row(message, *problem, reading.meter_id))
            continue
        same_meter = by_meter.setdefault(reading.meter_id, {})
        earlier = same_meter.get(reading.ts_ms)
        if earlier is None:
            same_meter[reading.ts_ms] = (reading, message)
        elif earlier[0].wh == reading.wh:
            outcome.duplicates += 1
        else:
            detail = _conflict_detail(earlier[0].wh, reading.wh)
            rejected.append(rejected_row(message, quality.CONFLICT, detail, reading.meter_id))
        if outcome.oldest_ts is None or reading.ts_ms < outcome.oldest_ts:
            outcome.oldest_ts = reading.ts_ms
    return by_meter


def topic_meter(topic: str) -> int | None:
    """The meter a rejected payload came from, by its topic (the ACL vouches for it), when valid."""
    try:
        return wire.meter_id_from_topic(topic)
    except wire.Rejected:
        return None


def _lock_states(session: Session, meter_ids: list[int]) -> dict[int, MeterState]:
    """The state rows of the batch's meters, created when missing, locked in id order."""
    if not meter_ids:
        return {}
    states = _select_states(session, meter_ids)
    missing = [meter_id for meter_id in meter_ids if meter_id not in states]
    if missing:
        insert_ignore(session, MeterState.__table__, [
            {"meter_id": meter_id, "adjust_wh": 0, "readings": 0, "registered": False} for meter_id in missing
        ])
        missing_states = _select_states(session, missing)
        registered = set(session.scalars(select(Customer.id).where(Customer.id.in_(missing))))
        for meter_id, state in missing_states.items():
            state.registered = state.registered or meter_id in registered
        states.update(missing_states)
    return states


def _select_states(session: Session, meter_ids: list[int]) -> dict[int, MeterState]:
    rows = session.scalars(
        select(MeterState).where(MeterState.meter_id.in_(meter_ids)).order_by(MeterState.meter_id).with_for_update()
    )
    return {state.meter_id: state for state in rows}


def _append(state: MeterState, tail: list[Received], max_power_w: int, now_ms: int,
            new_rows: list[dict], flags: list[dict], outcome: Outcome, rejected: list[dict]) -> int:
    """Append readings newer than the last stored one, classifying each step in memory.

    Returns the highest power of those steps, in watts (for the power alert).
    """
    prev_ts, prev_wh = state.last_ts, state.last_wh
    adjust = state.adjust_wh or 0
    peak = 0
    appended = []
    for reading, message in tail:
        if prev_ts is not None:
            step = quality.classify_step(prev_ts, prev_wh, reading.ts_ms, reading.wh, max_power_w)
            if adjust + step.adjust_wh > wire.MAX_REGISTER_WH:
                rejected.append(rejected_row(message, wire.REGISTER_OVERFLOW, CORRECTIONS_OVERFLOW, state.meter_id))
                continue
            peak = max(peak, step.power_w)
            if step.flag is not None:
                flags.append(_flag_row(state.meter_id, prev_ts, prev_wh, reading, step, now_ms))
                outcome.flagged[step.flag] += 1
                adjust += step.adjust_wh
        new_rows.append({"meter_id": reading.meter_id, "ts": reading.ts_ms, "wh": reading.wh})
        appended.append(reading)
        prev_ts, prev_wh = reading.ts_ms, reading.wh
    if not appended:
        return peak
    first_ts, first_wh = (appended[0].ts_ms, appended[0].wh) if state.first_ts is None else (state.first_ts, state.first_wh)
    # Set as if loaded so: store_batch writes these columns of every meter in one statement, which
    # costs a fraction of the ORM's flush of each object (or of `set_committed_value`, per column).
    # An earlier ORM change of the same columns (`_store_inner`) then flushes the same values.
    vars(state).update(first_ts=first_ts, first_wh=first_wh, last_ts=prev_ts, last_wh=prev_wh, adjust_wh=adjust,
                       readings=(state.readings or 0) + len(appended))
    return peak


def _store_inner(session: Session, state: MeterState, inner: list[Received], settings: Settings,
                 now_ms: int, outcome: Outcome, rejected: list[dict], arrived: Arrivals) -> list[tuple[int, int, int]]:
    """Store readings at or before the latest one (duplicates, conflicts, late arrivals).

    Records in `arrived` the late readings stored and the highest power of the steps around them;
    returns them as `(meter_id, ts, wh)`.
    """
    meter_id = state.meter_id
    stored = dict(session.execute(
        select(Reading.ts, Reading.wh).where(Reading.meter_id == meter_id, Reading.ts.in_([r.ts_ms for r, _ in inner]))
    ).all())
    late = []
    for reading, message in inner:
        if reading.ts_ms not in stored:
            late.append(reading)
        elif stored[reading.ts_ms] == reading.wh:
            outcome.duplicates += 1
        else:
            detail = _conflict_detail(stored[reading.ts_ms], reading.wh)
            rejected.append(rejected_row(message, quality.CONFLICT, detail, meter_id))
    if not late:
        return []
    session.execute(insert(Reading), [{"meter_id": meter_id, "ts": r.ts_ms, "wh": r.wh} for r in late])
    outcome.stored += len(late)
    for reading in late:
        power = _reclassify_around(session, meter_id, reading.ts_ms, settings.max_power_w, now_ms, outcome)
        arrived.late_peak_w = max(arrived.late_peak_w, power)
    arrived.late = [reading.ts_ms for reading in late]
    earliest = late[0]  # `inner` is in time order
    if state.first_ts is None or earliest.ts_ms < state.first_ts:
        state.first_ts, state.first_wh = earliest.ts_ms, earliest.wh
    state.readings = (state.readings or 0) + len(late)
    # Summed here, not in SQL: SQLite's sum() fails with "integer overflow", an OperationalError
    # that the worker would take for a locked database and retry for ever.
    state.adjust_wh = sum(session.scalars(select(ReadingFlag.adjust_wh).where(ReadingFlag.meter_id == meter_id)))
    if state.adjust_wh > wire.MAX_REGISTER_WH:
        raise wire.Rejected(wire.REGISTER_OVERFLOW, CORRECTIONS_OVERFLOW)  # the worker then stores one by one
    return [(meter_id, reading.ts_ms, reading.wh) for reading in late]


def _reclassify_around(session: Session, meter_id: int, ts: int, max_power_w: int, now_ms: int, outcome: Outcome) -> int:
    """Re-classify the steps into and out of a reading inserted between two stored ones.

    Returns the higher power of the two steps, in watts.
    """
    previous = _neighbour(session, meter_id, ts, before=True)
    current = session.get(Reading, (meter_id, ts))
    following = _neighbour(session, meter_id, ts, before=False)
    peak = 0
    for left, right in ((previous, current), (current, following)):
        if right is None:
            continue
        session.execute(delete(ReadingFlag).where(ReadingFlag.meter_id == meter_id, ReadingFlag.ts == right.ts))
        if left is None:
            continue
        step = quality.classify_step(left.ts, left.wh, right.ts, right.wh, max_power_w)
        peak = max(peak, step.power_w)
        if step.flag is not None:
            reading = wire.Reading(meter_id, right.ts, right.wh)
            session.execute(insert(ReadingFlag), [_flag_row(meter_id, left.ts, left.wh, reading, step, now_ms)])
            outcome.flagged[step.flag] += 1
    return peak


def _neighbour(session: Session, meter_id: int, ts: int, before: bool) -> Reading | None:
    query = select(Reading).where(Reading.meter_id == meter_id)
    if before:
        query = query.where(Reading.ts < ts).order_by(Reading.ts.desc())
    else:
        query = query.where(Reading.ts > ts).order_by(Reading.ts)
    return session.scalars(query.limit(1)).first()


def _settle_due(session: Session, states: Iterable[MeterState], late_arrivals: set[int],
                settings: Settings, now_ms: int, outcome: Outcome) -> None:
    """Settle each registered meter whose cycle ended, whose excess threshold was reached, or
    that received a late reading (which may close earlier cycles by moving its first reading)."""
    for state in states:
        if not state.registered or state.last_ts is None:
            continue
        if state.meter_id not in late_arrivals and not _settlement_due(state):
            continue
        customer = session.get(Customer, state.meter_id)
        if customer is None:
            state.registered, state.cycle_end, state.excess_at = False, None, None
            continue
        settle(session, customer, state, settings, now_ms)
        outcome.settled += 1


def _settlement_due(state: MeterState) -> bool:
    if state.cycle_end is None or state.last_ts >= state.cycle_end:
        return True
    if state.excess_at is None:
        return False
    return state.last_wh + state.adjust_wh >= Decimal(state.excess_at)


def rejected_row(message: Message, reason: str, detail: str, meter_id: int | None) -> dict:
    """A row of the rejected store; payloads are cut to 1 KiB so a flood cannot fill the disk fast."""
    return {
        "received_at": message.received_ms,
        "topic": message.topic[:MAX_STORED_TOPIC],
        "payload": bytes(message.payload[:MAX_STORED_PAYLOAD]),
        "reason": reason,
        "detail": detail[:300],
        "meter_id": meter_id,
    }


def _flag_row(meter_id: int, prev_ts: int, prev_wh: int, reading: wire.Reading, step: quality.Step, now_ms: int) -> dict:
    return {
        "meter_id": meter_id, "ts": reading.ts_ms, "kind": step.flag, "prev_ts": prev_ts, "prev_wh": prev_wh,
        "wh": reading.wh, "adjust_wh": step.adjust_wh, "power_w": step.power_w, "flagged_at": now_ms,
    }


def _conflict_detail(stored_wh: int, new_wh: int) -> str:
    return f"a reading with this timestamp is stored with {stored_wh} Wh; this one says {new_wh} Wh"
