"""The OpenAPI description of the routes the web pages use: charts, CSV, live figures, pages.

Merged into api.openapi's document; the date pattern is the one `api.charts` accepts, so a
date the document calls valid is never answered 400 on its own (a span that runs backwards or
is longer than its scale allows is, and the descriptions say so).
"""

from __future__ import annotations

from typing import Any

from api import scales
from api.openapi import BR_DAY_MONTH, ISO_MONTH_DAY, LEAP_YEAR, add_unique
from api.sessions import COOKIE_NAME, CSRF_FIELD

JSON = "application/json"
HTML = {"text/html": {"schema": {"type": "string"}}}
YEAR = "(?:[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"  # 2000 to 9998 (the last leap year is 9996)
DATE_PATTERN = f"^(?:{YEAR}-{ISO_MONTH_DAY}|{LEAP_YEAR}-02-29|{BR_DAY_MONTH}/{YEAR}|29/02/{LEAP_YEAR})$"
SECURITY = [{"bearer": []}, {"sessao": []}]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref("Erro")}}}


ERRORS = {
    "400": _error("Parâmetro ausente ou malformado, ou período invertido ou longo demais"),
    "401": _error("Sem token nem sessão, ou token desconhecido"),
    "403": _error("O token não dá acesso a este cliente, ou escrita com sessão sem o token anti-CSRF"),
    "404": _error("Cliente inexistente"),
    "default": _error("Outro erro (405, 414, 503...)"),
}


