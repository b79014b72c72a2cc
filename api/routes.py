"""The routes of SPEC §5, as thin handlers: authenticate, parse, authorize, query, answer.

Checks run in the order SPEC §5 fixes: no or unknown token 401; malformed input 400; another
customer's data, or a customer token on cadastro/delete, 403; absent 404. A customer token
asking for an id that does not exist gets 403 too, so tokens never reveal which ids exist.
The trailing slash of every route is optional and never redirects.
"""

from __future__ import annotations

import functools
import logging
from datetime import date
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request, url_for
from sqlalchemy import bindparam, select
from sqlalchemy.exc import SQLAlchemyError

from api import access, alert_params, auth, configuracao, db, params, queries, windows
from api.alert_params import AlertFilter
from api.errors import Conflict, NotFound, error_response, read_body
from api.openapi import openapi_document
from core.periods import now_ms
from core.customers import AlreadyRegistered, delete_customer, register
from core.models import Customer, MeterState
from core.rules import EXCESS, VARIATION

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__)

PAGE_KEEPS = ("id", "data", "horario", "limite")  # what `proxima` repeats, besides the new `apos`




def _paginated(listing: queries.Listing, **extras: Any) -> Response:
    """The consumption document, with `proxima` the absolute URL of the next page or null."""
    document = dict(listing.document, **extras)
    if listing.next_after is not None:
        kept = [(name, request.args[name]) for name in PAGE_KEEPS if name in request.args]
        document["proxima"] = f"{request.base_url}?{urlencode([*kept, ('apos', str(listing.next_after))])}"
    return jsonify(document)


@bp.get("/usuario/", strict_slashes=False)
def usuario() -> Response:
    """The customer, with the accumulated total `consumo_total_kwh`."""
    principal = access.principal()
    customer = access.readable_customer(principal, params.customer_id(request.args))
    return jsonify(queries.customer_document(db.session(), customer, db.context().settings))


@bp.get("/usuario/fatura/", strict_slashes=False)
def fatura() -> Response:
    """The bill of a month: closed as frozen, or open with its projection."""
    principal = access.principal()
    customer_id = params.customer_id(request.args)
    wanted = params.bill_month(request.args)
    access.check_readable(principal, customer_id)
    document = queries.bill_document(db.session(), customer_id, wanted, db.context().settings, now_ms())
    if document is None:
        raise NotFound(_no_bill(customer_id, wanted))
    return jsonify(document)


def _no_bill(customer_id: int, wanted: params.BillMonth) -> str:
    """Why there is no such bill, in words a person can act on."""
    if wanted.conflicting:
        return f"mes já diz o ano ({wanted.ano}) e o parâmetro ano diz outro; omita ano ou use o mesmo"
    month = f"{wanted.mes:02d}/{wanted.ano}" if wanted.ano else f"{wanted.mes:02d}"
    return (
        f"o cliente {customer_id} não tem fatura do mês {month}; há faturas do ciclo da "
        "primeira leitura ao da última"
    )


@bp.get("/usuario/consumo/", strict_slashes=False)
def consumo() -> Response:
    """Every reading, paginated, with the accumulated total."""
    principal = access.principal()
    customer_id = params.customer_id(request.args)
    page = params.page(request.args)
    access.check_readable(principal, customer_id)
    zone = db.context().settings.zone
    return _paginated(queries.all_consumption(db.session(), customer_id, page, zone))


@bp.get("/usuario/consumo/data/", strict_slashes=False)
def consumo_data() -> Response:
    """Readings and consumption of one local day, or of that day in every year with data."""
    principal = access.principal()
    customer_id = params.customer_id(request.args)
    day = params.day(request.args)
    page = params.page(request.args)
    access.check_readable(principal, customer_id)
    zone = db.context().settings.zone
    spans = windows.day_windows(_dates(day, customer_id, zone), zone)
    listing = queries.period_consumption(db.session(), customer_id, spans, page, zone)
    return _paginated(listing, data=request.args["data"], periodos=queries.period_documents(spans, zone))


