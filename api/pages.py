"""The web pages (SPEC §5): sign-in at `/`, the customer page, the operator page, sign-out.

`/` is the sign-in while no session is open; signing in with a customer's token opens that
customer's page (`/painel/`), with the admin token the operator page (`/operador/`), from which
every customer's page is one link away. Pages answer HTML; a refusal (403, 404) is the API's JSON
error like everywhere else (SPEC §5), and a page asked for without a session sends the browser
to the sign-in instead.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from api import access, auth, dashboard, db, formats, operator, params, sessions
from api.errors import Forbidden
from api.live import POLL_EVERY_S
from core.periods import now_ms

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)
for _name, _filter in formats.filters().items():
    bp.add_app_template_filter(_filter, _name)
for _name, _function in formats.template_globals().items():
    bp.add_app_template_global(_function, _name)

INVOICE_PATH = "/fatura/{id}/{ano:04d}-{mes:02d}"  # the printable invoice (billing's route)
ACKNOWLEDGE_PATH = "/usuario/alerta/reconhecer/"  # POST ?id=N&alerta_id=K (alerts' route)
NO_STORE = {"Cache-Control": "no-store"}  # pages with a customer's data stay out of every cache


@bp.app_context_processor
def _zone() -> dict[str, str]:
    """The configured zone's name, which every page states once."""
    return {"zone_name": db.context().settings.timezone}


def has_route(path: str, method: str = "GET") -> bool:
    """Whether this app answers `method path` (routes that other modules may or may not add)."""
    return current_app.url_map.bind("localhost").test(path, method)


def _signed_in() -> auth.Principal | None:
    """The principal of the session cookie; None without one, or once its token is gone."""
    token_hash = sessions.signed_in_hash()
    if token_hash is None:
        return None
    principal = auth.identify_hash(db.session(), token_hash, db.context().admin_token)
    if principal is None:
        sessions.close_session()
    return principal


def _page_principal() -> auth.Principal | None:
    """Who asks for a page: a bearer header when sent (401 if unknown), else the session."""
    if request.headers.get("Authorization") is not None:
        return access.principal()
    return _signed_in()


def _home(principal: auth.Principal) -> BaseResponse:
    """Where a signed-in person starts."""
    return redirect(url_for("pages.operador" if principal.is_admin else "pages.painel"), 303)


def _render(template: str, **context: Any) -> Response:
    """A page with the session's anti-CSRF token, never cached."""
    html = render_template(template, csrf_token=sessions.csrf_token(), **context)
    return Response(html, mimetype="text/html", headers=NO_STORE)


@bp.get("/")
def index() -> BaseResponse:
    """The sign-in page, or the signed-in person's own page."""
    principal = _signed_in()
    if principal is None:
        return _render("entrar.html", message=None)
    return _home(principal)


@bp.post("/")
def sign_in() -> BaseResponse:
    """Check the token typed (or brought by a `#token=` link) and open a session with it.

    A wrong token gets the page back with a message (200): a person at the form needs the
    page, not a JSON error. Only a sign-in posted by another site's page is refused (403).
    """
    if not sessions.same_origin():
        raise Forbidden("a entrada só aceita o formulário desta própria página")
    token = (request.form.get("token") or "").strip()
    if not token:
        return _render("entrar.html", message="Informe o token de acesso.")
    principal = auth.identify(db.session(), token, db.context().admin_token)
    if principal is None:
        return _render("entrar.html", message="Token desconhecido: confira o token recebido no cadastro.")
    sessions.open_session(token)
    log.info("signed in: %s", "operator" if principal.is_admin else f"customer {principal.customer_id}")
    return _home(principal)


@bp.post("/sair")
def sign_out() -> BaseResponse:
    """End the session and go back to the sign-in."""
    if sessions.signed_in_hash() is not None and not sessions.request_csrf_ok():
        raise Forbidden("pedido de saída sem o token anti-CSRF da sessão: use o botão Sair da página")
    sessions.close_session()
    return redirect(url_for("pages.index"), 303)


@bp.get("/painel/", strict_slashes=False)
def painel() -> BaseResponse:
    """A customer's page: their own, or for the operator any customer's (`?id=N`)."""
    wanted = params.customer_id(request.args) if "id" in request.args else None  # malformed: 400 first
    principal = _page_principal()
    if principal is None:
        return redirect(url_for("pages.index"), 303)
    if wanted is None and principal.is_admin:
        return redirect(url_for("pages.operador"), 303)
    customer_id = wanted if wanted is not None else principal.customer_id
    assert customer_id is not None
    customer = access.readable_customer(principal, customer_id)
    page = dashboard.customer_page(db.session(), customer, db.context().settings, now_ms())
    return _render(
        "painel.html", **page, operador=principal.is_admin, poll_s=POLL_EVERY_S,
        faturas=_invoice_links(customer.id, page["fechadas"]),
        reconhecer=ACKNOWLEDGE_PATH if has_route(ACKNOWLEDGE_PATH, "POST") else None,
    )


def _invoice_links(customer_id: int, bills: list[dict[str, Any]]) -> dict[str, str]:
    """The printable invoice of each closed bill, keyed `YYYY-MM`, when the app serves invoices."""
    links = {}
    for bill in bills:
        path = INVOICE_PATH.format(id=customer_id, ano=bill["ano"], mes=bill["mes"])
        if has_route(path):
            links[f"{bill['ano']:04d}-{bill['mes']:02d}"] = path
    return links


@bp.get("/operador/", strict_slashes=False)
def operador() -> BaseResponse:
    """The operator's page: every customer, open alerts, rejected and flagged readings."""
    principal = _page_principal()
    if principal is None:
        return redirect(url_for("pages.index"), 303)
    if not principal.is_admin:
        raise Forbidden("só o operador (token de administrador) vê esta página; a sua está em /painel/")
    page = operator.operator_page(db.session(), db.context().settings, now_ms())
    return _render("operador.html", **page,
                   reconhecer=ACKNOWLEDGE_PATH if has_route(ACKNOWLEDGE_PATH, "POST") else None)
