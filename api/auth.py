"""Who asks (SPEC §5): the admin token may do everything, a customer's token only its own data.

A request proves it with `Authorization: Bearer <token>`, or, from the web pages, with the
signed session cookie opened by signing in (api.sessions). The header, when present, is the
only proof looked at. Either way the SPEC's order holds: nobody known 401, then the route's
own 400, 403 and 404; a cookie-authenticated request that changes anything without the
session's anti-CSRF token is refused 403 before any of its input is read.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from flask import has_request_context, request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from api import sessions
from api.errors import Forbidden, Unauthenticated
from core.models import Customer
from core.tokens import hash_token, same_token


@dataclass(frozen=True)
class Principal:
    """Who is asking: the administrator (`customer_id` None) or one customer."""

    customer_id: int | None

    @property
    def is_admin(self) -> bool:
        """True for the admin token."""
        return self.customer_id is None


ADMIN = Principal(None)


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def identify(session: Session, token: str, admin_token: str) -> Principal | None:
    """The principal a token belongs to, or None. Customer tokens are looked up by their hash."""
    if same_token(token, admin_token):
        return ADMIN
    return _customer_principal(session, hash_token(token))


def identify_hash(session: Session, token_hash: str, admin_token: str) -> Principal | None:
    """The principal whose token has this SHA-256 (a session's), or None."""
    if hmac.compare_digest(token_hash.encode(), hash_token(admin_token).encode()):
        return ADMIN
    return _customer_principal(session, token_hash)


# Built once, over the table's columns: composing a statement costs about as much as SQLite
# running it, and an ORM entity's load twice a plain column's. Routes that need the customer's
# row read it by its key (`api.access`); most answer from the id alone.
_BY_TOKEN = select(Customer.__table__.c.id).where(Customer.__table__.c.token_hash == bindparam("token_hash"))


def _customer_principal(session: Session, token_hash: str) -> Principal | None:
    """The customer whose token has this hash, as a principal."""
    customer_id = session.scalar(_BY_TOKEN, {"token_hash": token_hash})
    return None if customer_id is None else Principal(customer_id)


def authenticate(session: Session, header: str | None, admin_token: str) -> Principal:
    """The principal of a request: its bearer token, else its session cookie; or 401."""
    if header is None and has_request_context() and sessions.signed_in_hash() is not None:
        return _from_cookie(session, admin_token)
    token = bearer_token(header)
    if token is None:
        raise Unauthenticated(
            "envie o cabeçalho Authorization: Bearer <token> (o token do cliente vem do cadastro)"
        )
    principal = identify(session, token, admin_token)
    if principal is None:
        raise Unauthenticated("token desconhecido ou revogado: confira o token enviado em Authorization")
    return principal


def _from_cookie(session: Session, admin_token: str) -> Principal:
    """The principal of the session cookie; 401 once its token is gone, 403 on a forged write."""
    principal = identify_hash(session, sessions.signed_in_hash() or "", admin_token)
    if principal is None:
        sessions.close_session()
        raise Unauthenticated("a sessão terminou (o token mudou ou o cliente foi removido): entre de novo em /")
    if request.method not in sessions.SAFE_METHODS and not sessions.request_csrf_ok():
        raise Forbidden(
            f"pedido sem o token anti-CSRF da sessão: envie o cabeçalho {sessions.CSRF_HEADER} "
            "com o valor que a página recebeu (ou use Authorization: Bearer)"
        )
    return principal


def authorize_customer(principal: Principal, customer_id: int) -> None:
    """403 unless the principal may read this customer's data."""
    if not principal.is_admin and principal.customer_id != customer_id:
        raise Forbidden(f"este token só dá acesso aos dados do cliente {principal.customer_id}")


def require_admin(principal: Principal) -> None:
    """403 unless the principal is the administrator."""
    if not principal.is_admin:
        raise Forbidden("só o token de administrador pode cadastrar ou remover clientes")
