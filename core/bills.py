"""A cycle's bill computed from the register series, frozen once closed, and its JSON (SPEC §5-6).

A bill starts where the previous frozen bill ended: its start instant is that bill's end (so a
change of closing day never leaves a gap or an overlap) and its previous register is that bill's
current register. When a late reading has since moved the register at that instant, the
difference is an adjustment line on this bill; its measured `consumo_kwh` stays its own cycle's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Row, bindparam, exists, select
from sqlalchemy.orm import Session

from core import pricing
from core.billing import PricedBill, projection_factor
from core.config import Settings
from core.models import Bill, Customer, MeterState, ReadingFlag
from core.money import kwh, kwh_from_wh
from core.periods import Cycle, cycle_bounds, cycle_of, iso, local_date
from core.series import Boundary, Series
from core.terms import CustomerTerms, terms_of
from core.usage import Usage, layout

OPEN = "aberta"
CLOSED = "fechada"


@dataclass(frozen=True)
class CycleBill:
    """A cycle's figures as computed now from the stored readings."""

    cycle: Cycle
    start: int
    end: int
    start_register: Decimal  # adjusted register at the cycle's start, Wh (the cycle's own)
    end_register: Decimal  # at its end, or at the latest reading while open, Wh
    priced: PricedBill | None  # None when computed with `priced=False`
    review: bool
    billed_from: Decimal | None = None  # the previous frozen bill's end register, when there is one
    adjustment: pricing.Adjustment | None = None  # what a late reading changed at the start since
    details: dict[str, Any] | None = None  # readings used, terms, taxes, due date (`_details`)
    usage: Usage | None = None
    terms: CustomerTerms | None = None


def closing_day(customer: Customer, settings: Settings) -> int:
    """The customer's own closing day, or the configured one."""
    return terms_of(customer, settings).closing_day


def cycle_span(cycle: Cycle, day: int, zone: ZoneInfo, previous: Bill | None) -> tuple[int, int]:
    """`[start, end)` of a cycle: it starts where the previous frozen bill ended, when there is one."""
    start, end = cycle_bounds(cycle, day, zone)
    return (previous.fim if previous is not None else start), end


def bill_cycles(state: MeterState, day: int, zone: ZoneInfo, frozen: Sequence[Bill]) -> tuple[Cycle, Cycle]:
    """The customer's first and current (open) cycles.

    From the cycle of the first reading to that of the latest one, as the closing day says now;
    but frozen bills keep their cycles: none starts before the first frozen bill unless readings
    do, and the open cycle always comes after the last frozen one (after a move to a later
    closing day, it runs from that bill's end to the new closing day).
    """
    first, current = cycle_of(state.first_ts, day, zone), cycle_of(state.last_ts, day, zone)
    if frozen:
        earliest = Cycle(frozen[0].ano, frozen[0].mes)
        first = min(first, earliest) if state.first_ts < frozen[0].inicio else earliest
        current = max(current, Cycle(frozen[-1].ano, frozen[-1].mes).next())
    return first, current


def previous_bill(frozen: Sequence[Bill], cycle: Cycle) -> Bill | None:
    """The frozen bill of the cycle just before `cycle`."""
    before = cycle.previous()
    return next((bill for bill in frozen if (bill.ano, bill.mes) == before), None)


def compute(series: Series, cycle: Cycle, customer: Customer, settings: Settings,
            previous: Bill | None = None, priced: bool = True) -> CycleBill:
    """Measure and price one cycle from the readings stored now.

    With `priced=False`, only the span and the registers at its ends (all that the open cycle's
    alert checks and projection need): `priced` and the rest are left empty.
    """
    terms = terms_of(customer, settings)
    zone = settings.zone
    start, end = cycle_span(cycle, terms.closing_day, zone, previous)
    if not priced:
        low = series.reading_at(start).register or Decimal(0)
        high = series.reading_at(end).register or low
        return CycleBill(cycle, start, end, low, high, None, False, terms=terms)
    usage = layout(start, end, zone, settings.schedule, terms.plan)
    found = series.boundaries(usage.instants())
    opening, closing = found[start], found[end]
    low, high = opening.register or Decimal(0), closing.register or Decimal(0)
    measured = usage.measured({instant: boundary.register or Decimal(0) for instant, boundary in found.items()})
    billed_from = Decimal(previous.end_register) if previous is not None else None
    adjustment = _adjustment(previous, low)
    priced = pricing.price(measured, settings.schedule, terms.pricing(settings), adjustment)
    details = {
        "leitura_anterior": _previous_reading(previous, zone) or _boundary(opening, start, zone),
        "leitura_atual": _boundary(closing, end, zone),
        "ajuste_kwh": float(kwh_from_wh(adjustment.wh)) if adjustment else 0.0,
        "tarifa": priced.tarifa,
        "ligacao": terms.connection,
        "tarifa_social": terms.social,
        "tributos": priced.tributos.as_dict() if priced.tributos else None,
        "vencimento": due_date(end, settings),
    }
    return CycleBill(cycle, start, end, low, high, priced, _has_flags(series, start, end),
                     billed_from, adjustment, details, measured, terms)


def _adjustment(previous: Bill | None, start_register: Decimal) -> pricing.Adjustment | None:
    """What a late reading moved the register at this cycle's start by, since the previous bill froze."""
    if previous is None or Decimal(previous.end_register) == start_register:
        return None
    return pricing.Adjustment(start_register - Decimal(previous.end_register), f"{previous.mes:02d}/{previous.ano}")


def _previous_reading(previous: Bill | None, zone: ZoneInfo) -> dict[str, Any] | None:
    """The reading this bill starts from: the previous frozen bill's current reading."""
    if previous is None:
        return None
    frozen = (previous.detalhes or {}).get("leitura_atual")
    return frozen or {"em": iso(previous.fim, zone), "kwh": float(kwh_from_wh(Decimal(previous.end_register))),
                      "leituras": []}


