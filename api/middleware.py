"""What every answer carries, and the query-string limit that runs before Flask (SPEC §5)."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from flask import Response

MAX_QUERY_STRING = 8 * 1024

COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers that predate CSP frame-ancestors
    "Referrer-Policy": "no-referrer",  # URLs carry customer ids
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
HTML_POLICY = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"


def secure_headers(response: Response) -> Response:
    """Add the security headers. Answers carry customer data or tokens, so no cache keeps them
    unless a view says otherwise (static files, when they come, set their own Cache-Control)."""
    html = response.mimetype == "text/html"
    wanted = {**COMMON_HEADERS, "Content-Security-Policy": HTML_POLICY if html else DATA_POLICY, "Cache-Control": "no-store"}
    # One pass over the headers a view set, not `setdefault` per name: Werkzeug answers a missing
    # name by raising and catching an exception, seven times a request.
    present = {name.lower() for name, _ in response.headers}
    for name, value in wanted.items():
        if name.lower() not in present:
            response.headers.add(name, value)
    return response


def error_document(status: int, message: str) -> tuple[bytes, list[tuple[str, str]]]:
    """The body and headers of a JSON error answered outside Flask (WSGI middleware, gunicorn)."""
    body = json.dumps({"erro": message}, ensure_ascii=False).encode("utf-8")
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("Content-Security-Policy", DATA_POLICY),
        *COMMON_HEADERS.items(),
    ]
    return body, headers


class QueryStringLimit:
    """WSGI middleware: a query string over 8 KiB gets a JSON 414 before the app parses it."""

    def __init__(self, app: Callable[..., Iterable[bytes]], limit: int = MAX_QUERY_STRING):
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Answer 414 when the query string is too long, else pass the request on."""
        if len(environ.get("QUERY_STRING", "")) <= self.limit:
            return self.app(environ, start_response)
        message = f"a query string passa de {self.limit // 1024} KiB; envie menos parâmetros ou valores menores"
        body, headers = error_document(414, message)
        start_response("414 URI Too Long", headers)
        return [body]
