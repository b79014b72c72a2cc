"""`GET /usuario/consumo/horas/?id=N&data=D`: the consumption of each hour of a local day.

The same `data` forms and checks as `consumo/data` (SPEC §5). A day has 23, 24 or 25 hours
across a DST change; `DD/MM/` lists the hours of that day in every year with data, in time
order. Each hour says how many readings fell in it and whether its figure is an estimate (part
of it lies in a gap between readings, `core.intervals`). Figures are rounded on the running
total, so the hours add up exactly to `consumo_kwh`, which is the `consumo/data` figure.

The hours are read from the 15-minute rollup (`core.rollups`): at most a hundred rows a day
whatever the reading rate, exact, and still there after retention has thinned the raw readings
(`leituras` counts every reading received).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session

from api import auth, db, params, queries, windows
from api.errors import NotFound
from core import rollups
from core.intervals import GAP_MS, Interval, Point, hour_bounds, intervals, rounded_kwh
from core.models import MeterState
from core.periods import iso
from core.series import Series

bp = Blueprint("hours", __name__)


@bp.get("/usuario/consumo/horas/", strict_slashes=False)
def consumo_horas() -> Response:
    """Consumption per hour of one local day (or of that day in every year with data)."""
    principal = auth.authenticate(db.session(), request.headers.get("Authorization"), db.context().admin_token)
    customer_id = params.customer_id(request.args)
    day = params.day(request.args)
    auth.authorize_customer(principal, customer_id)
    session = db.session()
    if queries.find_customer(session, customer_id) is None:
        raise NotFound(f"não há cliente com id {customer_id}")
    zone = db.context().settings.zone
    state = session.get(MeterState, customer_id)
    first, last = (state.first_ts, state.last_ts) if state else (None, None)
    spans = windows.day_windows(windows.dates(day, first, last, zone), zone)
    document = hours_document(session, customer_id, spans, zone)
    return jsonify({"id": customer_id, "data": request.args["data"], **document,
                    "periodos": queries.period_documents(spans, zone)})


def hours_document(session: Session, customer_id: int, spans: Sequence[windows.Window], zone: ZoneInfo) -> dict[str, Any]:
    """The hours of some days: each with its consumption, readings and whether it is estimated."""
    series = Series(session, customer_id)
    hours: list[Interval] = []
    for start, end in spans:
        hours += day_hours(series, start, end)
    figures = rounded_kwh([hour.wh for hour in hours])
    return {
        "consumo_kwh": sum(figures, Decimal(0)),
        "total_leituras": sum(hour.readings for hour in hours),
        "estimado": any(hour.estimated for hour in hours),
        "lacuna_minutos": GAP_MS // 60_000,
        "horas": [
            {"inicio": iso(hour.start, zone), "fim": iso(hour.end, zone), "consumo_kwh": figure,
             "estimado": hour.estimated, "leituras": hour.readings}
            for hour, figure in zip(hours, figures)
        ],
    }


def day_hours(series: Series, start: int, end: int) -> list[Interval]:
    """The hours of `[start, end)`, from the rollup when both ends are on its grid."""
    if not (rollups.on_grid(start) and rollups.on_grid(end)):
        return intervals(hour_bounds(start, end), series.points(start, end))
    found = rollups.edges(series.session, series.meter_id, start, end)
    points = [Point(ts, series.adjusted(ts, wh)) for ts, wh in found.readings]
    return [replace(hour, readings=found.received(hour.start, hour.end))
            for hour in intervals(hour_bounds(start, end), points)]
