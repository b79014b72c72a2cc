"""A customer's billing terms: `GET` and `PATCH /usuario/configuracao/?id=N`, and the cadastro extras.

The terms are `dia_fechamento` (1 to 31, clamped to short months), `ligacao` (monofasico,
bifasico, trifasico: the availability minimum), `plano` (a plan of the config) and
`tarifa_social` (bool). `null` returns a term to the configuration's default. A change takes
effect from the open cycle on; closed bills are frozen and never change.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Iterable

from flask import Blueprint, Response, jsonify, request

from api import access, auth, db, params
from api.errors import NotFound, read_body
from api.params import ParamError
from core.periods import now_ms
from core.customers import lock_meter
from core.models import Customer
from core.settlement import settle
from core.terms import CONNECTIONS, KEYS, apply_terms, terms_document

log = logging.getLogger(__name__)

bp = Blueprint("configuracao", __name__)

EXAMPLE = '{"dia_fechamento": 20, "ligacao": "bifasico", "plano": "branca", "tarifa_social": false}'


@bp.get("/usuario/configuracao/", strict_slashes=False)
def show() -> Response:
    """The terms that apply to a customer (admin, or that customer)."""
    principal = access.principal()
    customer = access.readable_customer(principal, params.customer_id(request.args))
    return jsonify(terms_document(customer, db.context().settings))


@bp.patch("/usuario/configuracao/", strict_slashes=False)
@db.writes
def change() -> Response:
    """Change some terms (admin only); the open cycle is settled again at once."""
    principal = access.principal()
    customer_id = params.customer_id(request.args)
    settings = db.context().settings
    changes = terms_body(read_body(), settings.schedule.plans)
    auth.require_admin(principal)
    session = db.session()
    state = lock_meter(session, customer_id)
    customer = _customer(customer_id)
    apply_terms(customer, changes)
    session.flush()
    settle(session, customer, state, settings, now_ms())
    document = terms_document(customer, settings)
    session.commit()
    log.info("customer %s terms changed: %s", customer_id, sorted(changes))
    return jsonify(document)


def _customer(customer_id: int) -> Customer:
    """The current registration of an id, or 404."""
    customer = db.session().get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"não há cliente com id {customer_id}")
    return customer




def terms_body(raw: bytes, plans: Iterable[str]) -> dict[str, Any]:
    """The PATCH body: an object with at least one term and nothing else."""
    document = _object(raw)
    unknown = sorted(set(document) - set(KEYS))
    if unknown:
        raise ParamError(f'chave desconhecida "{unknown[0]}": as chaves são {", ".join(KEYS)}')
    if not document:
        raise ParamError(f"envie ao menos uma chave, por exemplo {EXAMPLE}")
    return validated_terms(document, plans)


def optional_terms(raw: bytes, plans: Iterable[str]) -> dict[str, Any]:
    """The terms a cadastro body may carry besides id, nome and endereco (other keys are ignored)."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return {}  # `params.customer_body` has already refused it
    if not isinstance(document, dict):
        return {}
    return validated_terms({key: document[key] for key in KEYS if key in document}, plans)


def validated_terms(document: dict[str, Any], plans: Iterable[str]) -> dict[str, Any]:
    """Check each term given; `null` means "back to the default"."""
    plans = sorted(plans)
    problems = []
    day = document.get("dia_fechamento")
    if day is not None and (isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31):
        problems.append('"dia_fechamento" deve ser um inteiro de 1 a 31 (31 vale o último dia dos meses curtos)')
    if document.get("ligacao") not in (None, *CONNECTIONS):
        problems.append(f'"ligacao" deve ser {", ".join(CONNECTIONS)}')
    if document.get("plano") not in (None, *plans):
        problems.append(f'"plano" deve ser um dos planos configurados: {", ".join(plans)}')
    if document.get("tarifa_social") is not None and not isinstance(document["tarifa_social"], bool):
        problems.append('"tarifa_social" deve ser true ou false')
    if problems:
        raise ParamError("; ".join(problems))
    return dict(document)


def _object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or 400."""
    if not raw.strip():
        raise ParamError(f"o corpo está vazio: envie um objeto JSON como {EXAMPLE}")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise ParamError(f"o corpo não é JSON válido: envie um objeto como {EXAMPLE}") from None
    if not isinstance(document, dict):
        raise ParamError(f"o corpo deve ser um objeto JSON como {EXAMPLE}")
    return document
