"""Validation of readings (VEE): time window checks and the classification of register steps.

Pure functions over plain values, shared by the ingest worker and the tests (SPEC §4).
"""

from __future__ import annotations

from dataclasses import dataclass

from core import wire
from core.wire import Reading

EARLIEST_MS = 946_684_800_000  # 2000-01-01T00:00Z
MAX_AHEAD_MS = 5 * 60 * 1000
MS_PER_HOUR = 3_600_000
MAX_POWER_W = 2**63 - 1  # the power a step shows is capped here, so it fits the database

FUTURE = "future_timestamp"
TOO_OLD = "timestamp_before_2000"
CONFLICT = "conflict"
INTERNAL_ERROR = "internal_error"  # a message the worker could not store at all, kept as it came

JUMP = "jump"  # power above the physical limit: counted, flagged, the bill marked for review
RESET = "reset"  # register dropped to a value it could have reached since: counted from zero
REPLACEMENT = "replacement"  # register dropped to an implausible value: new baseline, nothing counted

FLAG_KINDS = (JUMP, RESET, REPLACEMENT)
REJECTION_REASONS = (wire.MALFORMED, wire.UNKNOWN_VERSION, wire.BAD_TOPIC, wire.ID_MISMATCH,
                     wire.REGISTER_OVERFLOW, FUTURE, TOO_OLD, CONFLICT, INTERNAL_ERROR)


def time_rejection(reading: Reading, received_ms: int) -> tuple[str, str] | None:
    """The reason and detail when a reading's time is unacceptable, else None."""
    if reading.ts_ms > received_ms + MAX_AHEAD_MS:
        ahead = (reading.ts_ms - received_ms) / 1000
        return FUTURE, f"timestamp is {ahead:.0f} s ahead of the worker's clock (limit 300 s)"
    if reading.ts_ms < EARLIEST_MS:
        return TOO_OLD, "timestamp is before 2000-01-01T00:00Z"
    return None


@dataclass(frozen=True, slots=True)
class Step:
    """What the energy between two consecutive readings counts, and whether it is flagged."""

    counted_wh: int
    flag: str | None
    power_w: int
    raw_wh: int

    @property
    def adjust_wh(self) -> int:
        """The correction this step adds to later registers (non-zero only for drops)."""
        return self.counted_wh - self.raw_wh


def classify_step(prev_ts: int, prev_wh: int, ts: int, wh: int, max_power_w: int) -> Step:
    """Classify the step from one reading to the next (`ts > prev_ts`)."""
    elapsed = ts - prev_ts
    delta = wh - prev_wh
    if delta >= 0:
        power = _power_w(delta, elapsed)
        return Step(delta, JUMP if power > max_power_w else None, power, delta)
    # The register went down: a reset counts the new value if the meter could have measured it
    # in the time elapsed; a replacement (a meter starting elsewhere) counts nothing.
    power = _power_w(wh, elapsed)
    if power <= max_power_w:
        return Step(wh, RESET, power, delta)
    return Step(0, REPLACEMENT, power, delta)


def _power_w(wh: int, elapsed_ms: int) -> int:
    """Mean power of `wh` over `elapsed_ms`, in watts, rounded down, capped at MAX_POWER_W.

    A valid register (below 2^63 Wh) can imply a power beyond any 64-bit column in a few
    seconds; the cap keeps the flag storable, and such a step is a jump either way.
    """
    return min(wh * MS_PER_HOUR // max(elapsed_ms, 1), MAX_POWER_W)
