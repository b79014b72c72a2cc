"""The OpenAPI 3.0 description of the API, served at `/openapi.json`.

Parameter patterns and limits come from `api.params`, so the document and the checks agree:
what the document calls valid is never answered 400, and what it calls invalid always is.
OpenAPI 3.0 rather than 3.1 because its schema dialect, like SPEC §5, does not count `3.0` as
an integer: the cadastro `id` must be written `3`.
"""

from __future__ import annotations

from typing import Any, Sequence

from api import params
from core.intervals import GAP_MS
from core.review import FLAG_KEY_PATTERN
from core.tariffs import BASE_PLAN

JSON = "application/json"

YEAR = "[2-9][0-9]{3}"
LEAP_YEAR = "(?:[2-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[3579][26])00)"
ISO_MONTH_DAY = "(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
BR_DAY_MONTH = "(?:(?:0[1-9]|1[0-9]|2[0-8])/(?:0[1-9]|1[0-2])|(?:29|30)/(?:0[13-9]|1[0-2])|31/(?:0[13578]|1[02]))"
DATA_PATTERN = (
    f"^(?:{YEAR}-{ISO_MONTH_DAY}|{LEAP_YEAR}-02-29|{BR_DAY_MONTH}/(?:{YEAR})?|29/02/(?:{LEAP_YEAR})?)$"
)
MES_PATTERN = f"^(?:0?[1-9]|1[0-2]|{YEAR}-(?:0[1-9]|1[0-2]))$"
HORARIO_PATTERN = "^(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9])?$"
ESTADO_PATTERN = "^[a-z_]{1,16}$"
MONEY_PATTERN = r"^-?[0-9]+\.[0-9]{2}$"
MONTH_PATH_PATTERN = f"^{YEAR}-(?:0[1-9]|1[0-2])$"
CONNECTIONS = ["monofasico", "bifasico", "trifasico"]

NULLABLE_TIME = {"type": "string", "format": "date-time", "nullable": True}
TIME = {"type": "string", "format": "date-time"}


def add_unique(target: dict[str, Any], extra: dict[str, Any], what: str) -> None:
    """Add the entries of `extra` to a part of the document; a name already there is a bug
    (two modules describing different things under one name), never silently overwritten."""
    clash = set(target) & set(extra)
    if clash:
        raise ValueError(f"the OpenAPI {what} {sorted(clash)} are described twice")
    target.update(extra)


def _ref(name: str) -> dict[str, str]:
    """A reference to a schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def _param(name: str) -> dict[str, str]:
    """A reference to a parameter."""
    return {"$ref": f"#/components/parameters/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A JSON response."""
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    """An error response."""
    return _json(_ref("Erro"), description)


READ_ERRORS = {
    "400": _error("Parâmetro ausente ou malformado"),
    "401": _error("Sem token, ou token desconhecido"),
    "403": _error("O token não dá acesso a este cliente"),
    "404": _error("Cliente (ou fatura) inexistente"),
    "default": _error("Outro erro (405, 413, 414, 503...)"),
}


ADMIN_ERRORS = {
    "400": _error("Parâmetro malformado"),
    "401": _error("Sem token, ou token desconhecido"),
    "403": _error("Só o administrador vê esta lista"),
    "default": _error("Outro erro (405, 414, 503...)"),
}


def _query_parameter(name: str, description: str, schema: dict[str, Any], required: bool = False,
                     example: Any = None) -> dict[str, Any]:
    """A query parameter with a valid example (tests fill every route's parameters from them):
    its own, or the one its name usually takes."""
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema,
            "example": EXAMPLES[name] if example is None else example}


EXAMPLES: dict[str, Any] = {
    "id": 7, "mes": "03", "ano": 2024, "data": "2024-03-01", "horario": "12:00:", "limite": 100,
    "apos": 1709305200000, "estado": "aberto", "motivo": "malformed", "tipo": "jump", "medidor": 7,
}


