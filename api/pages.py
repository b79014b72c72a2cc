"""The web pages (SPEC §5): for now the sign-in; the dashboard comes later."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from api import db
from api.auth import identify

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    """The sign-in page."""
    return render_template("index.html", message=None)


@bp.post("/")
def sign_in() -> str:
    """Check a token typed into the sign-in form; sessions arrive with the dashboard.

    The page always answers 200 with a message on it: HTTP errors of this API are JSON
    (SPEC §5), and a person at the form needs the page back, not a JSON error.
    """
    token = (request.form.get("token") or "").strip()
    if not token:
        return render_template("index.html", message="Informe o token de acesso.")
    principal = identify(db.session(), token, db.context().admin_token)
    if principal is None:
        return render_template("index.html", message="Token desconhecido: confira o token recebido no cadastro.")
    who = "administrador" if principal.is_admin else f"cliente {principal.customer_id}"
    return render_template("index.html", message=f"Token válido ({who}). O painel de consumo chega em breve.")
