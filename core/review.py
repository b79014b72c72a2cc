"""The operator's view of data quality: rejected readings and flagged register steps (SPEC §4).

Shared by the admin API routes and `python -m ingest rejected|flagged`. Both lists are newest
first and paged by a cursor (the last item's key), so a page never repeats or skips a row when
new ones arrive meanwhile. The caller's session is only read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, func, literal, select, tuple_
from sqlalchemy.orm import Session

from core.models import ReadingFlag, RejectedReading
from core.money import kwh_from_wh
from core.periods import iso


# Reading times are after 2000 and before year 2286 (13 digits); ids fit 10 digits: both fit int64.
FLAG_KEY_PATTERN = r"^([0-9]{1,15}):([0-9]{1,10}):([a-z_]{1,16})$"
FLAG_KEY_RE = re.compile(FLAG_KEY_PATTERN)


class FlagKey(NamedTuple):
    """The position of a flag in the newest-first order: the cursor of the next page."""

    ts: int
    meter_id: int
    kind: str

    def text(self) -> str:
        """`<ts>:<meter id>:<kind>`, as the `apos` parameter carries it."""
        return f"{self.ts}:{self.meter_id}:{self.kind}"


@dataclass(frozen=True)
class Listing:
    """One page of a list, how many match in all, and the cursor of the next page (or None)."""

    items: list[dict[str, Any]]
    total: int
    next_cursor: Any


def rejected(session: Session, zone: ZoneInfo, *, reason: str | None = None, meter_id: int | None = None,
             limit: int = 100, before_id: int | None = None) -> Listing:
    """Rejected readings, newest first; `before_id` is the id of the last one already seen."""
    conditions = []
    if reason is not None:
        conditions.append(RejectedReading.reason == reason)
    if meter_id is not None:
        conditions.append(RejectedReading.meter_id == meter_id)
    total = session.scalar(select(func.count()).select_from(RejectedReading).where(*conditions)) or 0
    if before_id is not None:
        # Bound as a BIGINT: a cursor past PostgreSQL's 32-bit ids is valid (it lists from the newest),
        # and the psycopg dialect would otherwise cast it to the column's INTEGER and fail.
        conditions.append(RejectedReading.id < literal(before_id, BigInteger))
    rows = list(session.scalars(
        select(RejectedReading).where(*conditions).order_by(RejectedReading.id.desc()).limit(limit + 1)
    ))
    more = len(rows) > limit
    rows = rows[:limit]
    return Listing([rejected_document(row, zone) for row in rows], total, rows[-1].id if more else None)


def flagged(session: Session, zone: ZoneInfo, *, kind: str | None = None, meter_id: int | None = None,
            limit: int = 100, after: FlagKey | None = None) -> Listing:
    """Flagged steps, newest reading first; `after` is the key of the last one already seen."""
    conditions = []
    if kind is not None:
        conditions.append(ReadingFlag.kind == kind)
    if meter_id is not None:
        conditions.append(ReadingFlag.meter_id == meter_id)
    total = session.scalar(select(func.count()).select_from(ReadingFlag).where(*conditions)) or 0
    key = tuple_(ReadingFlag.ts, ReadingFlag.meter_id, ReadingFlag.kind)
    if after is not None:
        conditions.append(key < tuple_(*after))
    rows = list(session.scalars(
        select(ReadingFlag).where(*conditions)
        .order_by(ReadingFlag.ts.desc(), ReadingFlag.meter_id.desc(), ReadingFlag.kind.desc())
        .limit(limit + 1)
    ))
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = FlagKey(rows[-1].ts, rows[-1].meter_id, rows[-1].kind) if more else None
    return Listing([flag_document(row, zone) for row in rows], total, cursor)


def rejected_document(row: RejectedReading, zone: ZoneInfo) -> dict[str, Any]:
    """A rejected reading as the operator sees it; the payload as hex, as received (up to 1 KiB)."""
    return {
        "id": row.id,
        "recebido_em": iso(row.received_at, zone),
        "topico": row.topic,
        "motivo": row.reason,
        "detalhe": row.detail,
        "medidor": row.meter_id,
        "payload_hex": row.payload.hex(),
    }


def flag_document(flag: ReadingFlag, zone: ZoneInfo) -> dict[str, Any]:
    """A flagged step: the readings on both sides, the power it implies and what it counts.

    `consumo_contado_kwh` is what the step adds to consumption: the raw difference for a jump,
    the new register for a reset, nothing for a replacement.
    """
    counted = flag.wh - flag.prev_wh + flag.adjust_wh
    return {
        "medidor": flag.meter_id,
        "tipo": flag.kind,
        "ts": iso(flag.ts, zone),
        "kwh": kwh_from_wh(flag.wh),
        "anterior": {"ts": iso(flag.prev_ts, zone), "kwh": kwh_from_wh(flag.prev_wh)},
        "potencia_kw": kwh_from_wh(flag.power_w),  # W / 1000, rounded like kWh
        "consumo_contado_kwh": kwh_from_wh(counted),
        "ajuste_kwh": kwh_from_wh(flag.adjust_wh),
        "sinalizado_em": iso(flag.flagged_at, zone),
    }


def parse_flag_key(text: str) -> FlagKey | None:
    """The cursor `<ts>:<meter id>:<kind>` back into a key, or None when it is not one."""
    match = FLAG_KEY_RE.fullmatch(text)
    if match is None:
        return None
    return FlagKey(int(match.group(1)), int(match.group(2)), match.group(3))


def as_number(value: Any) -> Any:
    """`json.dumps` default for the CLI: Decimals (kWh, kW) as numbers."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
