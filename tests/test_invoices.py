"""The printable invoice and the CSV export, through Flask's test client and through `python -m api`.

Customer 1 (America/Sao_Paulo, closing day 10) is on DOMAIN.md's worked example: TUSD 0.45 and
TE 0.35 without taxes, ICMS 18 % + PIS 1 % + COFINS 4.6 % (classic divisor 0.764), flag amarela
in May and June 2025, CIP 15.00, single phase. Its register, on the 10th of each month:

    2025-01-10      0 kWh  first reading
    2025-02-10    150      bill 02/2025: 150 kWh
    2025-03-10    300      bill 03/2025: 150 kWh
    2025-04-10    480      bill 04/2025: 180 kWh
    2025-05-10    600      bill 05/2025: 120 kWh
    2025-06-10    800      bill 06/2025: 200 kWh, R$ 229,35 (DOMAIN.md: TUSD 117,80, TE 91,62,
                           bandeira 4,93, CIP 15,00); due 20/06/2025
    2025-06-20    850      bill 07/2025 open: 50 kWh in 10 of its 30 days
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import requests

from api import create_app
from core.config import Settings
from core.db import make_engine, make_sessionmaker
from core.periods import to_ms
from core.wire import Reading as Wire
from core.wire import encode, topic_for
from ingest.store import Message, store_batch
from tests.test_api_server import start_api

ADMIN = "a" * 24
ZONE = ZoneInfo("America/Sao_Paulo")
CONFIG = """
[tariff]
default_plan = "residencial"
default_connection = "monofasico"
[[tariff.plans.residencial]]
valid_from = 2024-01-01
tusd = "0.45"
te = "0.35"
[[tariff.taxes]]
valid_from = 2024-01-01
icms = "0.18"
pis = "0.010"
cofins = "0.046"
[[tariff.flags]]
valid_from = 2024-04-01
amarela = "1.885"
[tariff.flag_months]
"2025-05" = "amarela"
"2025-06" = "amarela"
[[tariff.cip]]
valid_from = 2024-01-01
amount = "15.00"
"""


def local(*parts):
    return to_ms(datetime(*parts, tzinfo=ZONE))


READINGS = [(local(2025, 1, 10), 0), (local(2025, 2, 10), 150_000), (local(2025, 3, 10), 300_000),
            (local(2025, 4, 10), 480_000), (local(2025, 5, 10), 600_000), (local(2025, 6, 10), 800_000),
            (local(2025, 6, 20), 850_000)]


def settings_in(backend, folder) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "energy.toml").write_text(CONFIG)
    return backend.settings(folder / "data", ENERGY_CONFIG=folder / "energy.toml", ENERGY_ADMIN_TOKEN=ADMIN)


def store(settings, meter, readings):
    """Store readings as the worker would, one batch each, received a second later."""
    engine = make_engine(settings.db_url, immediate=True)
    sessions = make_sessionmaker(engine)
    for ts, wh in readings:
        with sessions.begin() as session:
            store_batch(session, [Message(topic_for(meter), encode(Wire(meter, ts, wh)), ts + 1000)], settings, ts + 1000)
    engine.dispose()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def site(tmp_path_factory, backend):
    settings = settings_in(backend, tmp_path_factory.mktemp("invoices"))
    app = create_app(settings, {"TESTING": True})
    client = app.test_client()
    tokens = {}
    for customer_id, nome in ((1, "Maria da Silva"), (2, "João")):
        answer = client.post("/usuario/cadastro/", headers=bearer(ADMIN),
                             json={"id": customer_id, "nome": nome, "endereco": "Rua das Flores, 123"})
        tokens[customer_id] = answer.json["token"]
    store(settings, 1, READINGS)
    yield SimpleNamespace(client=client, tokens=tokens)
    app.extensions["energia"].database.dispose()


def page(site, url, token=ADMIN):
    return site.client.get(url, headers=bearer(token))


def text_of(html):
    """The page's text without tags, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_invoice_page_is_the_worked_example_in_brazilian_portuguese(site):
    answer = page(site, "/fatura/1/2025-06", site.tokens[1])
    assert answer.status_code == 200
    assert answer.mimetype == "text/html" and answer.headers["Cache-Control"] == "no-store"
    html = answer.get_data(as_text=True)
    assert '<html lang="pt-BR">' in html and "<script" not in html
    text = text_of(html)
    for fragment in ("Maria da Silva", "Rua das Flores, 123", "Referência 06/2025", "Vencimento 20/06/2025",
                     "Total a pagar R$ 229,35", "Leitura anterior 10/05/2025 600,000",
                     "Leitura atual 10/06/2025 800,000", "10/05/2025 a 09/06/2025 (31 dias)",
                     "Consumo medido 200,000 kWh", "Ligação Monofásica",
                     "Consumo TUSD 200,000 0,58900524 R$ 117,80", "Consumo TE 200,000 0,45811518 R$ 91,62",
                     "Bandeira amarela 200,000 0,02467277 R$ 4,93",
                     "Contribuição de iluminação pública (CIP) R$ 15,00", "Total R$ 229,35",
                     # taxes contained in 214,35: 38,58 + 2,14 + 9,86 (DOMAIN.md), shown apart
                     "ICMS R$ 214,35 18% R$ 38,58", "PIS/PASEP R$ 214,35 1% R$ 2,14",
                     "COFINS R$ 214,35 4,6% R$ 9,86"):
        assert fragment in text, fragment


