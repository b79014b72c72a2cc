"""Bearer tokens (SPEC §5): the admin token may do everything, a customer's token only its own data."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

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
    customer_id = session.scalar(select(Customer.id).where(Customer.token_hash == hash_token(token)))
    return None if customer_id is None else Principal(customer_id)


def authenticate(session: Session, header: str | None, admin_token: str) -> Principal:
    """The principal of a request, or 401."""
    token = bearer_token(header)
    if token is None:
        raise Unauthenticated(
            "envie o cabeçalho Authorization: Bearer <token> (o token do cliente vem do cadastro)"
        )
    principal = identify(session, token, admin_token)
    if principal is None:
        raise Unauthenticated("token desconhecido ou revogado: confira o token enviado em Authorization")
    return principal


def authorize_customer(principal: Principal, customer_id: int) -> None:
    """403 unless the principal may read this customer's data."""
    if not principal.is_admin and principal.customer_id != customer_id:
        raise Forbidden(f"este token só dá acesso aos dados do cliente {principal.customer_id}")


def require_admin(principal: Principal) -> None:
    """403 unless the principal is the administrator."""
    if not principal.is_admin:
        raise Forbidden("só o token de administrador pode cadastrar ou remover clientes")
