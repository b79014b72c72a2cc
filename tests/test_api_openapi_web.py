"""The OpenAPI description of the web routes: present, and its date pattern agrees with the parser."""

import re
from datetime import date, timedelta

from werkzeug.datastructures import MultiDict

from api import charts, openapi, openapi_web
from api.params import ParamError


def _accepted(raw: str) -> bool:
    try:
        charts.parse_span(MultiDict({"escala": "dia", "inicio": raw, "fim": raw}), date(2024, 1, 1))
    except ParamError:
        return False
    return True


def _date_texts():
    day = date(1999, 12, 25)
    while day <= date(2101, 3, 5):
        yield day.isoformat()
        yield day.strftime("%d/%m/%Y")
        day += timedelta(days=1)
    for year in (2024, 2400, 9996, 9997, 9998, 9999):
        for month in range(0, 14):
            for day_number in range(0, 33):
                yield f"{year}-{month:02d}-{day_number:02d}"
                yield f"{day_number:02d}/{month:02d}/{year}"
    yield from ("20/03/", "2024-3-20", "20/3/2024", " 2024-03-20", "")


def test_the_date_pattern_agrees_with_the_parser():
    for raw in _date_texts():
        assert (re.search(openapi_web.DATE_PATTERN, raw) is not None) == _accepted(raw), raw


def test_the_document_describes_the_web_routes_and_the_session():
    document = openapi.openapi_document()
    for path in ("/usuario/consumo/serie/", "/usuario/consumo/serie.csv", "/usuario/agora/", "/painel/", "/operador/", "/sair"):
        assert path in document["paths"]
    assert document["paths"]["/"]["post"]["responses"].keys() >= {"200", "303", "403"}
    assert document["components"]["securitySchemes"]["sessao"]["in"] == "cookie"
    assert document["paths"]["/usuario/"]["get"]["operationId"] == "cliente"  # the SPEC routes stay
