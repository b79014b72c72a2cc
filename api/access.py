"""Who asks and what they may read, for the routes and pages added around SPEC §5's."""

from __future__ import annotations

from flask import request

from api import auth, db, queries
from api.errors import NotFound
from core.models import Customer


def principal() -> auth.Principal:
    """Who sent this request: bearer token or session cookie (401 when nobody known)."""
    return auth.authenticate(db.session(), request.headers.get("Authorization"), db.context().admin_token)


def readable_customer(who: auth.Principal, customer_id: int) -> Customer:
    """The customer, once `who` may read it (403) and it exists (404)."""
    auth.authorize_customer(who, customer_id)
    customer = queries.find_customer(db.session(), customer_id)
    if customer is None:
        raise NotFound(f"não há cliente com id {customer_id}")
    return customer


def check_readable(who: auth.Principal, customer_id: int) -> None:
    """403 unless `who` may read the customer, 404 unless it exists; its row is not loaded."""
    auth.authorize_customer(who, customer_id)
    # A customer's own token was found a moment ago in this same transaction: the customer exists.
    if who.is_admin and not queries.customer_exists(db.session(), customer_id):
        raise NotFound(f"não há cliente com id {customer_id}")
