"""Consumption by hour, day or month for the charts, as JSON and as CSV.

`GET /usuario/consumo/serie/?id=N&escala=hora|dia|mes[&inicio=D&fim=D]` answers the intervals
of local days `inicio` to `fim` (both included; `YYYY-MM-DD` or `DD/MM/YYYY`), each with its
consumption: the register at its end minus the register at its start (SPEC §6), so a day's
figure is exactly what `consumo/data` answers for that day. Without dates: today by hour, the
last 30 days by day, or the last 12 months by month (`de` and `ate` say which days). An interval wholly before the first reading
or after the latest one is `medido: false` (its consumption is 0: nothing was measured). An
interval with an end inside a gap between readings is `estimado: true` (SPEC §4: the energy
across a gap is exact, how it is shared between the intervals it spans is not).

`GET /usuario/consumo/serie.csv` answers the same intervals as a spreadsheet in Brazilian form:
`;` between fields, decimal comma, local times as `20/03/2024 14:00`, an empty cell where
nothing was measured, and `sim` in the `estimado` column for an estimated interval.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session

from api import access, db, formats, params, scales
from core.periods import now_ms
from api.params import Args, ParamError
from core import intervals
from core.models import MeterState
from core.money import kwh_from_wh
from core.periods import iso, local_date
from core.series import Series

bp = Blueprint("charts", __name__)

DATE_RE = re.compile(r"(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})|(?P<d2>[0-9]{2})/(?P<m2>[0-9]{2})/(?P<y2>[0-9]{4})")
MAX_YEAR = params.MAX_YEAR - 1  # the day after the last one asked for must exist


def parse_span(args: Args, today: date) -> tuple[scales.Span, bool]:
    """`escala` (required), `inicio` and `fim` (optional local dates, in either order) as a span,
    cut to what one answer holds, and whether it was cut; ParamError when malformed."""
    scale = params.required(args, "escala", "dia")
    if scale not in scales.SCALES:
        raise ParamError(f"escala inválida ({scale[:20]!r}): use hora, dia ou mes")
    first, last = _date(args, "inicio"), _date(args, "fim")
    default = scales.default_span(scale, last or today)
    return scales.Span(scale, first or default.first, last or default.last).fitted()


def _date(args: Args, name: str) -> date | None:
    """An optional local date, `YYYY-MM-DD` or `DD/MM/YYYY`, from 2000 to 9998."""
    raw = params.single(args, name)
    if raw is None:
        return None
    match = DATE_RE.fullmatch(raw)
    try:
        if not match:
            raise ValueError
        year, month, day = (int(match.group(g) or match.group(g + "2")) for g in ("y", "m", "d"))
        found = date(year, month, day)
        if not params.MIN_YEAR <= year <= MAX_YEAR:
            raise ValueError
    except ValueError:
        raise ParamError(
            f"{name} inválido ({raw[:40]!r}): use uma data real como AAAA-MM-DD (2024-03-20) ou DD/MM/AAAA "
            f"(20/03/2024), de {params.MIN_YEAR} a {MAX_YEAR}"
        ) from None
    return found


def series_document(session: Session, customer_id: int, span: scales.Span, zone,
                    truncated: bool = False) -> dict[str, Any]:
    """The intervals of a span with their consumption, and the total; `truncado` says the span
    asked for was longer than one answer holds and this is its most recent part."""
    cuts = scales.boundaries(span, zone)
    series = Series(session, customer_id)
    energies, flags = series.measure(cuts)
    # Hours are rounded on the running total like `consumo/horas`, days each on its own like
    # `consumo/data`, so each answers the same figures as those routes.
    hourly = span.scale == scales.HOUR
    shown = intervals.rounded_kwh(energies) if hourly else [kwh_from_wh(energy) for energy in energies]
    state = session.get(MeterState, customer_id)
    first_ts = state.first_ts if state else None
    last_ts = state.last_ts if state else None
    listed = [
        {
            "inicio": iso(start, zone),
            "fim": iso(end, zone),
            "consumo_kwh": figure,
            "medido": first_ts is not None and last_ts is not None and start <= last_ts and end > first_ts,
            "estimado": estimated,
        }
        for start, end, figure, estimated in zip(cuts, cuts[1:], shown, flags)
    ]
    return {
        "id": customer_id,
        "escala": span.scale,
        "de": span.first.isoformat(),
        "ate": span.last.isoformat(),
        "inicio": iso(cuts[0], zone),
        "fim": iso(cuts[-1], zone),
        "consumo_kwh": kwh_from_wh(series.consumption_wh(cuts[0], cuts[-1])),
        "truncado": truncated,
        "intervalos": listed,
    }


def _requested() -> dict[str, Any]:
    """The document the request asks for, after the checks of SPEC §5 in their order."""
    who = access.principal()
    customer_id = params.customer_id(request.args)
    zone = db.context().settings.zone
    span, truncated = parse_span(request.args, local_date(now_ms(), zone))
    access.readable_customer(who, customer_id)
    return series_document(db.session(), customer_id, span, zone, truncated)


@bp.get("/usuario/consumo/serie/", strict_slashes=False)
def serie() -> Response:
    """Consumption by hour, day or month of a span of local days."""
    return jsonify(_requested())


@bp.get("/usuario/consumo/serie.csv")
def serie_csv() -> Response:
    """The same intervals as a CSV file to download."""
    document = _requested()
    name = f"consumo-{document['id']}-{document['escala']}-{document['de']}-a-{document['ate']}.csv"
    return Response(
        to_csv(document), mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def to_csv(document: dict[str, Any]) -> str:
    """A series document as a Brazilian spreadsheet: `inicio;fim;consumo_kwh`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["inicio", "fim", "consumo_kwh", "estimado"])
    for interval in document["intervalos"]:
        consumption = formats.kwh_number(interval["consumo_kwh"], grouped=False) if interval["medido"] else ""
        estimated = "sim" if interval["estimado"] else ""
        writer.writerow([formats.when(interval["inicio"]), formats.when(interval["fim"]), consumption, estimated])
    return buffer.getvalue()
