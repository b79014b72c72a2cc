"""Registering and deleting customers, with the data-ownership rules of SPEC §4.

A reading belongs to the current registration of its meter id, or to the next one: deleting a
customer deletes everything measured for it, so a later registration of the same id starts empty.
"""

from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.config import Settings
from core.db import insert_ignore
from core.models import Alert, AlertWatch, Bill, Customer, MeterState, Reading, ReadingFlag, ReadingInterval
from core.settlement import settle
from core.terms import apply_terms
from core.tokens import hash_token, new_token


class AlreadyRegistered(Exception):
    """The id already has a current customer."""


def lock_meter(session: Session, meter_id: int) -> MeterState:
    """The meter's state row, created when missing and locked for this transaction.

    Every writer of a meter's data takes this lock first, so the worker, registration and
    deletion of the same id never interleave (SQLite serialises writers on its own).
    """
    insert_ignore(session, MeterState.__table__, [_empty_state(meter_id)])
    return session.scalars(
        select(MeterState).where(MeterState.meter_id == meter_id).with_for_update()
    ).one()


def register(session: Session, meter_id: int, nome: str, endereco: str, settings: Settings, now_ms: int,
             closing_day: int | None = None, terms: Mapping[str, Any] | None = None) -> tuple[Customer, str]:
    """Create the customer and bill the readings its meter already sent; return it and its token.

    `terms` are the billing terms of `core.terms` set at registration (closing day and others).
    """
    state = lock_meter(session, meter_id)
    if session.get(Customer, meter_id) is not None:
        raise AlreadyRegistered(meter_id)
    token = new_token()
    customer = Customer(
        id=meter_id, nome=nome, endereco=endereco, token_hash=hash_token(token),
        created_at=now_ms, closing_day=closing_day, settings={},
    )
    apply_terms(customer, terms or {})
    session.add(customer)
    session.flush()
    state.registered = True
    settle(session, customer, state, settings, now_ms)
    return customer, token


def delete_customer(session: Session, meter_id: int) -> bool:
    """Delete a customer and everything measured for it; False when there is none."""
    lock_meter(session, meter_id)
    customer = session.get(Customer, meter_id)
    if customer is None:
        return False
    for model in (Reading, ReadingInterval, ReadingFlag, AlertWatch):
        session.execute(delete(model).where(model.meter_id == meter_id))
    for model in (Bill, Alert):
        session.execute(delete(model).where(model.customer_id == meter_id))
    session.execute(delete(MeterState).where(MeterState.meter_id == meter_id))
    session.delete(customer)
    return True


def rotate_token(session: Session, customer: Customer) -> str:
    """Give a customer a new token; the old one stops working at commit."""
    token = new_token()
    customer.token_hash = hash_token(token)
    return token


def _empty_state(meter_id: int) -> dict:
    return {"meter_id": meter_id, "adjust_wh": 0, "readings": 0, "registered": False}