def _has_flags(series: Series, start: int, end: int) -> bool:
    """Whether a step inside the cycle was flagged for the operator (the bill is then for review)."""
    return bool(series.session.scalar(_FLAGGED, {"meter": series.meter_id, "start": start, "end": end}))


# Built once: settling thousands of meters would otherwise spend more time building statements than running them.
_FLAGGED = select(exists().where(ReadingFlag.meter_id == bindparam("meter"), ReadingFlag.ts >= bindparam("start"),
                                 ReadingFlag.ts < bindparam("end")))
_FROZEN = select(Bill).where(Bill.customer_id == bindparam("customer")).order_by(Bill.ano, Bill.mes)


def freeze(computed: CycleBill, customer: Customer, now_ms: int) -> Bill:
    """The frozen row of a closed cycle; it never changes afterwards."""
    priced = computed.priced
    return Bill(
        customer_id=customer.id,
        ano=computed.cycle.ano,
        mes=computed.cycle.mes,
        inicio=computed.start,
        fim=computed.end,
        start_register=str(_previous_register(computed)),
        end_register=str(computed.end_register),
        consumo_kwh=str(priced.consumo_kwh),
        faturado_kwh=str(priced.faturado_kwh),
        valor=str(priced.valor),
        itens=[item.as_dict() for item in priced.itens],
        detalhes=computed.details or {},
        review=computed.review,
        closed_at=now_ms,
    )


def _previous_register(computed: CycleBill) -> Decimal:
    """Where this bill starts counting: the previous frozen bill's end, or the cycle's own start."""
    return computed.start_register if computed.billed_from is None else computed.billed_from


def _boundary(boundary: Boundary | None, instant: int, zone: ZoneInfo) -> dict[str, Any]:
    """The register at a cycle boundary, and the readings it was interpolated from."""
    register = boundary.register if boundary is not None and boundary.register is not None else Decimal(0)
    readings = boundary.readings if boundary is not None else ()
    return {
        "em": iso(instant, zone),
        "kwh": float(kwh_from_wh(register)),
        "leituras": [{"ts": iso(ts, zone), "kwh": float(kwh_from_wh(wh))} for ts, wh in readings],
    }


def due_date(end: int, settings: Settings) -> str:
    """The due date of a cycle's bill: `due_days` after its closing day (ISO date)."""
    return (local_date(end, settings.zone) + timedelta(days=settings.due_days)).isoformat()


def closed_bill_document(bill: Bill | Row[Any], zone: ZoneInfo) -> dict[str, Any]:
    """The JSON of a frozen bill, from the row alone: it never changes.

    The row may be the mapped `Bill` or a Core row of its table (the same names and types): the
    API reads a frozen bill as Core, at half the cost of loading the entity.
    """
    details = bill.detalhes or {}
    return {
        "id": bill.customer_id,
        "ano": bill.ano,
        "mes": bill.mes,
        "inicio": iso(bill.inicio, zone),
        "fim": iso(bill.fim, zone),
        "status": CLOSED,
        "consumo_kwh": Decimal(bill.consumo_kwh),
        "consumo_faturado_kwh": Decimal(bill.faturado_kwh),
        "valor": bill.valor,
        "itens": bill.itens,
        "leitura_anterior_kwh": kwh_from_wh(Decimal(bill.start_register)),
        "leitura_atual_kwh": kwh_from_wh(Decimal(bill.end_register)),
        "revisao": bill.review,
        "fechada_em": iso(bill.closed_at, zone),
        **{key: details[key] for key in DETAIL_KEYS if key in details},
    }


DETAIL_KEYS = ("vencimento", "ajuste_kwh", "tributos", "tarifa", "ligacao", "tarifa_social",
               "leitura_anterior", "leitura_atual")


def open_bill_document(computed: CycleBill, customer: Customer, state: MeterState, settings: Settings) -> dict[str, Any]:
    """The JSON of the open cycle: consumption so far and its projection to the cycle's end."""
    zone = settings.zone
    priced = computed.priced
    since = max(computed.start, state.first_ts or computed.start)
    elapsed = (state.last_ts or since) - since
    factor = projection_factor(elapsed, computed.end - since)
    projected = pricing.price(computed.usage.scaled(factor), settings.schedule, computed.terms.pricing(settings),
                              computed.adjustment)
    details = dict(computed.details or {})
    if state.last_ts is not None:  # "current reading" of an open bill: the latest one so far
        details["leitura_atual"] = {**details.get("leitura_atual", {}), "em": iso(state.last_ts, zone)}
    return {
        "id": customer.id,
        "ano": computed.cycle.ano,
        "mes": computed.cycle.mes,
        "inicio": iso(computed.start, zone),
        "fim": iso(computed.end, zone),
        "status": OPEN,
        "consumo_kwh": priced.consumo_kwh,
        "consumo_faturado_kwh": priced.faturado_kwh,
        "valor": str(priced.valor),
        "itens": [item.as_dict() for item in priced.itens],
        "leitura_anterior_kwh": kwh_from_wh(_previous_register(computed)),
        "leitura_atual_kwh": kwh_from_wh(computed.end_register),
        "revisao": computed.review,
        "projecao_kwh": kwh(projected.consumo_kwh),
        "projecao_valor": str(projected.valor),
        **{key: details[key] for key in DETAIL_KEYS if key in details},
    }


def frozen_bills(session: Session, customer_id: int) -> list[Bill]:
    """A customer's closed bills, oldest first."""
    return list(session.scalars(_FROZEN, {"customer": customer_id}))
