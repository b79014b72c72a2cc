"""An API with customers and data, in-process, for the authorization and hostile-input tests.

Readings enter as the ingest worker stores them (`ingest.store.store_batch`, one batch per
reading, received a second after it was taken), so bills are frozen and alerts raised as in
production. `operations()` walks the served /openapi.json, so a route added to the document is
covered by every test built on it without touching the tests.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Iterator
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import find
from hypothesis import strategies as st

from api import create_app
from core.config import Settings
from core.db import make_engine, make_sessionmaker
from core.periods import to_ms
from core.wire import Reading, encode, topic_for
from ingest.store import Message, store_batch
from tests.support.backend import Backend

ADMIN = "admin-token-for-tests-0123456789"
ZONE = ZoneInfo("America/Sao_Paulo")
METHODS = ("get", "post", "put", "patch", "delete")


def local_ms(*fields: int) -> int:
    """An instant given as local wall time in America/Sao_Paulo."""
    return to_ms(datetime(*fields, tzinfo=ZONE))


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of a token."""
    return {"Authorization": f"Bearer {token}"}


def make_settings(backend: Backend, data_dir: Any) -> Settings:
    """Settings with a data folder (its database on the run's backend), the default zone and a
    known admin token."""
    return backend.settings(data_dir, ENERGY_TIMEZONE="America/Sao_Paulo", ENERGY_ADMIN_TOKEN=ADMIN)


def store(settings: Settings, meter_id: int, readings: Iterable[tuple[int, int]]) -> None:
    """Store (ts ms, Wh) readings as the worker would: one batch each, received a second after."""
    engine = make_engine(settings.db_url, immediate=True)
    sessions = make_sessionmaker(engine)
    for ts, wh in readings:
        received = ts + 1000
        message = Message(topic_for(meter_id), encode(Reading(meter_id, ts, wh)), received)
        with sessions.begin() as session:
            store_batch(session, [message], settings, received)
    engine.dispose()


def register(client: FlaskClient, customer_id: int, nome: str, endereco: str) -> str:
    """Register a customer with the admin token; its token."""
    answer = client.post("/usuario/cadastro/", json={"id": customer_id, "nome": nome, "endereco": endereco},
                         headers=bearer(ADMIN))
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.json["token"]


@dataclass(frozen=True)
class Operation:
    """One method of one path of the OpenAPI document."""

    method: str
    path: str
    spec: dict[str, Any]
    parameters: list[dict[str, Any]]
    path_parameters: list[dict[str, Any]] = field(default_factory=list)

    @property
    def needs_token(self) -> bool:
        """False for the public operations (`security: []`)."""
        return self.spec.get("security") != []

    @property
    def admin_only(self) -> bool:
        """True for the operations the document reserves to the admin token (`x-admin-only`)."""
        return bool(self.spec.get("x-admin-only"))

    @property
    def names(self) -> list[str]:
        """The names of its query parameters."""
        return [parameter["name"] for parameter in self.parameters]

    def query(self, **overrides: Any) -> dict[str, str]:
        """Every parameter (query and path) at a valid value (`valid_value`), some replaced (None
        drops one); overrides of parameters the operation does not take are left out. `url()`
        puts the path parameters into the path and the rest in the query string."""
        values = {parameter["name"]: valid_value(parameter) for parameter in self.parameters + self.path_parameters}
        values.update({name: value for name, value in overrides.items() if name in values})
        return {name: str(value) for name, value in values.items() if value is not None}

    def body(self, document: dict[str, Any]) -> dict[str, Any] | None:
        """The documented example of its JSON body, or None when it takes none."""
        content = self.spec.get("requestBody", {}).get("content", {}).get("application/json")
        if content is None:
            return None
        return resolve(document, content["schema"]).get("example")

    def url(self, query: dict[str, str] | list[tuple[str, str]] | str) -> str:
        """The path, its parameters filled in, with a query string (a string is used as it is)."""
        fill = {parameter["name"]: str(valid_value(parameter)) for parameter in self.path_parameters}
        if isinstance(query, dict):
            fill.update({name: value for name, value in query.items() if name in fill})
            query = {name: value for name, value in query.items() if name not in fill}
        path = self.path
        for name, value in fill.items():
            path = path.replace("{" + name + "}", quote(value, safe=""))
        text = query if isinstance(query, str) else urlencode(query)
        return f"{path}?{text}" if text else path

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def valid_value(parameter: dict[str, Any]) -> Any:
    """A valid value of a query parameter: its documented example; else, when it is required,
    the first of its enum, its minimum, or the simplest text its pattern accepts; else None
    (left out, so the route's default applies)."""
    if "example" in parameter:
        return parameter["example"]
    if not parameter.get("required") and parameter.get("in") != "path":
        return None
    schema = parameter.get("schema", {})
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("type") == "integer":
        return schema.get("minimum", 1)
    if "pattern" in schema:
        return simplest_match(schema["pattern"])
    return "x"


@functools.cache
def simplest_match(pattern: str) -> str:
    """The simplest text a regular expression accepts (hypothesis shrinks to it, deterministically)."""
    return find(st.from_regex(pattern, fullmatch=True), lambda _: True)


def resolve(document: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref`."""
    while "$ref" in item:
        node: Any = document
        for part in item["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        item = node
    return item


def operations(document: dict[str, Any]) -> Iterator[Operation]:
    """Every operation of the document."""
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                spec = item[method]
                parameters = [resolve(document, p) for p in spec.get("parameters", [])]
                yield Operation(method, path, spec, [p for p in parameters if p["in"] == "query"],
                                [p for p in parameters if p["in"] == "path"])


@dataclass
class Site:
    """An app over a database of the run's backend, with a client and the tokens of its customers."""

    app: Flask
    client: FlaskClient
    settings: Settings
    tokens: dict[int, str] = field(default_factory=dict)

    @classmethod
    def create(cls, backend: Backend, data_dir: Any) -> "Site":
        """An empty site."""
        settings = make_settings(backend, data_dir)
        app = create_app(settings, {"TESTING": True})
        return cls(app, app.test_client(), settings)

    def register(self, customer_id: int, nome: str, endereco: str) -> str:
        """Register a customer and keep its token."""
        self.tokens[customer_id] = register(self.client, customer_id, nome, endereco)
        return self.tokens[customer_id]

    def document(self) -> dict[str, Any]:
        """The served OpenAPI document."""
        return json.loads(self.client.get("/openapi.json").get_data())

    def operations(self) -> list[Operation]:
        """Every operation the served document describes."""
        return list(operations(self.document()))

    def call(self, operation: Operation, query: Any, token: str | None = None, body: Any = None, **kwargs: Any):
        """Send one request to an operation."""
        headers = bearer(token) if token else {}
        if body is not None:
            kwargs["json"] = body
        return self.client.open(operation.url(query), method=operation.method.upper(), headers=headers, **kwargs)

    def close(self) -> None:
        """Dispose of the app's engines."""
        self.app.extensions["energia"].database.dispose()
