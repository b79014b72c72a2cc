"""A customer's billing terms at cadastro and through `/usuario/configuracao/`, on a real SQLite file.

The config names two plans (the SPEC's `padrao` at 0.65 and `residencial` at 0.80), no default
connection type (so the SPEC `minimum_kwh`, 0, applies) and closing day 10; zone America/Sao_Paulo.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from api import create_app
from core.periods import to_ms
from tests.test_invoices import bearer, store

ADMIN = "c" * 24
ZONE = ZoneInfo("America/Sao_Paulo")
CONFIG = '[[tariff.plans.residencial]]\nvalid_from = 2024-01-01\nprice_per_kwh = "0.80"\n'
BODY = {"id": 5, "nome": "vitor", "endereco": "rua c"}


def local(*parts):
    return to_ms(datetime(*parts, tzinfo=ZONE))


@pytest.fixture
def app(tmp_path, backend):
    (tmp_path / "energy.toml").write_text(CONFIG)
    settings = backend.settings(tmp_path / "data", ENERGY_ADMIN_TOKEN=ADMIN, ENERGY_CONFIG=tmp_path / "energy.toml")
    flask_app = create_app(settings, {"TESTING": True})
    yield SimpleNamespace(client=flask_app.test_client(), settings=settings)
    flask_app.extensions["energia"].database.dispose()


def cadastro(app, **extras):
    return app.client.post("/usuario/cadastro/", json={**BODY, **extras}, headers=bearer(ADMIN))


def terms(app, token=ADMIN, customer=5):
    return app.client.get(f"/usuario/configuracao/?id={customer}", headers=bearer(token))


def patch(app, body, token=ADMIN, customer=5):
    return app.client.patch(f"/usuario/configuracao/?id={customer}", json=body, headers=bearer(token))


def test_defaults_come_from_the_config(app):
    token = cadastro(app).json["token"]
    assert terms(app, token).json == {"id": 5, "dia_fechamento": 10, "ligacao": None, "plano": "padrao",
                                      "tarifa_social": False, "consumo_minimo_kwh": 0.0, "proprios": []}


def test_terms_can_be_set_at_cadastro(app):
    answer = cadastro(app, dia_fechamento=31, ligacao="trifasico", plano="residencial", tarifa_social=True)
    assert answer.status_code == 201
    assert terms(app).json == {"id": 5, "dia_fechamento": 31, "ligacao": "trifasico", "plano": "residencial",
                               "tarifa_social": True, "consumo_minimo_kwh": 100.0,
                               "proprios": ["dia_fechamento", "ligacao", "plano", "tarifa_social"]}


@pytest.mark.parametrize("extras", [{"dia_fechamento": 0}, {"dia_fechamento": "10"}, {"ligacao": "trifásico"},
                                    {"plano": "branca"}, {"tarifa_social": 1}])
def test_bad_terms_at_cadastro_are_400_and_register_nothing(app, extras):
    answer = cadastro(app, **extras)
    assert answer.status_code == 400 and answer.json["erro"]
    assert terms(app).status_code == 404


def test_other_extra_keys_at_cadastro_are_still_ignored(app):
    assert cadastro(app, apelido="vi").status_code == 201


def test_patch_changes_some_terms_and_null_restores_the_default(app):
    cadastro(app)
    answer = patch(app, {"plano": "residencial", "ligacao": "bifasico"})
    assert answer.status_code == 200
    assert (answer.json["plano"], answer.json["ligacao"], answer.json["consumo_minimo_kwh"]) == ("residencial", "bifasico", 50.0)
    answer = patch(app, {"ligacao": None, "dia_fechamento": 20})
    assert (answer.json["ligacao"], answer.json["dia_fechamento"], answer.json["plano"]) == (None, 20, "residencial")
    assert answer.json["proprios"] == ["dia_fechamento", "plano"]


@pytest.mark.parametrize("body", [{}, {"cor": "azul"}, {"dia_fechamento": 32}, {"ligacao": 3}, [], "x"])
def test_patch_refuses_bad_bodies(app, body):
    cadastro(app)
    answer = patch(app, body)
    assert answer.status_code == 400 and answer.json["erro"]


def test_patch_check_order(app):
    token = cadastro(app).json["token"]
    assert app.client.patch("/usuario/configuracao/?id=5", json={"plano": "x"}).status_code == 401
    assert patch(app, {"plano": "nenhum"}, token).status_code == 400  # malformed before forbidden
    assert patch(app, {"plano": "residencial"}, token).status_code == 403  # only the admin changes terms
    assert patch(app, {"plano": "residencial"}, customer=6).status_code == 404
    assert terms(app, token, customer=6).status_code == 403
    assert terms(app, token).status_code == 200


def test_a_new_closing_day_reaches_the_open_bill_and_never_a_closed_one(app):
    # 10 kWh a day from 2024-01-10 to 03-14: bills 02 (31 days, 310 kWh, 201.50) and 03 (29 days,
    # 290 kWh, 188.50) close; then the closing day moves to 20, so the open bill 04 runs [03-10, 04-20).
    cadastro(app)
    store(app.settings, 5, [(local(2024, 1, 10) + day * 86_400_000, day * 10_000) for day in range(65)])
    before = [app.client.get(f"/usuario/fatura/?id=5&mes=2024-0{m}", headers=bearer(ADMIN)).json for m in (2, 3)]
    assert [(b["status"], b["consumo_kwh"], b["valor"]) for b in before] == [
        ("fechada", 310.0, "201.50"), ("fechada", 290.0, "188.50")]
    assert patch(app, {"dia_fechamento": 20, "plano": "residencial"}).status_code == 200
    after = [app.client.get(f"/usuario/fatura/?id=5&mes=2024-0{m}", headers=bearer(ADMIN)).json for m in (2, 3)]
    assert after == before
    april = app.client.get("/usuario/fatura/?id=5&mes=2024-04", headers=bearer(ADMIN)).json
    assert (april["status"], april["inicio"], april["fim"]) == (
        "aberta", "2024-03-10T00:00:00-03:00", "2024-04-20T00:00:00-03:00")
    # From 03-10 (day 60, 600 kWh) to the latest reading, 03-14 (day 64, 640 kWh): 40 kWh, priced
    # with the plan chosen now (the open cycle's), 0.80: 32.00
    assert (april["consumo_kwh"], april["valor"]) == (40.0, "32.00")
