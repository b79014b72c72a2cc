"""Every kind of alert reads as a sentence on the customer page, with pt-BR figures."""

import pytest

from api.dashboard import ALERT_KINDS, alert_sentence, described
from core.rules import KINDS

FIGURES = {
    "projecao_excesso": {"projecao_kwh": 300.5, "limite_kwh": 250.0, "consumo_kwh": 51.8, "dias_decorridos": 5.0},
    "projecao_variacao": {"projecao_kwh": 210.0, "limite_kwh": 200.0, "consumo_anterior_kwh": 100.0},
    "consumo_diario": {"dia": "2026-11-20", "consumo_kwh": 18.2, "fator": 3.0, "mediana_kwh": 5.1},
    "potencia": {"inicio": "2026-11-20T10:10:00-03:00", "limite_kw": 8.0, "minutos": 15, "potencia_media_kw": 9.5},
    "silencio": {"silencio_minutos": 75.5, "ultima_leitura": "2026-11-20T09:00:00-03:00"},
}


def test_every_kind_has_a_title():
    assert set(ALERT_KINDS) == set(KINDS)


@pytest.mark.parametrize("tipo, expected", [
    ("projecao_excesso", "deve fechar com 300,500 kWh, acima do limite de 250,000 kWh (51,800 kWh em 5 dias)"),
    ("projecao_variacao", "a anterior teve 100,000 kWh"),
    ("consumo_diario", "Em 20/11/2026, o consumo chegou a 18,200 kWh, mais que 3 vezes a mediana"),
    ("potencia", "Desde 20/11/2026 10:10, a potência ficou acima de 8 kW por mais de 15 minutos (média de 9,5 kW)"),
    ("silencio", "há 75,5 minutos; a última foi de 20/11/2026 09:00"),
])
def test_early_warnings_read_as_sentences(tipo, expected):
    assert expected in alert_sentence(tipo, FIGURES[tipo])


def test_figures_of_an_unexpected_shape_are_listed_rather_than_failing():
    alert = described({"tipo": "potencia", "detalhes": {"outra": 1}, "estado": "aberto", "ano": None, "mes": None})
    assert alert["titulo"] == "Potência alta por muito tempo" and alert["descricao"] == "outra: 1"
