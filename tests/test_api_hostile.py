"""Hostile input on every route of /openapi.json: always a JSON 4xx, never a 5xx (SPEC §5).

A grid of malformed values for every query parameter of every operation (each value checked
against the parameter's documented schema, so none of them is valid by accident), raw query
strings no form encoder would write, malformed bodies, and then hypothesis for what a grid
does not think of. Everything goes through the WSGI app, as gunicorn would hand it over;
tests/test_api_server.py sends the bytes no HTTP client library will send.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.site import ADMIN, Operation, Site, local_ms, store

OWNER = 7

HOSTILE_VALUES = [
    "", " ", "abc", "-1", "0", "1e309", "-1e309", "NaN", "Infinity", "1.5", "7.0", "0x1f", "+7", " 7", "7 ",
    "１２", "٣", "007", "99999999999999999999999999", "-0", "2**32", "4294967296", "9" * 5000, "a" * 5000,
    "\x00", "7\x00", "\x00\x00\x00", "\ufeff7", "\u202e7", "\ud7ff", "\U0001f4a9", "null", "true", "[]", "{}",
    "'", "\"", "' OR '1'='1", "1 OR 1=1", "1; DROP TABLE customers;--", "1' UNION SELECT token_hash FROM customers--",
    "%", "%%", "%zz", "<script>alert(1)</script>", "../../etc/passwd", "${jndi:ldap://x/a}", "{{7*7}}",
    "\r\nX-Injected: 1", "\t", "13", "00", "2023-02-30", "2024-13-01", "31/04/", "29/02/2023", "2024-3-1",
    "24:00:", "12:60:", "12:00:60", "12:00", "1999", "10000", "2024-00", "2024-3", "1" * 20, "-" * 20,
    "mes", "aberto!", "A", "a" * 17, "é",
]

RAW_QUERIES = [
    "id=%ff", "id=%c3%28", "id=%ed%a0%80", "id=%f4%90%80%80", "id=%00", "id=7%00", "id=%", "id=%2", "id=%g0",
    "id=7&id=8", "id=7&id=7&id=8", "id", "id&id=7", "=7", "&&&", "id=7&id=8&" * 300, "id=%E2%80%AE7",
    "id=%2B7", "id=7%20", "id=%EF%BC%97", "id=7;id=8", "id[]=7", "id[0]=7", "id.x=7", "ID=7", "iD=7",
    "%69%64=7&id=8",
]


def valid_for(schema: dict[str, Any], value: str) -> bool:
    """Whether the documented schema of a query parameter accepts this text."""
    if "enum" in schema:
        return value in [str(item) for item in schema["enum"]]
    if schema.get("type") == "integer":
        if not re.fullmatch(r"-?(0|[1-9][0-9]{0,30})", value):  # longer ones are out of any range here
            return False
        number = int(value)
        return schema.get("minimum", number) <= number <= schema.get("maximum", number)
    pattern = schema.get("pattern")
    return pattern is None or re.search(pattern, value) is not None


def assert_json_4xx(answer, what: object) -> None:
    assert 400 <= answer.status_code < 500, (what, answer.status_code, answer.get_data()[:300])
    assert answer.mimetype == "application/json", what
    assert isinstance(answer.json["erro"], str) and answer.json["erro"], what


@pytest.fixture(scope="module")
def site(tmp_path_factory, backend):
    site = Site.create(backend, tmp_path_factory.mktemp("hostile"))
    site.register(OWNER, "ana", "rua a")
    site.register(8, "bia", "rua b")
    store(site.settings, OWNER, [(local_ms(2024, 2, 15), 1_000_000), (local_ms(2024, 3, 1, 12), 1_010_000)])
    yield site
    site.close()


def api_operations(site: Site) -> list[Operation]:
    """The operations of the API proper (the sign-in page answers HTML by design)."""
    return [op for op in site.operations() if op.needs_token]


def malformed_grid(site: Site) -> list[tuple[Operation, list[tuple[str, str]]]]:
    """Each parameter of each operation at each hostile value its schema refuses; the rest valid."""
    grid = []
    for operation in api_operations(site):
        for parameter in operation.parameters:
            name = parameter["name"]
            for value in HOSTILE_VALUES:
                if valid_for(parameter["schema"], value):
                    continue
                query = operation.query()
                query[name] = value
                grid.append((operation, list(query.items())))
            # the same parameter twice with two different values
            valid = operation.query().get(name)
            if valid is not None:
                grid.append((operation, [*operation.query().items(), (name, valid + "0")]))
    return grid


def test_more_than_a_thousand_malformed_queries_are_json_4xx(site):
    grid = malformed_grid(site)
    assert len(grid) >= 1000, len(grid)
    for token in (ADMIN, site.tokens[OWNER]):
        for operation, query in grid:
            answer = site.call(operation, query, token)
            assert_json_4xx(answer, (str(operation), query))
            if len(operation.url(query)) - len(operation.path) - 1 <= 8192:
                assert answer.status_code == 400, (str(operation), query, answer.json)
    assert site.client.get("/usuario/?id=7", headers={"Authorization": f"Bearer {site.tokens[OWNER]}"}).status_code == 200


def test_raw_query_strings_are_json_4xx_on_every_route(site):
    count = 0
    for operation in api_operations(site):
        if "id" not in operation.names:
            continue
        rest = "&".join(f"{name}={value}" for name, value in operation.query(id=None).items())
        for raw in RAW_QUERIES:
            answer = site.call(operation, f"{raw}&{rest}" if rest else raw, ADMIN)
            assert_json_4xx(answer, (str(operation), raw))
            count += 1
    assert count >= 200


def test_huge_query_strings_are_json_414(site):
    for operation in api_operations(site):
        answer = site.call(operation, [*operation.query().items(), ("x", "a" * 10_000)], ADMIN)
        assert answer.status_code == 414 and answer.json["erro"], operation


# --- bodies -----------------------------------------------------------------------------------

VALID = {"id": 30, "nome": "vitor", "endereco": "rua c"}


def nested(depth: int) -> bytes:
    return b'{"id": ' + b"[" * depth + b"]" * depth + b', "nome": "a", "endereco": "b"}'


MALFORMED_BODIES: list[bytes] = [
    b"", b" ", b"null", b"true", b"0", b'"texto"', b"[]", b"{}", b"{", b"}", b"{'id': 30}", b'{"id": 30,}',
    b'{"id": 30, "nome": "a", "endereco": "b"', b"\xff\xfe\x00\x00", b"\x00" * 10, b"\xef\xbb\xbf{}",
    b'{"id": NaN, "nome": "a", "endereco": "b"}', b'{"id": Infinity, "nome": "a", "endereco": "b"}',
    b'{"id": 1e309, "nome": "a", "endereco": "b"}', b'{"id": 30.5, "nome": "a", "endereco": "b"}',
    b'{"id": 1' + b"0" * 5000 + b', "nome": "a", "endereco": "b"}',
    b'{"id": 30, "nome": "\\ud800", "endereco": "b"}', b'{"id": 30, "nome": "a\\u0000b", "endereco": "b"}',
    b'{"id": 30, "nome": "\xff", "endereco": "b"}', b"[" * 50_000 + b"]" * 10, nested(30_000),
    b"id=30&nome=a&endereco=b", b"<xml><id>30</id></xml>", b"--boundary\r\n\r\n",
    json.dumps(VALID).encode("utf-16"), json.dumps([VALID]).encode(),
]


def body_variants() -> list[Any]:
    """Well-formed JSON documents that break the cadastro schema one field at a time."""
    wrong = [None, True, False, "", " ", "30", 30.0, 0, -1, 2**32, 2**64, [], {}, [30], {"id": 30},
             "a" * 201, "a" * 60_000, "\x00", "\u0085", "\ufeff", "\n"]
    variants: list[Any] = []
    for field in VALID:
        variants.append({key: value for key, value in VALID.items() if key != field})
        for value in wrong:
            if field == "id" or not (isinstance(value, str) and value.strip() and len(value) <= 200
                                     and not any(ord(ch) < 32 or 0x7f <= ord(ch) <= 0x9f for ch in value)):
                variants.append({**VALID, field: value})
    return variants


def test_malformed_bodies_of_every_body_route_are_json_4xx(site):
    document = site.document()
    routes = [op for op in api_operations(site) if op.body(document) is not None]
    assert routes, "no operation with a body in the document"
    for operation in routes:
        for raw in MALFORMED_BODIES:
            for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=boundary"):
                answer = site.client.open(operation.url(operation.query()), method=operation.method.upper(),
                                          data=raw, content_type=content_type,
                                          headers={"Authorization": f"Bearer {ADMIN}"})
                assert_json_4xx(answer, (str(operation), raw[:60], content_type))
        for body in body_variants():
            answer = site.call(operation, operation.query(), ADMIN, body=body)
            assert answer.status_code == 400, (str(operation), body, answer.json)
            assert answer.json["erro"]


def test_a_body_over_64_kib_is_413(site):
    body = b'{"id": 31, "nome": "' + b"a" * 70_000 + b'", "endereco": "b"}'
    answer = site.client.post("/usuario/cadastro/", data=body, content_type="application/json",
                              headers={"Authorization": f"Bearer {ADMIN}"})
    assert answer.status_code == 413 and answer.json["erro"]


def test_bodies_on_routes_that_take_none_change_nothing(site):
    for operation in api_operations(site):
        if operation.method == "get":
            answer = site.client.open(operation.url(operation.query(id=OWNER)), method="GET", data=b"[" * 10_000,
                                      headers={"Authorization": f"Bearer {ADMIN}"})
            assert answer.status_code < 500, operation


# --- property-based -----------------------------------------------------------------------

PARAMETER_NAMES = ["id", "mes", "ano", "data", "horario", "limite", "apos", "estado", "x"]
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.sampled_from(HOSTILE_VALUES)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(index=st.integers(min_value=0), pairs=st.lists(st.tuples(st.sampled_from(PARAMETER_NAMES), texts), max_size=6),
       token=st.sampled_from(["admin", "owner", "other", "none"]))
def test_any_query_on_any_route_never_yields_a_5xx(site, index, pairs, token):
    operations = api_operations(site)
    operation = operations[index % len(operations)]
    if operation.method != "get":
        pairs = [pair for pair in pairs if pair[0] != "id"] + [("id", "0")]  # never delete or rotate for real
    tokens = {"admin": ADMIN, "owner": site.tokens[OWNER], "other": site.tokens[8], "none": None}
    answer = site.call(operation, pairs, tokens[token])
    assert answer.status_code < 500, (str(operation), pairs, answer.get_data()[:300])
    if answer.status_code >= 400:
        assert answer.mimetype == "application/json" and answer.json["erro"]
    else:  # a success is what the document says it is (JSON, or an invoice's HTML, or CSV)
        documented = operation.spec["responses"].get(str(answer.status_code), {}).get("content", {})
        assert answer.mimetype in documented, (str(operation), answer.status_code, answer.mimetype)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "nome", "endereco", "x"]) | st.text(max_size=5), children, max_size=5),
    max_leaves=20,
))
def test_any_json_body_on_cadastro_never_yields_a_5xx(site, body):
    if isinstance(body, dict) and isinstance(body.get("id"), int) and not isinstance(body.get("id"), bool):
        body["id"] = -abs(body["id"]) - 1  # never a valid id: nothing gets registered
    answer = site.client.post("/usuario/cadastro/", data=json.dumps(body), content_type="application/json",
                              headers={"Authorization": f"Bearer {ADMIN}"})
    assert_json_4xx(answer, body)
