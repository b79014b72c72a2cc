"""The alert routes beyond SPEC §5 (issue 4): every kind at once, acknowledging, thresholds.

- `GET /usuario/alertas/?id=N[&tipo=..][&estado=..][&desde=..]`: every kind of alert.
- `POST /usuario/alerta/reconhecer/?id=N&alerta_id=K`: the customer has seen alert K.
- `GET|PATCH /usuario/alertas/configuracao/?id=N`: the thresholds in force for the customer, and
  its own ones (a JSON object; `null` puts one back to the configured value).

Checks run in the order of SPEC §5: token 401, malformed input 400, another customer's data 403,
absent 404 (an alert that is not this customer's is absent). A customer's token may do all of
this for its own id; the admin token for any.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from api import access, alert_params, auth, db, params, queries
from api.errors import NotFound, read_body
from core.periods import now_ms
from core import alert_settings
from core.alert_settings import InvalidSetting
from core.alert_states import acknowledge, find_alert
from core.customers import lock_meter
from core.documents import alert_document
from core.settlement import settle

log = logging.getLogger(__name__)

bp = Blueprint("alerts", __name__)




@bp.get("/usuario/alertas/", strict_slashes=False)
def alertas() -> Response:
    """Every alert of the customer, oldest first, filtered by kind, state and raising time."""
    principal = access.principal()
    customer_id = params.customer_id(request.args)
    zone = db.context().settings.zone
    wanted = alert_params.alert_filter(request.args, zone, params.alert_state(request.args))
    access.readable_customer(principal, customer_id)
    return jsonify(queries.alerts_document(db.session(), customer_id, None, wanted, zone))


@bp.post("/usuario/alerta/reconhecer/", strict_slashes=False)
@db.writes
def reconhecer() -> Response:
    """Acknowledge an alert: state `reconhecido` (a cleared one stays `encerrado`)."""
    principal = access.principal()
    customer_id = params.customer_id(request.args)
    alert_id = alert_params.alert_id(request.args)
    access.readable_customer(principal, customer_id)
    session = db.session()
    alert = find_alert(session, customer_id, alert_id)
    if alert is None:
        raise NotFound(f"o cliente {customer_id} não tem alerta {alert_id}; veja os alertas em /usuario/alertas/?id={customer_id}")
    acknowledge(alert, now_ms())
    document = alert_document(alert, db.context().settings.zone)
    session.commit()
    return jsonify(document)


@bp.get("/usuario/alertas/configuracao/", strict_slashes=False)
def configuracao() -> Response:
    """The thresholds in force for the customer and the ones that are its own."""
    principal = access.principal()
    customer_id = params.customer_id(request.args)
    customer = access.readable_customer(principal, customer_id)
    return jsonify(alert_settings.document(customer, db.context().settings))


@bp.patch("/usuario/alertas/configuracao/", strict_slashes=False)
@db.writes
def configurar() -> Response:
    """Change the customer's own thresholds; the rules use them from the next reading on."""
    principal = access.principal()
    customer_id = params.customer_id(request.args)
    changes = alert_params.settings_body(read_body())
    try:
        alert_settings.merged({}, changes)  # malformed values are a 400 before any 403 or 404
    except InvalidSetting as error:
        raise params.ParamError(str(error)) from None
    auth.authorize_customer(principal, customer_id)
    session, settings = db.session(), db.context().settings
    state = lock_meter(session, customer_id)
    customer = queries.find_customer(session, customer_id)
    if customer is None:
        raise NotFound(f"não há cliente com id {customer_id}")
    alert_settings.apply(session, customer, changes, settings)
    settle(session, customer, state, settings, now_ms())  # re-arm the cycle's excess and projection
    document = alert_settings.document(customer, settings)
    session.commit()
    log.info("customer %s alert thresholds: %s", customer_id, document["personalizado"])
    return jsonify(document)