def test_the_history_chart_is_inline_svg_with_a_bar_per_month(site):
    html = page(site, "/fatura/1/2025-06").get_data(as_text=True)
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert svg.count("<rect") == 5
    labels = re.findall(r'class="rotulo"[^>]*>([^<]+)<', svg)
    values = re.findall(r'class="valor"[^>]*>([^<]+)<', svg)
    assert labels == ["FEV/25", "MAR/25", "ABR/25", "MAI/25", "JUN/25"]
    assert values == ["150", "150", "180", "120", "200"]
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([0-9.]+)"', svg)]
    assert heights[4] == max(heights) and heights[3] == min(heights)  # 200 is the tallest, 120 the shortest
    assert 'class="mes atual"' in svg  # this month's bar stands out


def test_the_print_stylesheet_and_the_icon_are_served(site):
    html = page(site, "/fatura/1/2025-06").get_data(as_text=True)
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', html).group(1)
    css = site.client.get(href)
    assert css.status_code == 200 and "@media print" in css.get_data(as_text=True)
    icon = re.search(r'<link rel="icon" href="([^"]+)"', html).group(1)  # else browsers ask for /favicon.ico: 404
    assert site.client.get(icon).status_code == 200


def test_an_open_invoice_shows_the_projection(site):
    text = text_of(page(site, "/fatura/1/2025-07").get_data(as_text=True))
    # 50 kWh in 10 of 30 days -> 150 kWh projected
    assert "Fatura em aberto" in text and "Projeção para o ciclo inteiro: 150,000 kWh" in text
    assert "Consumo medido 50,000 kWh" in text


@pytest.mark.parametrize("url, token, status", [
    ("/fatura/1/2025-06", None, 401),
    ("/fatura/1/2025-13", None, 401),  # no token comes before malformed
    ("/fatura/1/2025-13", ADMIN, 400),
    ("/fatura/01/2025-06", ADMIN, 400),
    ("/fatura/1/25-06", ADMIN, 400),
    ("/fatura/1/2025-06", "customer 2", 403),
    ("/fatura/9/2025-06", "customer 2", 403),  # a customer token never learns which ids exist
    ("/fatura/9/2025-06", ADMIN, 404),
    ("/fatura/1/2024-06", ADMIN, 404),  # before the first reading
    ("/fatura/2/2025-06", ADMIN, 404),  # no readings at all
    ("/faturas/1.csv", None, 401),
    ("/faturas/x.csv", ADMIN, 400),
    ("/faturas/1.csv", "customer 2", 403),
    ("/faturas/9.csv", ADMIN, 404),
])
def test_check_order_and_json_errors(site, url, token, status):
    if token == "customer 2":
        token = site.tokens[2]
    answer = site.client.get(url, headers=bearer(token) if token else {})
    assert answer.status_code == status
    assert answer.is_json and answer.json["erro"]


def test_the_csv_has_one_line_per_bill_with_the_json_figures(site):
    answer = page(site, "/faturas/1.csv", site.tokens[1])
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="faturas-1.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [(r["ano"], r["mes"], r["status"], r["consumo_kwh"]) for r in rows] == [
        ("2025", "2", "fechada", "150.000"), ("2025", "3", "fechada", "150.000"), ("2025", "4", "fechada", "180.000"),
        ("2025", "5", "fechada", "120.000"), ("2025", "6", "fechada", "200.000"), ("2025", "7", "aberta", "50.000")]
    june = rows[4]
    assert (june["valor"], june["icms"], june["pis"], june["cofins"]) == ("229.35", "38.58", "2.14", "9.86")
    assert (june["leitura_anterior_kwh"], june["leitura_atual_kwh"], june["vencimento"]) == (
        "600.000", "800.000", "2025-06-20")
    for row in rows:  # the same figures as the JSON route
        bill = page(site, f"/usuario/fatura/?id=1&mes={row['ano']}-{int(row['mes']):02d}").json
        assert row["valor"] == bill["valor"] and float(row["consumo_faturado_kwh"]) == bill["consumo_faturado_kwh"]


def test_a_customer_without_bills_gets_a_header_only_csv(site):
    answer = page(site, "/faturas/2.csv", site.tokens[2])
    assert answer.status_code == 200
    assert answer.get_data(as_text=True).splitlines() == [answer.get_data(as_text=True).splitlines()[0]]


def test_invoice_and_csv_through_the_real_server(procs, tmp_path, free_port, backend):
    settings = settings_in(backend, tmp_path)
    _, base = start_api(procs, tmp_path, free_port, ENERGY_ADMIN_TOKEN=ADMIN,
                        ENERGY_CONFIG=str(tmp_path / "energy.toml"))
    created = requests.post(f"{base}/usuario/cadastro/", headers=bearer(ADMIN), timeout=10,
                            json={"id": 1, "nome": "Maria da Silva", "endereco": "Rua das Flores, 123",
                                  "ligacao": "monofasico"})
    assert created.status_code == 201
    store(settings, 1, READINGS[4:6])  # 2025-05-10 600 kWh, 2025-06-10 800 kWh: bill 06/2025
    token = created.json()["token"]
    invoice = requests.get(f"{base}/fatura/1/2025-06", headers=bearer(token), timeout=10)
    assert invoice.status_code == 200 and invoice.headers["Content-Type"].startswith("text/html")
    assert "R$ 229,35" in invoice.text and '<html lang="pt-BR">' in invoice.text
    export = requests.get(f"{base}/faturas/1.csv", headers=bearer(token), timeout=10)
    assert export.status_code == 200 and export.headers["Content-Type"].startswith("text/csv")
    june, july = list(csv.DictReader(io.StringIO(export.text)))
    assert (june["mes"], june["status"], june["valor"]) == ("6", "fechada", "229.35")
    assert (july["mes"], july["status"], july["consumo_kwh"]) == ("7", "aberta", "0.000")
    assert requests.get(f"{base}/fatura/1/2025-06", timeout=10).status_code == 401
