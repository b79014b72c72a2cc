"""A cycle's bill computed from the register series, and the JSON documents of bills (SPEC §5-6)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from core import billing
from core.config import Settings
from core.models import Bill, Customer, MeterState, ReadingFlag
from core.money import kwh, kwh_from_wh
from core.periods import Cycle, cycle_bounds, iso
from core.series import Series

OPEN = "aberta"
CLOSED = "fechada"


@dataclass(frozen=True)
class CycleBill:
    """A cycle's figures as computed now from the stored readings."""

    cycle: Cycle
    start: int
    end: int
    start_register: Decimal  # adjusted register at the cycle's start, Wh
    end_register: Decimal  # at its end, or at the latest reading while open, Wh
    priced: billing.PricedBill
    review: bool


def closing_day(customer: Customer, settings: Settings) -> int:
    """The customer's own closing day, or the configured one."""
    return customer.closing_day or settings.closing_day


def compute(series: Series, cycle: Cycle, customer: Customer, settings: Settings) -> CycleBill:
    """Measure and price one cycle from the readings stored now."""
    start, end = cycle_bounds(cycle, closing_day(customer, settings), settings.zone)
    low = series.register_at(start) or Decimal(0)
    high = series.register_at(end) or Decimal(0)
    priced = billing.price(kwh_from_wh(high - low), settings.tariff)
    return CycleBill(cycle, start, end, low, high, priced, _has_flags(series, start, end))


def _has_flags(series: Series, start: int, end: int) -> bool:
    return bool(
        series.session.scalar(
            select(
                exists().where(
                    ReadingFlag.meter_id == series.meter_id,
                    ReadingFlag.ts >= start,
                    ReadingFlag.ts < end,
                )
            )
        )
    )


def freeze(computed: CycleBill, customer: Customer, now_ms: int) -> Bill:
    """The frozen row of a closed cycle; it never changes afterwards."""
    priced = computed.priced
    return Bill(
        customer_id=customer.id,
        ano=computed.cycle.ano,
        mes=computed.cycle.mes,
        inicio=computed.start,
        fim=computed.end,
        start_register=str(computed.start_register),
        end_register=str(computed.end_register),
        consumo_kwh=str(priced.consumo_kwh),
        faturado_kwh=str(priced.faturado_kwh),
        valor=str(priced.valor),
        itens=[item.as_dict() for item in priced.itens],
        detalhes={},
        review=computed.review,
        closed_at=now_ms,
    )


def closed_bill_document(bill: Bill, zone: ZoneInfo) -> dict[str, Any]:
    """The JSON of a frozen bill."""
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
    }


def open_bill_document(
    computed: CycleBill, customer: Customer, state: MeterState, settings: Settings
) -> dict[str, Any]:
    """The JSON of the open cycle: consumption so far and its projection to the cycle's end."""
    zone = settings.zone
    priced = computed.priced
    since = max(computed.start, state.first_ts or computed.start)
    elapsed = (state.last_ts or since) - since
    projected_kwh = billing.projection(priced.consumo_kwh, elapsed, computed.end - since)
    projected = billing.price(projected_kwh, settings.tariff)
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
        "leitura_anterior_kwh": kwh_from_wh(computed.start_register),
        "leitura_atual_kwh": kwh_from_wh(computed.end_register),
        "revisao": computed.review,
        "projecao_kwh": kwh(projected_kwh),
        "projecao_valor": str(projected.valor),
    }


def frozen_bills(session: Session, customer_id: int) -> list[Bill]:
    """A customer's closed bills, oldest first."""
    return list(
        session.scalars(select(Bill).where(Bill.customer_id == customer_id).order_by(Bill.ano, Bill.mes))
    )
