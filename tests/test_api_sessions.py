"""Signing in to the pages, the session cookie on JSON routes, and the anti-CSRF token.

Flask's test client on a real SQLite file: customer 1 (Ana) and customer 2 (Bruno), no readings.
"""

from __future__ import annotations

import re

import pytest

from api import create_app
from api.sessions import COOKIE_NAME
from tests.support.seeding import register_customer

ADMIN = "operator-token-for-tests"
NOW = 1_700_000_000_000


@pytest.fixture
def site(tmp_path, backend):
    """The app with two customers; yields (app, token of 1, token of 2)."""
    settings = backend.settings(tmp_path / "data", ENERGY_ADMIN_TOKEN=ADMIN)
    first = register_customer(settings, 1, "Ana Souza", "Rua A, 1", NOW)
    second = register_customer(settings, 2, "Bruno Lima", "Rua B, 2", NOW)
    app = create_app(settings)
    yield app, first, second
    app.extensions["energia"].database.dispose()


def signed_in(app, token: str, base_url: str = "http://localhost"):
    """A test client whose browser signed in with `token` through the form."""
    client = app.test_client()
    answer = client.post("/", data={"token": token}, base_url=base_url, headers={"Sec-Fetch-Site": "same-origin"})
    assert answer.status_code == 303, answer.data
    return client


def csrf_of(client) -> str:
    """The anti-CSRF token the signed-in page embeds."""
    page = client.get("/painel/", follow_redirects=True).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)


def test_the_sign_in_page_is_portuguese_html_and_opens_no_session(site):
    app, *_ = site
    client = app.test_client()
    answer = client.get("/")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert '<html lang="pt-BR">' in answer.get_data(as_text=True)
    assert 'name="token"' in answer.get_data(as_text=True)
    assert client.get_cookie(COOKIE_NAME) is None


def test_a_customer_token_opens_a_strict_httponly_session_on_their_page(site):
    app, ana, _ = site
    client = app.test_client()
    answer = client.post("/", data={"token": ana})
    assert answer.status_code == 303 and answer.headers["Location"] == "/painel/"
    cookie = client.get_cookie(COOKIE_NAME)
    assert cookie.http_only and cookie.same_site == "Strict" and not cookie.secure
    assert ana not in cookie.value  # the cookie holds the token's hash, never the token
    page = client.get("/painel/")
    assert page.status_code == 200 and "Ana Souza" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert client.get("/").headers["Location"] == "/painel/"


def test_the_cookie_is_secure_when_the_page_is_served_over_https(site):
    app, ana, _ = site
    client = signed_in(app, ana, base_url="https://localhost")
    assert client.get_cookie(COOKIE_NAME, domain="localhost").secure


def test_a_wrong_token_gets_the_form_back_with_a_message(site):
    app, *_ = site
    client = app.test_client()
    answer = client.post("/", data={"token": "not-a-token"})
    assert answer.status_code == 200 and "Token desconhecido" in answer.get_data(as_text=True)
    assert client.get_cookie(COOKIE_NAME) is None
    assert "Informe o token" in client.post("/", data={"token": "  "}).get_data(as_text=True)


def test_a_sign_in_posted_by_another_site_is_refused(site):
    app, ana, _ = site
    client = app.test_client()
    forged = client.post("/", data={"token": ana}, headers={"Sec-Fetch-Site": "cross-site"})
    assert forged.status_code == 403 and "erro" in forged.json
    old_browser = client.post("/", data={"token": ana}, headers={"Origin": "https://evil.example"})
    assert old_browser.status_code == 403
    assert client.get_cookie(COOKIE_NAME) is None


def test_the_session_reads_the_customers_own_json_in_the_spec_order(site):
    app, ana, _ = site
    client = signed_in(app, ana)
    assert client.get("/usuario/?id=1").json["nome"] == "Ana Souza"
    assert client.get("/usuario/?id=01").status_code == 400  # malformed before forbidden
    assert client.get("/usuario/?id=2").status_code == 403
    assert client.get("/usuario/?id=99").status_code == 403  # another id, even absent
    assert app.test_client().get("/usuario/?id=1").status_code == 401  # no cookie, no header


