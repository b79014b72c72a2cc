"""The printable invoice `GET /fatura/<id>/<AAAA-MM>` and the CSV of a customer's bills `GET /faturas/<id>.csv`.

Both authenticate like the JSON routes (`access.principal`: the admin, or that customer)
and check in the SPEC §5 order: 401, 400, 403, 404; their errors are JSON like every other.
Neither is cached: they hold a customer's data.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from flask import Blueprint, Response, render_template
from werkzeug.datastructures import MultiDict

from api import access, db, invoice_data, params, queries
from api.errors import NotFound
from api.history_chart import HEIGHT, WIDTH, bars
from api.invoice_view import invoice_view
from api.params import BillMonth, ParamError
from core.periods import now_ms

bp = Blueprint("invoices", __name__)

MONTH_RE = re.compile(r"(?P<ano>[0-9]{4})-(?P<mes>0[1-9]|1[0-2])")
CSV_COLUMNS = ("id", "ano", "mes", "status", "inicio", "fim", "vencimento", "leitura_anterior_kwh",
               "leitura_atual_kwh", "consumo_kwh", "ajuste_kwh", "consumo_faturado_kwh", "valor", "icms", "pis",
               "cofins", "plano", "revisao")
PRIVATE = {"Cache-Control": "no-store"}


@bp.get("/fatura/<ident>/<mes>", strict_slashes=False)
def invoice(ident: str, mes: str) -> Response:
    """The bill of one month as a printable page, in Brazilian Portuguese."""
    principal = access.principal()
    customer_id = params.customer_id(MultiDict({"id": ident}))
    wanted = _month(mes)
    customer = access.readable_customer(principal, customer_id)
    session, settings = db.session(), db.context().settings
    document = queries.bill_document(session, customer.id, wanted, settings, now_ms())
    if document is None:
        raise NotFound(f"o cliente {customer_id} não tem fatura do mês {mes}")
    view = invoice_view(customer, document, settings)
    chart = bars(invoice_data.history(session, document), (document["ano"], document["mes"]))
    html = render_template("fatura.html", fatura=view, barras=chart, largura=WIDTH, altura=HEIGHT)
    return Response(html, mimetype="text/html", headers=PRIVATE)


@bp.get("/faturas/<ident>.csv", strict_slashes=False)
def invoices_csv(ident: str) -> Response:
    """Every bill of a customer, one line each (RFC 4180, UTF-8, decimal points, as the JSON)."""
    principal = access.principal()
    customer_id = params.customer_id(MultiDict({"id": ident}))
    customer = access.readable_customer(principal, customer_id)
    documents = invoice_data.bill_documents(db.session(), customer, db.context().settings, now_ms())
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for document in documents:
        writer.writerow([_csv_value(document, column) for column in CSV_COLUMNS])
    headers = {**PRIVATE, "Content-Disposition": f'attachment; filename="faturas-{customer_id}.csv"'}
    return Response(buffer.getvalue(), mimetype="text/csv", headers=headers)


def _csv_value(document: dict[str, Any], column: str) -> Any:
    """One cell: taxes from the `tributos` block, the plan from `tarifa`, the rest as the JSON says."""
    if column in ("icms", "pis", "cofins"):
        return (document.get("tributos") or {}).get(column, "")
    if column == "plano":
        return (document.get("tarifa") or {}).get("plano", "")
    value = document.get(column, "")
    if isinstance(value, bool):
        return "sim" if value else "nao"
    if isinstance(value, float):  # kWh kept as JSON numbers in a frozen bill's details
        return f"{value:.3f}"
    return "" if value is None else value


def _month(raw: str) -> BillMonth:
    """`AAAA-MM` of the path, year 2000 to 9999."""
    match = MONTH_RE.fullmatch(raw)
    if not match or not params.MIN_YEAR <= int(match.group("ano")) <= params.MAX_YEAR:
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise ParamError(f"mês inválido ({shown!r}): use AAAA-MM, por exemplo /fatura/7/2024-03")
    return BillMonth(int(match.group("mes")), int(match.group("ano")))