@bp.get("/usuario/consumo/horario/", strict_slashes=False)
def consumo_horario() -> Response:
    """Readings and consumption of one second or minute of a day (same forms of day)."""
    principal = access.principal()
    customer_id = params.customer_id(request.args)
    day = params.day(request.args)
    wall = params.clock(request.args)
    page = params.page(request.args)
    access.check_readable(principal, customer_id)
    zone = db.context().settings.zone
    spans = windows.clock_windows(_dates(day, customer_id, zone), wall, zone)
    listing = queries.period_consumption(db.session(), customer_id, spans, page, zone)
    return _paginated(
        listing, data=request.args["data"], horario=request.args["horario"],
        periodos=queries.period_documents(spans, zone),
    )


def _dates(day: params.Day, customer_id: int, zone: ZoneInfo) -> list[date]:
    """The days a `data` value names; only `DD/MM/` needs the years of the customer's readings."""
    if day.year is not None:
        return windows.dates(day, None, None, zone)
    span = db.session().execute(_READING_SPAN, {"meter": customer_id}).first()
    return windows.dates(day, *(span or (None, None)), zone)


# Built once, over the table's columns: the session runs it as Core, without the ORM's set-up.
_READING_SPAN = select(MeterState.__table__.c.first_ts, MeterState.__table__.c.last_ts).where(
    MeterState.__table__.c.meter_id == bindparam("meter"))


def _alerts(tipo: str) -> Response:
    """The alert list of one rule, optionally only in one state and raised since an instant."""
    principal = access.principal()
    customer_id = params.customer_id(request.args)
    zone = db.context().settings.zone
    wanted = AlertFilter(estado=params.alert_state(request.args), since_ms=alert_params.since(request.args, zone))
    access.check_readable(principal, customer_id)
    return jsonify(queries.alerts_document(db.session(), customer_id, tipo, wanted, zone))


@bp.get("/usuario/alerta/variacao/", strict_slashes=False)
def alerta_variacao() -> Response:
    """The alerts of the large-variation rule."""
    return _alerts(VARIATION)


@bp.get("/usuario/alerta/excesso/", strict_slashes=False)
def alerta_excesso() -> Response:
    """The alerts of the excessive-consumption rule."""
    return _alerts(EXCESS)


@bp.post("/usuario/cadastro/", strict_slashes=False)
@db.writes
def cadastro() -> tuple[Response, int, dict[str, str]]:
    """Register a customer (admin only); its readings sent before are billed at once."""
    principal = access.principal()
    raw = read_body()
    body = params.customer_body(raw)
    session, settings = db.session(), db.context().settings
    terms = configuracao.optional_terms(raw, settings.schedule.plans)
    auth.require_admin(principal)
    try:
        customer, token = register(session, body.id, body.nome, body.endereco, settings, now_ms(), terms=terms)
    except AlreadyRegistered:
        raise Conflict(f"já existe um cliente com id {body.id}; remova-o antes ou use outro id") from None
    document = queries.customer_document(session, customer, settings)
    session.commit()
    log.info("registered customer %s", customer.id)
    location = url_for("api.usuario", id=customer.id)
    return jsonify({**document, "token": token}), 201, {"Location": location}


@bp.delete("/usuario/delete/", strict_slashes=False)
@db.writes
def delete() -> Response:
    """Delete a customer and everything measured for it (admin only)."""
    principal = access.principal()
    customer_id = params.customer_id(request.args)
    auth.require_admin(principal)
    session = db.session()
    if not delete_customer(session, customer_id):
        raise NotFound(f"não há cliente com id {customer_id}")
    session.commit()
    log.info("deleted customer %s", customer_id)
    return jsonify({"id": customer_id, "removido": True})


@bp.get("/healthz", strict_slashes=False)
def healthz() -> Response | tuple[Response, int]:
    """`{"status": "ok"}` once a trivial query on the schema succeeds; 503 otherwise."""
    try:
        db.session().execute(select(Customer.id).limit(1))
    except SQLAlchemyError as error:
        log.error("health check failed: %s", error)
        return error_response(503, "o banco de dados não responde; veja o log do servidor")
    return jsonify({"status": "ok"})


@bp.get("/openapi.json", strict_slashes=False)
def openapi() -> Response:
    """The OpenAPI description of this API."""
    return jsonify(_cached_openapi(tuple(sorted(db.context().settings.schedule.plans))))


@functools.cache
def _cached_openapi(plans: tuple[str, ...]) -> dict[str, Any]:
    """The document, built once per process (it lists the configured tariff plans)."""
    return openapi_document(plans)