PARAMETERS = {
    "id": _query_parameter("id", "Id do cliente (o id do medidor), em decimal sem zeros à esquerda",
                           {"type": "integer", "minimum": 1, "maximum": params.MAX_ID}, required=True),
    "mes": _query_parameter("mes", "Mês da fatura: MM (1 a 12) ou AAAA-MM",
                            {"type": "string", "pattern": MES_PATTERN}, required=True),
    "ano": _query_parameter("ano", "Ano da fatura; sem ele, o ano mais recente com fatura desse mês",
                            {"type": "integer", "minimum": params.MIN_YEAR, "maximum": params.MAX_YEAR}),
    "data": _query_parameter("data", "AAAA-MM-DD, DD/MM/AAAA, ou DD/MM/ (esse dia em todos os anos com dados, somados)",
                             {"type": "string", "pattern": DATA_PATTERN}, required=True),
    "horario": _query_parameter("horario", "HH:MM:SS (esse segundo) ou HH:MM: (esse minuto), hora local",
                                {"type": "string", "pattern": HORARIO_PATTERN}, required=True),
    "limite": _query_parameter("limite", f"Leituras por página (padrão {params.DEFAULT_LIMIT})",
                               {"type": "integer", "minimum": 1, "maximum": params.MAX_LIMIT}),
    "apos": _query_parameter("apos", "Cursor da página seguinte, como vem no link `proxima`",
                             {"type": "integer", "format": "int64", "minimum": params.MIN_CURSOR, "maximum": params.MAX_CURSOR}),
    "estado": _query_parameter("estado", "Só os alertas nesse estado (por exemplo aberto)",
                               {"type": "string", "pattern": ESTADO_PATTERN}),
    "id_caminho": {"name": "id", "in": "path", "required": True, "description": "Id do cliente",
                   "schema": {"type": "integer", "minimum": 1, "maximum": params.MAX_ID},
                   "example": EXAMPLES["id"]},
    "mes_caminho": {"name": "mes", "in": "path", "required": True, "description": "Mês da fatura, AAAA-MM",
                    "schema": {"type": "string", "pattern": MONTH_PATH_PATTERN},
                    "example": f"{EXAMPLES['ano']}-{EXAMPLES['mes']}"},
    "motivo": _query_parameter("motivo", "Só as rejeitadas por esse motivo (malformed, conflict, future_timestamp...)",
                               {"type": "string", "pattern": params.REASON_PATTERN}),
    "tipo_sinalizada": _query_parameter("tipo", "Só as sinalizadas desse tipo (jump, reset, replacement)",
                             {"type": "string", "pattern": params.KIND_PATTERN}),
    "medidor": _query_parameter("medidor", "Só as leituras desse medidor",
                                {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}),
    "limite_admin": _query_parameter("limite", f"Itens por página (padrão {params.ADMIN_DEFAULT_LIMIT})",
                                     {"type": "integer", "minimum": 1, "maximum": params.ADMIN_MAX_LIMIT}),
    "apos_rejeitadas": _query_parameter("apos", "Cursor da página seguinte, como vem no link `proxima`",
                                        {"type": "integer", "format": "int64", "minimum": 1, "maximum": params.MAX_ROW_ID}),
    "apos_sinalizadas": _query_parameter("apos", "Cursor da página seguinte, como vem no link `proxima`",
                                         {"type": "string", "pattern": FLAG_KEY_PATTERN},
                                         example=f"{EXAMPLES['apos']}:{EXAMPLES['medidor']}:jump"),
}

