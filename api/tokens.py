"""Rotating a customer's token: `POST /usuario/token/?id=N` (admin, or that customer itself).

The answer carries the new token once; only its hash is stored, so the old token stops working
the moment the transaction commits, for every worker of the server. Checks run in the order of
SPEC §5: no or unknown token 401, malformed id 400, someone else's id 403, absent 404. As on the
read routes, a customer token asking for an id that is not its own gets 403 whether or not that
id exists.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from api import auth, db, params
from api.errors import NotFound
from core.customers import rotate_token
from core.models import Customer

log = logging.getLogger(__name__)

bp = Blueprint("tokens", __name__)


@bp.post("/usuario/token/", strict_slashes=False)
@db.writes
def rotate() -> Response:
    """Give the customer a new token and revoke the old one."""
    principal = auth.authenticate(db.session(), request.headers.get("Authorization"), db.context().admin_token)
    customer_id = params.customer_id(request.args)
    auth.authorize_customer(principal, customer_id)
    session = db.session()
    customer = session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        raise NotFound(f"não há cliente com id {customer_id}")
    token = rotate_token(session, customer)
    session.commit()
    log.info("rotated the token of customer %s (%s)", customer_id, "admin" if principal.is_admin else "the customer")
    return jsonify({"id": customer_id, "token": token})
