"""The read side of invoices: every bill of a customer, and the history an invoice charts.

Frozen bills are read as frozen; the others (the open cycle, or one closed that the worker has not
frozen yet) are computed now, exactly as `GET /usuario/fatura/` shows them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from core.bills import (bill_cycles, closed_bill_document, closing_day, compute, freeze, frozen_bills,
                        open_bill_document, previous_bill)
from core.config import Settings
from core.models import Customer, MeterState
from core.periods import Cycle, cycles_between
from core.series import Series

HISTORY_MONTHS = 12


def bill_documents(session: Session, customer: Customer, settings: Settings, now_ms: int) -> list[dict[str, Any]]:
    """Every bill of the customer, oldest first, as the bill route answers them."""
    state = session.get(MeterState, customer.id)
    if state is None or state.first_ts is None or state.last_ts is None:
        return []
    zone = settings.zone
    bills = frozen_bills(session, customer.id)
    by_cycle = {(bill.ano, bill.mes): bill for bill in bills}
    series = Series(session, customer.id)
    documents = []
    for cycle in cycles_between(*bill_cycles(state, closing_day(customer, settings), zone, bills)):
        frozen = by_cycle.get(cycle)
        if frozen is not None:
            documents.append(closed_bill_document(frozen, zone))
            continue
        computed = compute(series, cycle, customer, settings, previous_bill(bills, cycle))
        if computed.end <= state.last_ts:
            documents.append(closed_bill_document(freeze(computed, customer, now_ms), zone))
        else:
            documents.append(open_bill_document(computed, customer, state, settings))
    return documents


def history(session: Session, document: dict[str, Any]) -> list[tuple[int, int, Decimal]]:
    """`(ano, mes, consumo_kwh)` of the bill and up to 11 frozen bills before it, oldest first."""
    cycle = Cycle(document["ano"], document["mes"])
    earlier = [(bill.ano, bill.mes, Decimal(bill.consumo_kwh)) for bill in frozen_bills(session, document["id"])
               if Cycle(bill.ano, bill.mes) < cycle]
    return [*earlier[-(HISTORY_MONTHS - 1):], (cycle.ano, cycle.mes, Decimal(str(document["consumo_kwh"])))]
