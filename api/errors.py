"""The one JSON error shape `{"erro": "..."}` and the one place that turns exceptions into answers."""

from __future__ import annotations

import logging
from typing import Mapping

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from api.params import ParamError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
BEARER_CHALLENGE = 'Bearer realm="energia"'


class ApiError(Exception):
    """An answer other than success, with its status and a message a person can act on."""

    status = 400

    def __init__(self, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})


class Unauthenticated(ApiError):
    """No token, or one that is nobody's: 401."""

    status = 401

    def __init__(self, message: str):
        super().__init__(message, {"WWW-Authenticate": BEARER_CHALLENGE})


class Forbidden(ApiError):
    """A valid token asking for what it may not see or do: 403."""

    status = 403


class NotFound(ApiError):
    """The customer, bill or resource does not exist: 404."""

    status = 404


class Conflict(ApiError):
    """The resource already exists: 409."""

    status = 409


def read_body() -> bytes:
    """The request body, up to MAX_BODY_BYTES; a longer one is 413.

    With a Content-Length over the limit Werkzeug refuses at once. A chunked body has no length:
    Werkzeug then stops at the limit and returns what it read, so one more read tells a body that
    ended from one that goes on (and raises 413 for the latter).
    """
    body = request.stream.read()
    if len(body) >= MAX_BODY_BYTES:
        request.stream.read(1)
    return body


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """The JSON answer of every error."""
    response = jsonify({"erro": message})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register_error_handlers(app: Flask) -> None:
    """Route every exception to a JSON answer; only a bug yields a 5xx."""
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(ParamError, _param_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(Exception, _unexpected)


def _api_error(error: ApiError) -> Response:
    """Our own refusals: 401, 403, 404, 409."""
    return error_response(error.status, error.message, error.headers)


def _param_error(error: ParamError) -> Response:
    """Malformed input: 400."""
    return error_response(400, str(error))


def _http_error(error: HTTPException) -> Response:
    """Werkzeug's errors (404 route, 405, 413...), in JSON and Portuguese."""
    status = error.code or 500
    headers = {name: value for name, value in error.get_headers() if name.lower() == "allow"}
    return error_response(status, _http_message(status, headers.get("Allow")), headers)


def _http_message(status: int, allowed: str | None) -> str:
    """The message of a Werkzeug error."""
    path = request.path if len(request.path) <= 200 else request.path[:200] + "…"
    if status == 404:
        return f"não há nada em {path}: confira o endereço; as rotas estão em /openapi.json"
    if status == 405:
        return f"o método {request.method[:20]} não vale para {path}; use {allowed}"
    if status == 413:
        return f"o corpo da requisição passa de {MAX_BODY_BYTES // 1024} KiB; envie um corpo menor"
    if status == 400:
        return "requisição malformada: confira o corpo e os parâmetros"
    return f"a requisição não pôde ser atendida (HTTP {status})"


def _database_unavailable(error: OperationalError) -> Response:
    """The database cannot be reached or stays locked: 503, try again."""
    log.error("database unavailable: %s", error)
    return error_response(503, "o banco de dados está indisponível no momento; tente de novo em instantes", {"Retry-After": "5"})


def _unexpected(error: Exception) -> Response:
    """A bug: logged with its traceback, answered 500."""
    log.exception("unexpected error on %s %s", request.method, request.path)
    return error_response(500, "erro interno do servidor; o problema foi registrado no log")
