"""The OpenAPI description of the alert routes of issue 4, folded into `api.openapi`'s document.

Patterns come from `api.alert_params`, so the document and the checks agree.
"""

from __future__ import annotations

from typing import Any

from api import alert_params
from api.openapi import add_unique
from core.alert_settings import DISABLED, NUMBERS
from core.rules import KINDS, STATES

JSON = "application/json"
TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {**TIME, "nullable": True}


def _ref(name: str, kind: str = "schemas") -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Erro"), description)


PARAMETERS = {
    "tipo": {
        "name": "tipo", "in": "query", "required": False,
        "description": "Só alertas destes tipos, separados por vírgula (por exemplo potencia,consumo_diario)",
        "schema": {"type": "string", "pattern": alert_params.TIPO_PATTERN},
    },
    "desde": {
        "name": "desde", "in": "query", "required": False,
        "description": (
            "Só alertas criados a partir deste instante: AAAA-MM-DD (meia-noite local) ou AAAA-MM-DDTHH:MM[:SS] "
            "com fuso (Z, -03:00) ou sem (hora local)"
        ),
        "schema": {"type": "string", "pattern": alert_params.DESDE_PATTERN},
    },
    "alerta_id": {
        "name": "alerta_id", "in": "query", "required": True,
        "description": "O alerta (campo alerta_id da lista)",
        "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": alert_params.MAX_ALERT_ID},
    },
}

ALERT_FIELDS = {
    "tipo": {"type": "string", "enum": list(KINDS)},
    "estado": {"type": "string", "enum": list(STATES),
               "description": "aberto; reconhecido pelo cliente; encerrado quando a causa acabou"},
    "severidade": {"type": "string", "enum": ["aviso", "alerta"]},
    "publico": {"type": "string", "enum": ["cliente", "operador"]},
    "reconhecido_em": NULLABLE_TIME,
    "encerrado_em": NULLABLE_TIME,
}


def _thresholds(nullable: bool) -> dict[str, Any]:
    """The thresholds object: in force (every key), or the customer's own / a change (any key)."""
    properties: dict[str, Any] = {}
    for key, (_, low, high, whole) in NUMBERS.items():
        properties[key] = {"type": "integer" if whole else "number", "minimum": int(low) if whole else float(low),
                           "maximum": int(high) if whole else float(high)}
    properties[DISABLED] = {"type": "array", "items": {"type": "string", "enum": list(KINDS)}}
    if nullable:
        properties = {key: {**schema, "nullable": True} for key, schema in properties.items()}
        return {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": properties}
    return {"type": "object", "required": list(properties), "properties": properties}


SCHEMAS = {
    "ConfiguracaoAlertas": {
        "type": "object", "required": ["id", "configuracao", "personalizado"],
        "properties": {
            "id": {"type": "integer"},
            "configuracao": {**_thresholds(nullable=False), "description": "Os limites em vigor para o cliente"},
            "personalizado": {**_thresholds(nullable=False), "required": [], "description": "Os limites próprios do cliente"},
        },
    },
    "MudancaAlertas": {**_thresholds(nullable=True), "description": "Limites a mudar; null volta ao padrão",
                       "example": {"potencia_kw": 11, "desligados": ["consumo_diario"]}},
}

READ_ERRORS = {
    "400": _error("Parâmetro ausente ou malformado"),
    "401": _error("Sem token, ou token desconhecido"),
    "403": _error("O token não dá acesso a este cliente"),
    "404": _error("Cliente inexistente"),
    "default": _error("Outro erro (405, 413, 414, 503...)"),
}


def _paths() -> dict[str, Any]:
    return {
        "/usuario/alertas/": {"get": {
            "operationId": "alertas",
            "summary": "Todos os alertas do cliente, de todos os tipos, do mais antigo ao mais novo",
            "parameters": [_ref(name, "parameters") for name in ("id", "tipo", "estado", "desde")],
            "responses": {"200": _json(_ref("Alertas"), "Os alertas"), **READ_ERRORS},
        }},
        "/usuario/alerta/reconhecer/": {"post": {
            "operationId": "reconhecer_alerta",
            "summary": "O cliente viu o alerta: estado reconhecido (um alerta encerrado continua encerrado)",
            "parameters": [_ref(name, "parameters") for name in ("id", "alerta_id")],
            "responses": {
                "200": _json(_ref("Alerta"), "O alerta, reconhecido"),
                **READ_ERRORS,
                "404": _error("Cliente inexistente, ou o alerta não é desse cliente"),
            },
        }},
        "/usuario/alertas/configuracao/": {
            "get": {
                "operationId": "configuracao_alertas",
                "summary": "Os limites dos alertas em vigor para o cliente, e os próprios dele",
                "parameters": [_ref("id", "parameters")],
                "responses": {"200": _json(_ref("ConfiguracaoAlertas"), "Os limites"), **READ_ERRORS},
            },
            "patch": {
                "operationId": "configurar_alertas",
                "summary": "Muda os limites próprios do cliente (null volta um limite ao padrão)",
                "parameters": [_ref("id", "parameters")],
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("MudancaAlertas")}}},
                "responses": {"200": _json(_ref("ConfiguracaoAlertas"), "Os limites, mudados"), **READ_ERRORS},
            },
        },
    }


def extend(document: dict[str, Any]) -> dict[str, Any]:
    """Add the alert routes, their parameters and schemas, and the new alert fields."""
    components = document["components"]
    add_unique(components["parameters"], PARAMETERS, "parameters")
    add_unique(components["schemas"], SCHEMAS, "schemas")
    schemas = components["schemas"]
    schemas["Alerta"] = {**schemas["Alerta"], "properties": {**schemas["Alerta"]["properties"], **ALERT_FIELDS}}
    add_unique(document["paths"], _paths(), "paths")
    return document
