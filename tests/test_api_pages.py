"""What the customer and operator pages show, rendered on the server, and their strict CSP.

Customer 7 has a year of a household's readings up to 14:55 on 2024-03-20 (see
tests/support/household.py): the southern summer's air conditioning raises `variacao` and
`excesso` alerts; one malformed payload sits in the rejected store.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from flask import jsonify

from api import create_app, formats
from core.periods import to_ms
from core.wire import topic_for
from tests.support import household
from tests.support.seeding import register_customer, store_payloads, store_readings

ADMIN = "operator-token-for-tests"
ZONE = ZoneInfo("America/Sao_Paulo")
END = to_ms(datetime(2024, 3, 20, 15, tzinfo=ZONE))
BEARER = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="module")
def settings(tmp_path_factory, backend):
    """Customer 7 with readings and one rejected payload; customer 8 without readings."""
    data = tmp_path_factory.mktemp("pages") / "data"
    settings = backend.settings(data, ENERGY_ADMIN_TOKEN=ADMIN)
    readings = household.readings(END, ZONE)
    register_customer(settings, 7, "Ana Souza", "Rua das Flores, 107", readings[0][0])
    register_customer(settings, 8, "Bruno Lima", "Rua B, 8", readings[0][0])
    store_readings(settings, 7, readings, END)
    store_payloads(settings, [(topic_for(7), b"garbage")], END)
    return settings


@pytest.fixture
def app(settings):
    app = create_app(settings)
    yield app
    app.extensions["energia"].database.dispose()


def page(app, path: str) -> str:
    answer = app.test_client().get(path, headers=BEARER)
    assert answer.status_code == 200, answer.data[:300]
    return answer.get_data(as_text=True)


def test_pages_have_no_inline_script_style_or_handler_so_the_csp_stays_strict(app):
    for path in ("/", "/painel/?id=7", "/painel/?id=8", "/operador/"):
        answer = app.test_client().get(path, headers=BEARER if path != "/" else {})
        html = answer.get_data(as_text=True)
        assert "'unsafe-inline'" not in answer.headers["Content-Security-Policy"]
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'")
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts and all(" src=" in tag for tag in scripts), scripts
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html)
        assert not re.search(r'(?:src|href)="(?:https?:)?//', html)  # nothing from another host


def test_the_customer_page_shows_the_open_bill_closed_bills_and_alerts(app):
    client = app.test_client()
    bill = client.get("/usuario/fatura/?id=7&mes=2024-04", headers=BEARER).json
    march = client.get("/usuario/fatura/?id=7&mes=2024-03", headers=BEARER).json
    html = page(app, "/painel/?id=7")
    assert bill["status"] == "aberta" and march["status"] == "fechada"
    assert formats.brl(bill["valor"]) in html and formats.brl(bill["projecao_valor"]) in html
    assert formats.kwh_text(bill["projecao_kwh"]) in html
    assert '<tr data-mes="2024-03">' in html and formats.brl(march["valor"]) in html
    excess = client.get("/usuario/alerta/excesso/?id=7", headers=BEARER).json["alertas"]
    variation = client.get("/usuario/alerta/variacao/?id=7", headers=BEARER).json["alertas"]
    assert excess and variation
    for alert in excess + variation:
        assert f'data-alerta="{alert["alerta_id"]}"' in html
    assert "Consumo excessivo" in html and "Grande variação da fatura" in html
    assert "Reconhecer" not in html or "/usuario/alerta/reconhecer/" in html


def test_the_customer_page_charts_carry_their_figures_in_tables(app):
    before = datetime.now(ZONE).isoformat()
    html = page(app, "/painel/?id=7")
    after = datetime.now(ZONE).isoformat()  # another month only if its first midnight passed meanwhile
    for scale in ("hora", "dia", "mes"):
        assert f'data-grafico="{scale}"' in html
    assert html.count("Tabela de valores") == 3
    rows = re.findall(r'<tr data-rotulo="([^"]+)" data-kwh="([0-9.]+)" data-medido="([01])" data-estimado="[01]">', html)
    assert len(rows) == 24 + 30 + 12  # today by hour, 30 days, 12 months (no DST in this zone now)
    assert rows[-1][0] in {formats.short_label("mes", before), formats.short_label("mes", after)}
    # Today is long after these readings: nothing measured, shown as "—" rather than as zero.
    assert {measured for *_, measured in rows} == {"0"} and "<td>—</td>" in html


def test_a_customer_without_readings_gets_a_page_that_says_so(app):
    html = page(app, "/painel/?id=8")
    assert "O medidor ainda não enviou leituras." in html
    assert "Nenhuma fatura fechada ainda." in html and "Nenhum alerta." in html


def test_invoice_links_and_acknowledge_buttons_appear_once_their_routes_exist(app, settings):
    html = page(app, "/painel/?id=7")
    if not app.url_map.bind("localhost").test("/fatura/7/2024-03"):
        assert "/fatura/7/" not in html
    app = create_app(settings)  # a fresh app, to add the two routes before its first request
    app.add_url_rule("/fatura/<int:customer>/<month>", "test_invoice", lambda customer, month: "")
    app.add_url_rule("/usuario/alerta/reconhecer/", "test_acknowledge", lambda: jsonify({}), methods=["POST"])
    try:
        html = page(app, "/painel/?id=7")
    finally:
        app.extensions["energia"].database.dispose()
    assert '<a href="/fatura/7/2024-03">Ver fatura de março de 2024</a>' in html
    assert 'data-reconhecer="/usuario/alerta/reconhecer/"' in html
    assert re.search(r'<button type="button" disabled data-reconhecer="\d+" data-cliente="7"', html)


def test_the_operator_page_lists_customers_states_alerts_and_rejected_readings(app):
    html = page(app, "/operador/")
    rows = dict(re.findall(r'<tr data-cliente="(\d+)">(.*?)</tr>', html, re.S))
    assert set(rows) == {"7", "8"}
    assert "20/03/2024 14:55" in rows["7"] and 'data-estado="silencioso"' in rows["7"]
    assert 'data-estado="sem_leituras"' in rows["8"]
    assert "Mensagem malformada" in html and "meters/7/reading" in html
    assert "Alertas abertos" in html and "Consumo excessivo" in html


@pytest.mark.parametrize("bad", ["4294967296", "0", "abc", "07"])
def test_a_malformed_id_on_the_customer_page_is_400_even_before_signing_in(app, bad):
    for headers in ({}, BEARER):
        answer = app.test_client().get(f"/painel/?id={bad}", headers=headers)
        assert answer.status_code == 400 and "erro" in answer.json
    assert app.test_client().get("/painel/?id=7").status_code == 303  # well formed, no session: sign in
