"""SQLAlchemy 2.0 models. Every instant is an integer of milliseconds since the Unix epoch, UTC."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every table."""


class Customer(Base):
    """A registration of a meter id; deleting it deletes everything measured for it (SPEC §4)."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    nome: Mapped[str] = mapped_column(String(200))
    endereco: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    closing_day: Mapped[int | None] = mapped_column(Integer)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Reading(Base):
    """A stored reading: one row per meter and timestamp, about 25 bytes in SQLite."""

    __tablename__ = "readings"
    __table_args__ = {"sqlite_with_rowid": False}

    meter_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    wh: Mapped[int] = mapped_column(BigInteger)


class MeterState(Base):
    """What the ingest worker keeps per meter so that a batch needs no scan of the readings.

    `adjust_wh` is the sum of the corrections of every register drop up to the latest reading,
    so `last_wh + adjust_wh` is the latest value of the reset-free register ("adjusted").
    `pruned_to` is how far retention has thinned its raw readings (`core.retention`) and
    `pruned_readings` how many it removed; `readings` counts those still stored.
    `registered` says a customer holds this id; `cycle_end` is the end of the open billing cycle
    of that customer (None until it is first settled); `excess_at` the adjusted register at which this cycle's excess alert
    fires (None when the rule has no threshold or has fired).
    """

    __tablename__ = "meter_state"

    meter_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first_ts: Mapped[int | None] = mapped_column(BigInteger)
    first_wh: Mapped[int | None] = mapped_column(BigInteger)
    last_ts: Mapped[int | None] = mapped_column(BigInteger)
    last_wh: Mapped[int | None] = mapped_column(BigInteger)
    adjust_wh: Mapped[int] = mapped_column(BigInteger, default=0)
    readings: Mapped[int] = mapped_column(BigInteger, default=0)
    registered: Mapped[bool] = mapped_column(Boolean, default=False)
    cycle_end: Mapped[int | None] = mapped_column(BigInteger)
    excess_at: Mapped[str | None] = mapped_column(String(40))
    pruned_to: Mapped[int | None] = mapped_column(BigInteger)
    pruned_readings: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ReadingInterval(Base):
    """A meter's readings of one 15-minute bucket, summed up (the rollup; `core.rollups`).

    `start` is a multiple of 15 minutes in UTC milliseconds (every local hour and day starts on
    one); `readings` counts the readings received in `[start, start + 15 min)`, and the first and
    the last of them are kept with their raw registers: the register at any instant on the
    15-minute grid, and so the energy of every quarter hour, hour, day and cycle, follows from
    these rows alone, exactly as from the raw readings.
    """

    __tablename__ = "reading_intervals"
    __table_args__ = {"sqlite_with_rowid": False}

    meter_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    start: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    readings: Mapped[int] = mapped_column(Integer)
    first_ts: Mapped[int] = mapped_column(BigInteger)
    first_wh: Mapped[int] = mapped_column(BigInteger)
    last_ts: Mapped[int] = mapped_column(BigInteger)
    last_wh: Mapped[int] = mapped_column(BigInteger)


class ReadingFlag(Base):
    """A step between two readings that the operator should look at (drop, jump).

    For a drop, `adjust_wh` is what is added to every later register so that consumption never
    goes negative and the energy measured after a reset is kept.
    """

    __tablename__ = "reading_flags"

    meter_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    prev_ts: Mapped[int] = mapped_column(BigInteger)
    prev_wh: Mapped[int] = mapped_column(BigInteger)
    wh: Mapped[int] = mapped_column(BigInteger)
    adjust_wh: Mapped[int] = mapped_column(BigInteger, default=0)
    power_w: Mapped[int] = mapped_column(BigInteger, default=0)
    flagged_at: Mapped[int] = mapped_column(BigInteger)


class RejectedReading(Base):
    """A payload the worker could not store, with the reason (SPEC §4)."""

    __tablename__ = "rejected_readings"
    __table_args__ = (Index("ix_rejected_received", "received_at"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[int] = mapped_column(BigInteger)
    topic: Mapped[str] = mapped_column(String(256))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(String(300))
    meter_id: Mapped[int | None] = mapped_column(BigInteger)


class Bill(Base):
    """A closed bill, frozen when the meter first reports at or after the cycle's end (SPEC §6)."""

    __tablename__ = "bills"
    __table_args__ = (UniqueConstraint("customer_id", "ano", "mes"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    ano: Mapped[int] = mapped_column(Integer)
    mes: Mapped[int] = mapped_column(Integer)
    inicio: Mapped[int] = mapped_column(BigInteger)
    fim: Mapped[int] = mapped_column(BigInteger)
    start_register: Mapped[str] = mapped_column(String(40))
    end_register: Mapped[str] = mapped_column(String(40))
    consumo_kwh: Mapped[str] = mapped_column(String(40))
    faturado_kwh: Mapped[str] = mapped_column(String(40))
    valor: Mapped[str] = mapped_column(String(40))
    itens: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    detalhes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    review: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[int] = mapped_column(BigInteger)


class Alert(Base):
    """An alert raised once per customer, kind and cause (for the SPEC §6 rules: the cycle).

    The table is also the outbox of `alerts/<id>`: a row is published until `published_at` is set.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("customer_id", "tipo", "cause"),
        Index("ix_alerts_unpublished", "published_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    tipo: Mapped[str] = mapped_column(String(32))
    cause: Mapped[str] = mapped_column(String(64))
    ano: Mapped[int | None] = mapped_column(Integer)
    mes: Mapped[int | None] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(16), default="aviso")
    state: Mapped[str] = mapped_column(String(16), default="aberto")
    criado_em: Mapped[int] = mapped_column(BigInteger)
    detalhes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    published_at: Mapped[int | None] = mapped_column(BigInteger)
    claimed_until: Mapped[int | None] = mapped_column(BigInteger)  # a publisher's lease
    acknowledged_at: Mapped[int | None] = mapped_column(BigInteger)
    cleared_at: Mapped[int | None] = mapped_column(BigInteger)


class AlertWatch(Base):
    """What the early-warning rules keep per registered meter, so a batch checks them in O(1).

    Every column is derived from stored readings and may be recomputed from them at any time:
    - `received_at`: the worker's clock at the latest batch holding a reading of this meter;
      `silent` says a `silencio` alert is open, to be cleared when the meter reports again.
    - `day_end`: the end of the local day the daily rule is armed for; `daily_at` the adjusted
      register (Wh) above which that day raises `consumo_diario` (None: no baseline, or raised).
    - `proj_*`: the open cycle's projection: consumption counts from `proj_since` (adjusted
      register `proj_start_wh`) to the cycle's end `proj_end`, is trusted from `proj_after`, and
      raises an alert when projected to reach `proj_target_wh` (None: nothing left to raise).
    - `power_scan_to`: while the power rule has minutes still to look at, the end of the last
      one it examined (None: idle); `power_run_start`: the start of the run above the limit that
      was still going on there.
    - `power_limit_w`: the customer's own power limit, so a batch needs no customer row to see
      that a step was above it (None: the configured limit; 0: the rule is off for it).
    """

    __tablename__ = "alert_watch"
    __table_args__ = (Index("ix_alert_watch_received", "received_at"),)

    meter_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    received_at: Mapped[int | None] = mapped_column(BigInteger)
    silent: Mapped[bool] = mapped_column(Boolean, default=False)
    day_end: Mapped[int | None] = mapped_column(BigInteger)
    daily_at: Mapped[str | None] = mapped_column(String(40))
    proj_since: Mapped[int | None] = mapped_column(BigInteger)
    proj_end: Mapped[int | None] = mapped_column(BigInteger)
    proj_after: Mapped[int | None] = mapped_column(BigInteger)
    proj_start_wh: Mapped[str | None] = mapped_column(String(40))
    proj_target_wh: Mapped[str | None] = mapped_column(String(40))
    power_scan_to: Mapped[int | None] = mapped_column(BigInteger)
    power_run_start: Mapped[int | None] = mapped_column(BigInteger)
    power_limit_w: Mapped[int | None] = mapped_column(BigInteger)