SCHEMAS: dict[str, Any] = {
    "Erro": {"type": "object", "required": ["erro"], "properties": {"erro": {"type": "string"}}},
    "Cliente": {
        "type": "object",
        "required": ["id", "nome", "endereco", "consumo_total_kwh", "leitura_atual_kwh", "ultima_leitura"],
        "properties": {
            "id": {"type": "integer"},
            "nome": {"type": "string"},
            "endereco": {"type": "string"},
            "consumo_total_kwh": {"type": "number", "description": "Energia medida desde a primeira leitura"},
            "leitura_atual_kwh": {"type": "number", "nullable": True, "description": "Valor do registrador na última leitura"},
            "ultima_leitura": NULLABLE_TIME,
            "primeira_leitura": NULLABLE_TIME,
            "total_leituras": {"type": "integer", "description": "Leituras guardadas (as que as páginas de consumo listam)"},
            "leituras_resumidas": {"type": "integer",
                                   "description": "Leituras que a retenção removeu (ficam a primeira e a última de cada 15 minutos)"},
            "cadastrado_em": TIME,
        },
    },
    "NovoCliente": {
        "type": "object",
        "required": ["id", "nome", "endereco"],
        "example": {"id": 3, "nome": "vitor", "endereco": "rua c"},
        "properties": {
            "id": {"type": "integer", "minimum": 1, "maximum": params.MAX_ID},
            "nome": {"type": "string", "minLength": 1, "maxLength": params.MAX_TEXT, "pattern": params.TEXT_PATTERN},
            "endereco": {"type": "string", "minLength": 1, "maxLength": params.MAX_TEXT, "pattern": params.TEXT_PATTERN},
        },
    },
    "ClienteCadastrado": {
        "allOf": [_ref("Cliente"), {
            "type": "object", "required": ["token"],
            "properties": {"token": {"type": "string", "description": "Token do cliente; mostrado só agora"}},
        }],
    },
    "NovoToken": {
        "type": "object", "required": ["id", "token"],
        "properties": {
            "id": {"type": "integer"},
            "token": {"type": "string", "description": "O novo token; mostrado só agora. O anterior deixa de valer."},
        },
    },
    "Remocao": {
        "type": "object", "required": ["id", "removido"],
        "properties": {"id": {"type": "integer"}, "removido": {"type": "boolean"}},
    },
    "Leitura": {
        "type": "object", "required": ["ts", "kwh"],
        "properties": {"ts": TIME, "kwh": {"type": "number", "description": "Registrador, em kWh"}},
    },
    "Periodo": {
        "type": "object", "required": ["inicio", "fim"],
        "properties": {"inicio": NULLABLE_TIME, "fim": NULLABLE_TIME},
    },
    "Consumo": {
        "type": "object",
        "required": ["id", "consumo_kwh", "total_leituras", "leituras", "proxima"],
        "properties": {
            "id": {"type": "integer"},
            "consumo_kwh": {"type": "number"},
            "total_leituras": {"type": "integer", "description": "Leituras do período, em todas as páginas"},
            "leituras": {"type": "array", "items": _ref("Leitura")},
            "proxima": {"type": "string", "nullable": True, "description": "URL da página seguinte"},
            "data": {"type": "string"},
            "horario": {"type": "string"},
            "periodos": {"type": "array", "items": _ref("Periodo")},
        },
    },
    "Hora": {
        "type": "object",
        "required": ["inicio", "fim", "consumo_kwh", "estimado", "leituras"],
        "properties": {
            "inicio": TIME,
            "fim": TIME,
            "consumo_kwh": {"type": "number"},
            "estimado": {"type": "boolean", "description": (
                f"Parte da hora cai numa lacuna: duas leituras seguidas a mais de {GAP_MS // 60_000} minutos; "
                "a energia da lacuna é exata, sua divisão pelas horas é estimada (linear)")},
            "leituras": {"type": "integer", "description": "Leituras dentro da hora"},
        },
    },
    "ConsumoHoras": {
        "type": "object",
        "required": ["id", "data", "consumo_kwh", "total_leituras", "estimado", "horas"],
        "properties": {
            "id": {"type": "integer"},
            "data": {"type": "string"},
            "consumo_kwh": {"type": "number", "description": "O consumo do dia, a soma exata das horas"},
            "total_leituras": {"type": "integer", "description": "Leituras recebidas no dia, também as já resumidas pela retenção"},
            "estimado": {"type": "boolean", "description": "Alguma hora é estimada"},
            "lacuna_minutos": {"type": "integer"},
            "horas": {"type": "array", "items": _ref("Hora")},
            "periodos": {"type": "array", "items": _ref("Periodo")},
        },
    },
    "Rejeitada": {
        "type": "object",
        "required": ["id", "recebido_em", "topico", "motivo", "detalhe", "medidor", "payload_hex"],
        "properties": {
            "id": {"type": "integer"},
            "recebido_em": TIME,
            "topico": {"type": "string"},
            "motivo": {"type": "string"},
            "detalhe": {"type": "string"},
            "medidor": {"type": "integer", "nullable": True},
            "payload_hex": {"type": "string", "description": "O payload como chegou (até 1 KiB), em hexadecimal"},
        },
    },
    "Rejeitadas": {
        "type": "object", "required": ["total", "rejeitadas", "proxima"],
        "properties": {
            "total": {"type": "integer"},
            "rejeitadas": {"type": "array", "items": _ref("Rejeitada")},
            "proxima": {"type": "string", "nullable": True},
        },
    },
    "Sinalizada": {
        "type": "object",
        "required": ["medidor", "tipo", "ts", "kwh", "anterior", "potencia_kw", "consumo_contado_kwh", "ajuste_kwh",
                     "sinalizado_em"],
        "properties": {
            "medidor": {"type": "integer"},
            "tipo": {"type": "string", "description": "jump (potência acima do limite), reset ou replacement"},
            "ts": TIME,
            "kwh": {"type": "number"},
            "anterior": _ref("Leitura"),
            "potencia_kw": {"type": "number"},
            "consumo_contado_kwh": {"type": "number", "description": "O que o passo soma ao consumo"},
            "ajuste_kwh": {"type": "number"},
            "sinalizado_em": TIME,
        },
    },
    "Sinalizadas": {
        "type": "object", "required": ["total", "sinalizadas", "proxima"],
        "properties": {
            "total": {"type": "integer"},
            "sinalizadas": {"type": "array", "items": _ref("Sinalizada")},
            "proxima": {"type": "string", "nullable": True},
        },
    },
    "Item": {
        "type": "object", "required": ["descricao", "valor"],
        "properties": {
            "descricao": {"type": "string"},
            "valor": {"type": "string", "pattern": MONEY_PATTERN},
            "quantidade_kwh": {"type": "number", "description": "Só nos itens cobrados por kWh"},
            "tarifa": {"type": "string", "description": "R$/kWh com tributos, 8 casas decimais"},
        },
    },
    "Tributos": {
        "type": "object", "nullable": True, "required": ["base", "icms", "pis", "cofins"],
        "description": "Quanto de cada tributo os itens já contêm (informativo: não são itens)",
        "properties": {
            "base": {"type": "string", "pattern": MONEY_PATTERN},
            "icms": {"type": "string", "pattern": MONEY_PATTERN},
            "pis": {"type": "string", "pattern": MONEY_PATTERN},
            "cofins": {"type": "string", "pattern": MONEY_PATTERN},
            "aliquotas": {"type": "object"},
        },
    },
    "LeituraDaFatura": {
        "type": "object", "required": ["em", "kwh"],
        "properties": {"em": TIME, "kwh": {"type": "number"}, "leituras": {"type": "array", "items": _ref("Leitura")}},
    },
    "Fatura": {
        "type": "object",
        "required": ["id", "ano", "mes", "inicio", "fim", "consumo_kwh", "consumo_faturado_kwh", "valor", "status", "itens"],
        "properties": {
            "id": {"type": "integer"},
            "ano": {"type": "integer"},
            "mes": {"type": "integer", "minimum": 1, "maximum": 12},
            "inicio": TIME,
            "fim": TIME,
            "status": {"type": "string", "enum": ["aberta", "fechada"]},
            "consumo_kwh": {"type": "number"},
            "consumo_faturado_kwh": {"type": "number"},
            "valor": {"type": "string", "pattern": MONEY_PATTERN},
            "itens": {"type": "array", "items": _ref("Item")},
            "leitura_anterior_kwh": {"type": "number"},
            "leitura_atual_kwh": {"type": "number"},
            "revisao": {"type": "boolean"},
            "fechada_em": TIME,
            "projecao_kwh": {"type": "number", "description": "Só na fatura aberta"},
            "projecao_valor": {"type": "string", "pattern": MONEY_PATTERN},
            "vencimento": {"type": "string", "format": "date"},
            "ajuste_kwh": {"type": "number", "description": "Energia que a fatura anterior, já fechada, deixou de cobrar"},
            "tributos": _ref("Tributos"),
            "tarifa": {"type": "object", "description": "Plano e versões de tarifa usados"},
            "ligacao": {"type": "string", "nullable": True},
            "tarifa_social": {"type": "boolean"},
            "leitura_anterior": _ref("LeituraDaFatura"),
            "leitura_atual": _ref("LeituraDaFatura"),
        },
    },
    "Alerta": {
        "type": "object",
        "required": ["alerta_id", "tipo", "ano", "mes", "criado_em", "detalhes"],
        "properties": {
            "alerta_id": {"type": "integer"},
            "id": {"type": "integer"},
            "tipo": {"type": "string"},
            "ano": {"type": "integer", "nullable": True},
            "mes": {"type": "integer", "nullable": True},
            "criado_em": TIME,
            "detalhes": {"type": "object"},
            "severidade": {"type": "string"},
            "estado": {"type": "string"},
        },
    },
    "Alertas": {
        "type": "object", "required": ["id", "alerta", "alertas"],
        "properties": {
            "id": {"type": "integer"},
            "tipo": {"type": "string"},
            "alerta": {"type": "boolean"},
            "alertas": {"type": "array", "items": _ref("Alerta")},
        },
    },
}


