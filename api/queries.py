"""The read side: the JSON documents of customers, consumption, bills and alerts (SPEC §5-6).

Every function takes the request's session and never commits. kWh figures are `Decimal`s
rounded to the watt-hour; the app's JSON provider writes them as numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from api.alert_params import AlertFilter
from api.encoding import Encoded
from api.params import BillMonth, Page
from api.reading_times import iso_times
from api.windows import EVERYTHING, Window
from core.bills import (bill_cycles, closed_bill_document, closing_day, compute, freeze, frozen_bills,
                        open_bill_document, previous_bill)
from core.config import Settings
from core.documents import alert_document
from core.models import Alert, Bill, Customer, MeterState, Reading
from core.money import kwh_from_wh
from core.periods import Cycle, iso
from core import rollups
from core.series import Series


@dataclass(frozen=True)
class Listing:
    """A consumption document and the cursor of its next page (None on the last page)."""

    document: dict[str, Any]
    next_after: int | None


def find_customer(session: Session, customer_id: int) -> Customer | None:
    """The current registration of an id."""
    return session.get(Customer, customer_id)


def customer_exists(session: Session, customer_id: int) -> bool:
    """Whether an id is registered, without loading its row."""
    return session.scalar(_CUSTOMER_ID, {"customer": customer_id}) is not None


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
        "leituras_resumidas": state.pruned_readings if state else 0,
        "cadastrado_em": iso(customer.created_at, zone),
    }


def all_consumption(session: Session, customer_id: int, page: Page, zone: ZoneInfo) -> Listing:
    """Every reading of the customer, one page of them, with the accumulated total."""
    series = Series(session, customer_id)
    state = _state_with_readings(session, customer_id)
    total = _total_wh(series, state) if state else Decimal(0)
    count = state.readings if state else 0
    readings, more = _page(series, [EVERYTHING], page)
    return _listing(customer_id, readings, more, total, count, zone)


def period_consumption(
    session: Session, customer_id: int, windows: Sequence[Window], page: Page, zone: ZoneInfo
) -> Listing:
    """Consumption and readings of some windows of time, summed over the windows."""
    series = Series(session, customer_id)
    # Every window's two ends in one statement (`Series.consumption_wh` takes one per end); the
    # register is 0 at both ends only for a meter without readings, whose consumption is 0.
    registers = series.registers(bound for window in windows for bound in window)
    consumed = sum((registers[end] - registers[start] for start, end in windows), Decimal(0))
    readings, more = _page(series, windows, page)
    if page.after is None and not more:
        count = len(readings)  # the first page holds every reading of the windows: no count to run
    else:
        count = _count(series, windows)
    return _listing(customer_id, readings, more, consumed, count, zone)


def _count(series: Series, windows: Sequence[Window]) -> int:
    """How many readings the windows hold: from the 15-minute rollup where it says exactly that.

    The rollup (`core.rollups`) counts the readings each bucket received, in the transaction that
    stored them; retention thins raw readings only before the meter's `pruned_to`. So a window on
    the grid from `pruned_to` on holds what its buckets received: about a hundred rows to add for
    a day of a 5-second meter instead of 17,280 index entries to count.
    """
    session, meter = series.session, series.meter_id
    pruned_to = session.scalar(_PRUNED_TO, {"meter": meter})
    total = 0
    for start, end in windows:
        if rollups.on_grid(start) and rollups.on_grid(end) and (pruned_to is None or pruned_to <= start):
            total += rollups.received(session, meter, start, end)
        else:
            total += series.count(start, end)
    return total


def period_documents(windows: Sequence[Window], zone: ZoneInfo) -> list[dict[str, str | None]]:
    """The windows of a day or time query, as ISO instants."""
    return [{"inicio": _iso_or_none(start, zone), "fim": _iso_or_none(end, zone)} for start, end in windows]


def bill_document(session: Session, customer_id: int, wanted: BillMonth, settings: Settings, now_ms: int) -> dict[str, Any] | None:
    """The bill of a month, closed (frozen) or open with its projection; None when there is none.

    The customer's row is read only when the bill is not frozen: a frozen one needs only the id.
    """
    if wanted.conflicting:
        return None
    if wanted.ano is not None:
        # A frozen bill is the answer for its cycle whatever else is stored (every frozen cycle
        # lies between the customer's first and open cycles), so one indexed row answers it.
        found = session.execute(_FROZEN_BILL, {"customer": customer_id, "ano": wanted.ano, "mes": wanted.mes}).first()
        if found is not None:
            return closed_bill_document(found, settings.zone)
    state = _state_with_readings(session, customer_id)
    customer = find_customer(session, customer_id)
    if state is None or customer is None:
        return None
    day, zone = closing_day(customer, settings), settings.zone
    bills = frozen_bills(session, customer_id)
    cycle = _wanted_cycle(*bill_cycles(state, day, zone, bills), wanted)
    if cycle is None:
        return None
    frozen = next((bill for bill in bills if (bill.ano, bill.mes) == cycle), None)
    if frozen is not None:
        return closed_bill_document(frozen, zone)
    computed = compute(Series(session, customer_id), cycle, customer, settings, previous_bill(bills, cycle))
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


# Built once: composing a statement costs about as much as SQLite running it. Statements of
# plain columns name the table's (`__table__.c`), not the mapped class's: the session then runs
# them as Core, skipping the ORM's per-statement set-up (half the cost of a small read).
_READINGS = Reading.__table__.c
_PRUNED_TO = select(MeterState.__table__.c.pruned_to).where(MeterState.__table__.c.meter_id == bindparam("meter"))
_CUSTOMER_ID = select(Customer.__table__.c.id).where(Customer.__table__.c.id == bindparam("customer"))
_BILLS = Bill.__table__.c
_FROZEN_BILL = select(Bill.__table__).where(
    _BILLS.customer_id == bindparam("customer"), _BILLS.ano == bindparam("ano"), _BILLS.mes == bindparam("mes"))
_READINGS_PAGE = (
    select(_READINGS.ts, _READINGS.wh)
    .where(_READINGS.meter_id == bindparam("meter"), _READINGS.ts >= bindparam("low"), _READINGS.ts < bindparam("end"))
    .order_by(_READINGS.ts)
    .limit(bindparam("limit"))
)


def _listing(
    customer_id: int, readings: Sequence[tuple[int, int]], more: bool, consumed_wh: Decimal, count: int, zone: ZoneInfo
) -> Listing:
    """The consumption document of some windows, with one page of their readings (`more`: others follow)."""
    document = {
        "id": customer_id,
        "consumo_kwh": kwh_from_wh(consumed_wh),
        "total_leituras": count,
        "leituras": _readings_json(readings, zone),
        "proxima": None,
    }
    return Listing(document, readings[-1][0] if more else None)


def _page(series: Series, windows: Sequence[Window], page: Page) -> tuple[list[Row[tuple[int, int]]], bool]:
    """Up to `page.limit` readings (`ts`, `wh`) after the cursor across windows in time order, and whether more follow.

    Plain rows, not ORM objects: a page holds up to 10,000 readings, and building an object for
    each took longer than the query.
    """
    found: list[Row[tuple[int, int]]] = []
    for start, end in windows:
        if page.after is not None and end <= page.after + 1:
            continue
        low = start if page.after is None else max(start, page.after + 1)
        wanted = {"meter": series.meter_id, "low": low, "end": end, "limit": page.limit + 1 - len(found)}
        found += series.session.execute(_READINGS_PAGE, wanted).all()
        if len(found) > page.limit:
            break
    return found[: page.limit], len(found) > page.limit


def _readings_json(readings: Sequence[tuple[int, int]], zone: ZoneInfo) -> Encoded:
    """A page of readings as the JSON text the encoder would write for `[{"ts": ..., "kwh": ...}, ...]`.

    Written directly, in half the time the encoder takes for a page of thousands: times hold no
    character JSON escapes, and a float's JSON text is its `repr`.
    """
    # Unpacked, not `row.wh`: a row's attribute access costs ten times a tuple's unpacking.
    times = iso_times([ts for ts, _ in readings], zone)
    items = [f'{{"ts":"{when}","kwh":{_register_kwh(wh)!r}}}' for when, (_, wh) in zip(times, readings)]
    return Encoded(f"[{','.join(items)}]")


def _register_kwh(wh: int) -> float:
    """A raw register (whole Wh) as the JSON number of kWh the encoder would write for `kwh_from_wh(wh)`.

    Both are the double nearest to wh / 1000 (exact in Decimal; Python's int division rounds
    correctly), so the answer is the same text; skipping two Decimal steps per reading halves
    the cost of a page of thousands. Only for a whole number of Wh: anything computed stays Decimal.
    """
    return wh / 1000


def _iso_or_none(ts_ms: int, zone: ZoneInfo) -> str | None:
    """ISO-8601, or None past the year 9999."""
    try:
        return iso(ts_ms, zone)
    except OverflowError:  # the end of 9999-12-31 is past what datetime can show
        return None
