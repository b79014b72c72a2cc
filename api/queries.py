"""The read side: the JSON documents of customers, consumption, bills and alerts (SPEC §5-6).

Every function takes the request's session and never commits. kWh figures are `Decimal`s
rounded to the watt-hour; the app's JSON provider writes them as numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.alert_params import AlertFilter
from api.params import BillMonth, Page
from api.windows import EVERYTHING, Window
from core.bills import (bill_cycles, closed_bill_document, closing_day, compute, freeze, frozen_bills,
                        open_bill_document, previous_bill)
from core.config import Settings
from core.documents import alert_document
from core.models import Alert, Customer, MeterState, Reading
from core.money import kwh_from_wh
from core.periods import Cycle, iso
from core.series import Series


@dataclass(frozen=True)
class Listing:
    """A consumption document and the cursor of its next page (None on the last page)."""

    document: dict[str, Any]
    next_after: int | None


def find_customer(session: Session, customer_id: int) -> Customer | None:
    """The current registration of an id."""
    return session.get(Customer, customer_id)


def customer_document(session: Session, customer: Customer, settings: Settings) -> dict[str, Any]:
    """The customer with its accumulated total and latest reading."""
    zone = settings.zone
    state = _state_with_readings(session, customer.id)
    total = _total_wh(Series(session, customer.id), state) if state else Decimal(0)
    return {
        "id": customer.id,
        "nome": customer.nome,
        "endereco": customer.endereco,
        "consumo_total_kwh": kwh_from_wh(total),
        "leitura_atual_kwh": kwh_from_wh(state.last_wh) if state else None,
        "ultima_leitura": iso(state.last_ts, zone) if state else None,
        "primeira_leitura": iso(state.first_ts, zone) if state else None,
        "total_leituras": state.readings if state else 0,
        "cadastrado_em": iso(customer.created_at, zone),
    }


def all_consumption(session: Session, customer_id: int, page: Page, zone: ZoneInfo) -> Listing:
    """Every reading of the customer, one page of them, with the accumulated total."""
    series = Series(session, customer_id)
    state = _state_with_readings(session, customer_id)
    total = _total_wh(series, state) if state else Decimal(0)
    count = state.readings if state else 0
    return _listing(series, customer_id, [EVERYTHING], total, count, page, zone)


def period_consumption(
    session: Session, customer_id: int, windows: Sequence[Window], page: Page, zone: ZoneInfo
) -> Listing:
    """Consumption and readings of some windows of time, summed over the windows."""
    series = Series(session, customer_id)
    consumed = sum((series.consumption_wh(start, end) for start, end in windows), Decimal(0))
    count = sum(series.count(start, end) for start, end in windows)
    return _listing(series, customer_id, windows, consumed, count, page, zone)


def period_documents(windows: Sequence[Window], zone: ZoneInfo) -> list[dict[str, str | None]]:
    """The windows of a day or time query, as ISO instants."""
    return [{"inicio": _iso_or_none(start, zone), "fim": _iso_or_none(end, zone)} for start, end in windows]


def bill_document(session: Session, customer: Customer, wanted: BillMonth, settings: Settings, now_ms: int) -> dict[str, Any] | None:
    """The bill of a month, closed (frozen) or open with its projection; None when there is none."""
    state = _state_with_readings(session, customer.id)
    if state is None or wanted.conflicting:
        return None
    day, zone = closing_day(customer, settings), settings.zone
    bills = frozen_bills(session, customer.id)
    cycle = _wanted_cycle(*bill_cycles(state, day, zone, bills), wanted)
    if cycle is None:
        return None
    frozen = next((bill for bill in bills if (bill.ano, bill.mes) == cycle), None)
    if frozen is not None:
        return closed_bill_document(frozen, zone)
    computed = compute(Series(session, customer.id), cycle, customer, settings, previous_bill(bills, cycle))
    if computed.end <= state.last_ts:
        # Closed, but the worker has not frozen it yet: show what it will freeze, as it will.
        return closed_bill_document(freeze(computed, customer, now_ms), zone)
    return open_bill_document(computed, customer, state, settings)


def alerts_document(session: Session, customer_id: int, tipo: str | None, wanted: AlertFilter, zone: ZoneInfo) -> dict[str, Any]:
    """A customer's alerts, oldest first: of one rule (`tipo`), or of the kinds the filter names."""
    query = select(Alert).where(Alert.customer_id == customer_id)
    kinds = (tipo,) if tipo is not None else wanted.kinds
    if kinds is not None:
        query = query.where(Alert.tipo.in_(kinds))
    if wanted.estado is not None:
        query = query.where(Alert.state == wanted.estado)
    if wanted.since_ms is not None:
        query = query.where(Alert.criado_em >= wanted.since_ms)
    alerts = [alert_document(alert, zone) for alert in session.scalars(query.order_by(Alert.criado_em, Alert.id))]
    document: dict[str, Any] = {"id": customer_id}
    if tipo is not None:
        document["tipo"] = tipo
    return {**document, "alerta": bool(alerts), "alertas": alerts}


def _state_with_readings(session: Session, meter_id: int) -> MeterState | None:
    """The meter's state when it has sent at least one reading."""
    state = session.get(MeterState, meter_id)
    if state is None or state.first_ts is None or state.last_ts is None or state.last_wh is None:
        return None
    return state


def _total_wh(series: Series, state: MeterState) -> Decimal:
    """Energy from the first reading to the latest, resets accounted for (adjusted register)."""
    high = series.register_at(state.last_ts)
    low = series.register_at(state.first_ts)
    return Decimal(0) if high is None or low is None else high - low


def _wanted_cycle(first: Cycle, last: Cycle, wanted: BillMonth) -> Cycle | None:
    """The cycle asked for when the customer has a bill for it (cycles `first` to `last`)."""
    if wanted.ano is not None:
        cycle = Cycle(wanted.ano, wanted.mes)
        return cycle if first <= cycle <= last else None
    cycle = Cycle(last.ano if wanted.mes <= last.mes else last.ano - 1, wanted.mes)
    return cycle if cycle >= first else None


def _listing(
    series: Series, customer_id: int, windows: Sequence[Window], consumed_wh: Decimal, count: int, page: Page, zone: ZoneInfo
) -> Listing:
    """The consumption document of some windows, with one page of their readings."""
    readings, more = _page(series, windows, page)
    document = {
        "id": customer_id,
        "consumo_kwh": kwh_from_wh(consumed_wh),
        "total_leituras": count,
        "leituras": [{"ts": iso(reading.ts, zone), "kwh": kwh_from_wh(reading.wh)} for reading in readings],
        "proxima": None,
    }
    return Listing(document, readings[-1].ts if more else None)


def _page(series: Series, windows: Sequence[Window], page: Page) -> tuple[list[Reading], bool]:
    """Up to `page.limit` readings after the cursor across windows in time order, and whether more follow."""
    found: list[Reading] = []
    for start, end in windows:
        if page.after is not None and end <= page.after + 1:
            continue
        found += series.page(start, end, page.after, page.limit + 1 - len(found))
        if len(found) > page.limit:
            break
    return found[: page.limit], len(found) > page.limit


def _iso_or_none(ts_ms: int, zone: ZoneInfo) -> str | None:
    """ISO-8601, or None past the year 9999."""
    try:
        return iso(ts_ms, zone)
    except OverflowError:  # the end of 9999-12-31 is past what datetime can show
        return None