def _terms_properties(plans: Sequence[str]) -> dict[str, Any]:
    """The billing terms a customer may set; `null` returns one to the configured default."""
    return {
        "dia_fechamento": {"type": "integer", "minimum": 1, "maximum": 31, "nullable": True},
        "ligacao": {"type": "string", "enum": [*CONNECTIONS, None], "nullable": True},
        "plano": {"type": "string", "enum": [*plans, None], "nullable": True},
        "tarifa_social": {"type": "boolean", "nullable": True},
    }


def _terms_schemas(plans: Sequence[str]) -> dict[str, Any]:
    """The schemas that list the configured plans."""
    terms = _terms_properties(plans)
    return {
        "NovoCliente": {**SCHEMAS["NovoCliente"], "properties": {**SCHEMAS["NovoCliente"]["properties"], **terms}},
        "NovaConfiguracao": {
            "type": "object", "minProperties": 1, "additionalProperties": False, "properties": terms,
            "example": {"dia_fechamento": 20, "ligacao": "bifasico"},
        },
        "Configuracao": {
            "type": "object",
            "required": ["id", "dia_fechamento", "ligacao", "plano", "tarifa_social", "consumo_minimo_kwh"],
            "properties": {
                "id": {"type": "integer"},
                "dia_fechamento": {"type": "integer", "minimum": 1, "maximum": 31},
                "ligacao": {"type": "string", "nullable": True},
                "plano": {"type": "string"},
                "tarifa_social": {"type": "boolean"},
                "consumo_minimo_kwh": {"type": "number"},
                "proprios": {"type": "array", "items": {"type": "string"},
                             "description": "Os termos do próprio cliente; os outros vêm da configuração"},
            },
        },
    }