def _query(name: str, description: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


SERIES_PARAMETERS = [
    {"$ref": "#/components/parameters/id"},
    _query("escala", "hora, dia ou mes", {"type": "string", "enum": list(scales.SCALES)}, required=True),
    _query("inicio", "Primeiro dia local (AAAA-MM-DD ou DD/MM/AAAA); sem ele, o padrão da escala",
           {"type": "string", "pattern": DATE_PATTERN}),
    _query("fim", f"Último dia local, incluído; sem ele, hoje. Por hora até {scales.MAX_DAYS[scales.HOUR]} dias, "
           f"por dia até {scales.MAX_DAYS[scales.DAY]}, por mês até {scales.MAX_MONTHS} meses",
           {"type": "string", "pattern": DATE_PATTERN}),
]

SCHEMAS: dict[str, Any] = {
    "Intervalo": {
        "type": "object", "required": ["inicio", "fim", "consumo_kwh", "medido", "estimado"],
        "properties": {
            "inicio": {"type": "string", "format": "date-time"},
            "fim": {"type": "string", "format": "date-time"},
            "consumo_kwh": {"type": "number"},
            "medido": {"type": "boolean", "description": "Falso quando o intervalo fica todo fora das leituras"},
            "estimado": {"type": "boolean",
                         "description": "Um dos extremos cai num intervalo sem leituras: a repartição é estimada"},
        },
    },
    "Serie": {
        "type": "object",
        "required": ["id", "escala", "de", "ate", "inicio", "fim", "consumo_kwh", "truncado", "intervalos"],
        "properties": {
            "id": {"type": "integer"},
            "escala": {"type": "string", "enum": list(scales.SCALES)},
            "de": {"type": "string", "format": "date"},
            "ate": {"type": "string", "format": "date"},
            "inicio": {"type": "string", "format": "date-time"},
            "fim": {"type": "string", "format": "date-time"},
            "consumo_kwh": {"type": "number"},
            "truncado": {"type": "boolean",
                         "description": "O período pedido passava do máximo: estes são os seus últimos dias"},
            "intervalos": {"type": "array", "items": _ref("Intervalo")},
        },
    },
    "Agora": {
        "allOf": [_ref("Cliente"), {
            "type": "object", "required": ["potencia_w", "estado", "agora"],
            "properties": {
                "potencia_w": {"type": "integer", "nullable": True, "description": "Média do último minuto de leituras"},
                "estado": {"type": "string", "enum": ["transmitindo", "silencioso", "sem_leituras"]},
                "agora": {"type": "string", "format": "date-time"},
                "atualizar_em_s": {"type": "integer"},
            },
        }],
    },
}


def _page(operation_id: str, summary: str) -> dict[str, Any]:
    return {"get": {
        "operationId": operation_id, "summary": summary, "security": [],
        "parameters": [{**_query("id", "Cliente (o operador escolhe; o cliente vê o seu)",
                                 {"type": "integer", "minimum": 1, "maximum": 2**32 - 1})}],
        "responses": {
            "200": {"description": "A página", "content": HTML},
            "303": {"description": "Sem sessão: vai para a entrada em /"},
            "400": ERRORS["400"], "401": ERRORS["401"], "403": ERRORS["403"], "404": ERRORS["404"],
        },
    }}


PATHS: dict[str, Any] = {
    "/usuario/consumo/serie/": {"get": {
        "operationId": "consumo_serie", "summary": "Consumo por hora, dia ou mês de um período (gráficos)",
        "security": SECURITY, "parameters": SERIES_PARAMETERS,
        "responses": {"200": {"description": "Os intervalos", "content": {JSON: {"schema": _ref("Serie")}}}, **ERRORS},
    }},
    "/usuario/consumo/serie.csv": {"get": {
        "operationId": "consumo_serie_csv", "summary": "Os mesmos intervalos em CSV (; e vírgula decimal)",
        "security": SECURITY, "parameters": SERIES_PARAMETERS,
        "responses": {"200": {"description": "Planilha: inicio;fim;consumo_kwh",
                              "content": {"text/csv": {"schema": {"type": "string"}}}}, **ERRORS},
    }},
    "/usuario/agora/": {"get": {
        "operationId": "agora", "summary": "Leitura atual, consumo acumulado e potência agora (painel ao vivo)",
        "security": SECURITY, "parameters": [{"$ref": "#/components/parameters/id"}],
        "responses": {"200": {"description": "Os números de agora", "content": {JSON: {"schema": _ref("Agora")}}},
                      **{code: ERRORS[code] for code in ("400", "401", "403", "404", "default")}},
    }},
    "/painel/": _page("painel", "A página do cliente (HTML)"),
    "/operador/": {"get": {
        "operationId": "operador", "summary": "A página do operador (HTML)", "security": [],
        "responses": {"200": {"description": "A página", "content": HTML},
                      "303": {"description": "Sem sessão: vai para a entrada em /"},
                      "401": ERRORS["401"], "403": _error("Só o operador vê esta página")},
    }},
    "/sair": {"post": {
        "operationId": "sair", "summary": "Encerra a sessão", "security": [],
        "requestBody": {"required": False, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "properties": {CSRF_FIELD: {"type": "string"}}}}}},
        "responses": {"303": {"description": "Sessão encerrada: vai para a entrada em /"},
                      "403": _error("Pedido sem o token anti-CSRF da sessão")},
    }},
}

SIGN_IN = {
    "operationId": "entrar", "summary": "Entra com um token (abre a sessão)", "security": [],
    "requestBody": {"required": False, "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "properties": {"token": {"type": "string"}}}}}},
    "responses": {
        "200": {"description": "A página de entrada, com o motivo de não ter entrado", "content": HTML},
        "303": {"description": "Sessão aberta: vai para /painel/ (cliente) ou /operador/ (operador)"},
        "403": _error("Formulário enviado por outro site"),
    },
}

SECURITY_SCHEMES = {"sessao": {"type": "apiKey", "in": "cookie", "name": COOKIE_NAME,
                               "description": "A sessão aberta em / (escritas pedem também X-CSRF-Token)"}}


def extend(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the web routes, their schemas and the session scheme."""
    add_unique(document["paths"], PATHS, "paths")
    document["paths"]["/"]["post"] = SIGN_IN
    add_unique(document["components"]["schemas"], SCHEMAS, "schemas")
    add_unique(document["components"]["securitySchemes"], SECURITY_SCHEMES, "security schemes")
    return document