def test_a_bearer_header_is_judged_alone_even_with_a_session(site):
    app, ana, bruno = site
    client = signed_in(app, ana)
    assert client.get("/usuario/?id=1", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/usuario/?id=2", headers={"Authorization": f"Bearer {bruno}"}).status_code == 200


def test_the_operator_signs_in_with_the_admin_token_and_sees_every_customer(site):
    app, *_ = site
    client = app.test_client()
    answer = client.post("/", data={"token": ADMIN})
    assert answer.headers["Location"] == "/operador/"
    page = client.get("/operador/").get_data(as_text=True)
    assert "Ana Souza" in page and "Bruno Lima" in page
    assert "Bruno Lima" in client.get("/painel/?id=2").get_data(as_text=True)
    assert client.get("/usuario/?id=2").status_code == 200
    assert client.get("/painel/?id=99").status_code == 404
    assert client.get("/painel/").headers["Location"] == "/operador/"


def test_a_customer_may_not_open_the_operator_page_or_another_customer(site):
    app, ana, _ = site
    client = signed_in(app, ana)
    assert client.get("/operador/").status_code == 403
    assert client.get("/painel/?id=2").status_code == 403
    assert client.get("/painel/?id=1").status_code == 200


def test_pages_without_a_session_send_the_browser_to_the_sign_in(site):
    app, *_ = site
    client = app.test_client()
    for path in ("/painel/", "/operador/"):
        answer = client.get(path)
        assert answer.status_code == 303 and answer.headers["Location"] == "/"


def test_writes_with_the_cookie_need_the_sessions_anti_csrf_token(site):
    app, *_ = site
    client = signed_in(app, ADMIN)
    body = {"id": 3, "nome": "Carla Dias", "endereco": "Rua C, 3"}
    forged = client.post("/usuario/cadastro/", json=body)
    assert forged.status_code == 403 and "CSRF" in forged.json["erro"]
    wrong = client.post("/usuario/cadastro/", json=body, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    assert client.get("/usuario/?id=3").status_code == 404  # nothing was created
    token = csrf_of(client)
    assert client.post("/usuario/cadastro/", json=body, headers={"X-CSRF-Token": token}).status_code == 201
    assert client.delete("/usuario/delete/?id=3").status_code == 403
    assert client.delete("/usuario/delete/?id=3", headers={"X-CSRF-Token": token}).status_code == 200


def test_sign_out_needs_the_token_then_ends_the_session(site):
    app, ana, _ = site
    client = signed_in(app, ana)
    assert client.post("/sair").status_code == 403
    assert client.get("/usuario/?id=1").status_code == 200
    answer = client.post("/sair", data={"csrf_token": csrf_of(client)})
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    assert client.get_cookie(COOKIE_NAME) is None
    assert client.get("/usuario/?id=1").status_code == 401
    assert client.get("/painel/").headers["Location"] == "/"


def test_deleting_the_customer_ends_their_session(site):
    app, ana, _ = site
    client = signed_in(app, ana)
    removed = app.test_client().delete("/usuario/delete/?id=1", headers={"Authorization": f"Bearer {ADMIN}"})
    assert removed.status_code == 200
    gone = client.get("/usuario/?id=1")
    assert gone.status_code == 401 and "entre de novo" in gone.json["erro"]
    assert client.get("/painel/").headers["Location"] == "/"


def test_a_session_cookie_signed_with_another_key_is_nobodys(site, tmp_path, backend):
    app, ana, _ = site
    stolen = signed_in(app, ana).get_cookie(COOKIE_NAME).value
    other = create_app(backend.settings(tmp_path / "other", ENERGY_ADMIN_TOKEN=ADMIN))
    client = other.test_client()
    client.set_cookie(COOKIE_NAME, stolen)
    assert client.get("/usuario/?id=1").status_code == 401
    other.extensions["energia"].database.dispose()