def _admin_only(item: dict[str, Any]) -> dict[str, Any]:
    """Mark every operation of a path as the admin token's alone (`x-admin-only`)."""
    return {method: {**operation, "x-admin-only": True} for method, operation in item.items()}


def _get(operation_id: str, summary: str, names: list[str], schema: str,
         errors: dict[str, Any] | None = None) -> dict[str, Any]:
    """A GET operation with the usual read errors."""
    return {"get": {
        "operationId": operation_id,
        "summary": summary,
        "parameters": [_param(name) for name in names],
        "responses": {"200": _json(_ref(schema), summary), **(errors or READ_ERRORS)},
    }}


def _alert_route(tipo: str, summary: str) -> dict[str, Any]:
    """One of the two alert routes."""
    return _get(f"alertas_{tipo}", summary, ["id", "estado", "desde"], "Alertas")


def _paths() -> dict[str, Any]:
    """Every route."""
    page = ["limite", "apos"]
    html = {"text/html": {"schema": {"type": "string"}}}
    return {
        "/": {
            "get": {"operationId": "entrada", "summary": "Página de entrada (HTML)", "security": [],
                    "responses": {"200": {"description": "Página de entrada", "content": html}}},
            "post": {
                "operationId": "entrar", "summary": "Confere o token digitado na página de entrada", "security": [],
                "requestBody": {"required": False, "content": {"application/x-www-form-urlencoded": {"schema": {
                    "type": "object", "properties": {"token": {"type": "string"}}}}}},
                "responses": {"200": {"description": "A página, com o resultado da conferência", "content": html}},
            },
        },
        "/usuario/": _get("cliente", "O cliente, com o consumo acumulado", ["id"], "Cliente"),
        "/usuario/fatura/": _get("fatura", "A fatura de um mês (aberta ou fechada)", ["id", "mes", "ano"], "Fatura"),
        "/usuario/consumo/": _get("consumo", "Todas as leituras, paginadas, com o total", ["id", *page], "Consumo"),
        "/usuario/consumo/data/": _get("consumo_data", "Leituras e consumo de um dia", ["id", "data", *page], "Consumo"),
        "/usuario/consumo/horario/": _get(
            "consumo_horario", "Leituras e consumo de um segundo ou minuto de um dia", ["id", "data", "horario", *page], "Consumo"),
        "/usuario/consumo/horas/": _get(
            "consumo_horas", "Consumo de cada hora de um dia, com as horas estimadas marcadas", ["id", "data"],
            "ConsumoHoras"),
        "/admin/leituras/rejeitadas": _admin_only(_get(
            "leituras_rejeitadas", "Leituras rejeitadas, mais recentes primeiro (só administrador)",
            ["motivo", "medidor", "limite_admin", "apos_rejeitadas"], "Rejeitadas", ADMIN_ERRORS)),
        "/admin/leituras/sinalizadas": _admin_only(_get(
            "leituras_sinalizadas", "Passos do registrador sinalizados para revisão (só administrador)",
            ["tipo_sinalizada", "medidor", "limite_admin", "apos_sinalizadas"], "Sinalizadas", ADMIN_ERRORS)),
        "/usuario/alerta/variacao/": _alert_route("variacao", "Alertas de grande variação da fatura"),
        "/usuario/alerta/excesso/": _alert_route("excesso", "Alertas de consumo excessivo"),
        "/usuario/cadastro/": {"post": {
            "operationId": "cadastro",
            "summary": "Cadastra um cliente (só administrador)",
            "requestBody": {"required": True, "content": {JSON: {"schema": _ref("NovoCliente")}}},
            "responses": {
                "201": _json(_ref("ClienteCadastrado"), "Cliente cadastrado, com seu token"),
                "400": _error("Corpo malformado"),
                "401": _error("Sem token, ou token desconhecido"),
                "403": _error("Só o administrador cadastra"),
                "409": _error("Já existe cliente com esse id"),
                "default": _error("Outro erro (405, 413...)"),
            },
        }},
        "/usuario/token/": {"post": {
            "operationId": "novo_token",
            "summary": "Troca o token de um cliente (administrador ou o próprio cliente); o anterior deixa de valer",
            "parameters": [_param("id")],
            "responses": {
                "200": _json(_ref("NovoToken"), "O novo token"),
                **{code: READ_ERRORS[code] for code in ("400", "401", "403", "404", "default")},
            },
        }},
        "/usuario/delete/": {"delete": {
            "operationId": "remocao",
            "summary": "Remove um cliente e tudo o que foi medido para ele (só administrador)",
            "parameters": [_param("id")],
            "responses": {
                "200": _json(_ref("Remocao"), "Cliente removido"),
                **{code: READ_ERRORS[code] for code in ("400", "401", "default")},
                "403": _error("Só o administrador remove"),
                "404": _error("Cliente inexistente"),
            },
        }},
        "/usuario/configuracao/": {
            "get": {
                "operationId": "configuracao",
                "summary": "Dia de fechamento, ligação, plano e tarifa social do cliente",
                "parameters": [_param("id")],
                "responses": {"200": _json(_ref("Configuracao"), "Os termos em vigor"), **READ_ERRORS},
            },
            "patch": {
                "operationId": "configurar",
                "summary": "Muda termos do cliente (só administrador); faturas fechadas nunca mudam",
                "parameters": [_param("id")],
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("NovaConfiguracao")}}},
                "responses": {
                    "200": _json(_ref("Configuracao"), "Os termos em vigor depois da mudança"),
                    **{code: READ_ERRORS[code] for code in ("400", "401", "default")},
                    "403": _error("Só o administrador muda os termos"),
                    "404": _error("Cliente inexistente"),
                },
            },
        },
        "/fatura/{id}/{mes}": {"get": {
            "operationId": "fatura_impressa",
            "summary": "A fatura de um mês como página imprimível (HTML, pt-BR)",
            "parameters": [_param("id_caminho"), _param("mes_caminho")],
            "responses": {"200": {"description": "A fatura", "content": {"text/html": {"schema": {"type": "string"}}}},
                          **READ_ERRORS},
        }},
        "/faturas/{id}.csv": {"get": {
            "operationId": "faturas_csv",
            "summary": "Todas as faturas do cliente em CSV (RFC 4180, UTF-8, ponto decimal)",
            "parameters": [_param("id_caminho")],
            "responses": {"200": {"description": "Uma linha por fatura",
                                  "content": {"text/csv": {"schema": {"type": "string"}}}},
                          **{code: READ_ERRORS[code] for code in ("401", "403", "404", "default")},
                          "400": _error("Id malformado")},
        }},
        "/healthz": {"get": {
            "operationId": "saude", "summary": "O servidor e o banco respondem", "security": [],
            "responses": {
                "200": _json({"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["ok"]}}}, "Tudo certo"),
                "503": _error("Banco de dados indisponível"),
            },
        }},
        "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "Esta descrição", "security": [],
            "responses": {"200": _json({"type": "object"}, "O documento OpenAPI")},
        }},
    }


def openapi_document(plans: Sequence[str] = (BASE_PLAN,)) -> dict[str, Any]:
    """The whole document, with the routes of the web pages (api.openapi_web) and of the alerts
    (api.alert_openapi); `plans` are the configured tariff plans a customer may choose."""
    from api import alert_openapi, openapi_web  # imported here: they build on this module's patterns

    return alert_openapi.extend(openapi_web.extend({
        "openapi": "3.0.3",
        "info": {
            "title": "Energia — medição inteligente",
            "version": "1.0.0",
            "description": (
                "Consumo, faturas e alertas de cada cliente. Autenticação: `Authorization: Bearer <token>`; "
                "o token de administrador pode tudo, o de um cliente só os dados dele. Erros: "
                '`{"erro": "..."}`. Horários em ISO-8601 com o fuso configurado; kWh como números, '
                "dinheiro como texto decimal."
            ),
        },
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": dict(PARAMETERS),
            "schemas": {**SCHEMAS, **_terms_schemas(plans)},
        },
    }))
