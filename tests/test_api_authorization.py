"""Object-level authorization on every route of /openapi.json (OWASP API1, SPEC §5).

The routes come from the served document, so a route added to it is checked here without
changing this file; a route the app serves but the document lacks fails the first test.
Customer 8 is the victim: its name, address, register figures and reading times are
distinctive strings that must never appear in an answer to customer 7's token.
"""

from __future__ import annotations

import re

import pytest

from tests.support.site import ADMIN, Operation, Site, local_ms, store

ATTACKER, VICTIM, ABSENT = 7, 8, 999
VICTIM_NAME, VICTIM_ADDRESS = "Zuleica Sigilo", "Travessa Oculta 4242"
# 2024-02 closes at 50 kWh, 2024-03 at 200 kWh: both alert rules fire for the victim.
VICTIM_READINGS = [
    (local_ms(2024, 1, 20), 7_654_321),
    (local_ms(2024, 2, 10), 7_704_321),
    (local_ms(2024, 3, 1, 12, 0, 17), 7_777_777),
    (local_ms(2024, 3, 10), 7_904_321),
    (local_ms(2024, 3, 20, 3, 3, 33), 7_950_000),
]
ATTACKER_READINGS = [(local_ms(2024, 2, 15), 1_000_000), (local_ms(2024, 3, 1, 12), 1_010_000)]


@pytest.fixture(scope="module")
def site(tmp_path_factory, backend):
    """Attacker and victim, both with readings, bills and (the victim) alerts."""
    site = Site.create(backend, tmp_path_factory.mktemp("authz"))
    site.register(ATTACKER, "Ana Curiosa", "Rua Aberta 1")
    site.register(VICTIM, VICTIM_NAME, VICTIM_ADDRESS)
    store(site.settings, ATTACKER, ATTACKER_READINGS)
    store(site.settings, VICTIM, VICTIM_READINGS)
    yield site
    site.close()


def victim_secrets(site: Site) -> list[str]:
    """Strings that only the victim's data holds (checked present in an admin answer below)."""
    return [VICTIM_NAME, VICTIM_ADDRESS, "7654.321", "7777.777", "7904.321", "7950.0",
            "2024-03-01T12:00:17", "2024-03-20T03:03:33", site.tokens[VICTIM]]


def protected(site: Site) -> list[Operation]:
    """The operations that need a token."""
    found = [operation for operation in site.operations() if operation.needs_token]
    assert len(found) >= 10  # the SPEC routes, token rotation...
    return found


def _shape(path: str) -> str:
    """A path with its parameters blanked: Flask's `<ident>` and OpenAPI's `{id}` name them apart."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def test_every_served_route_is_in_the_document(site):
    documented = {(_shape(op.path), op.method.upper()) for op in site.operations()}
    for rule in site.app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (_shape(rule.rule), method) in documented, f"{method} {rule.rule} is served but not in /openapi.json"


def test_the_victim_data_is_really_there(site):
    """The secrets are real: the admin sees each of them somewhere (else the leak checks prove nothing)."""
    seen = "".join(
        site.call(op, op.query(id=VICTIM, apos=None), ADMIN).get_data(as_text=True)
        for op in protected(site) if op.method == "get"
    )
    for secret in victim_secrets(site)[:-1]:  # the token is shown only once, at cadastro
        assert secret in seen, secret


def test_no_token_is_401_everywhere(site):
    for operation in protected(site):
        answer = site.call(operation, operation.query(id=VICTIM), body=operation.body(site.document()))
        assert answer.status_code == 401, operation
        assert answer.json["erro"] and answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer ", "Bearer x", f"Bearer {ADMIN}x", f"Basic {ADMIN}", ADMIN])
def test_unknown_tokens_are_401_everywhere(site, header):
    for operation in protected(site):
        answer = site.client.open(operation.url(operation.query(id=VICTIM)), method=operation.method.upper(),
                                  headers={"Authorization": header})
        assert answer.status_code == 401, (operation, header)


def test_another_customers_token_is_403_everywhere_and_leaks_nothing(site):
    secrets = victim_secrets(site)
    for operation in protected(site):
        for target in (VICTIM, ABSENT):
            answer = site.call(operation, operation.query(id=target), site.tokens[ATTACKER],
                               body=operation.body(site.document()))
            assert answer.status_code == 403, (operation, target, answer.json)
            assert answer.json["erro"]
            text = answer.get_data(as_text=True)
            assert not [secret for secret in secrets if secret in text], operation


def test_own_data_answers_carry_nothing_of_another_customer(site):
    secrets = victim_secrets(site)
    for operation in protected(site):
        if operation.method != "get" or operation.admin_only:
            continue  # writes and the operator's lists are the admin's (403 above); rotation is tested apart
        answer = site.call(operation, operation.query(id=ATTACKER), site.tokens[ATTACKER])
        assert answer.status_code in (200, 404), (operation, answer.json)
        text = answer.get_data(as_text=True)
        assert not [secret for secret in secrets if secret in text], operation


def test_the_admin_is_not_refused_by_the_same_routes(site):
    for operation in protected(site):
        if operation.method == "get":
            assert site.call(operation, operation.query(id=VICTIM), ADMIN).status_code == 200, operation


def test_every_answer_is_uncacheable_json_with_security_headers(site):
    for operation in protected(site):
        answer = site.call(operation, operation.query(id=VICTIM), site.tokens[ATTACKER])
        assert answer.mimetype == "application/json"
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


def test_pages_carry_the_security_headers(site):
    page = site.client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    for answer in (page, site.client.post("/", data={"token": site.tokens[ATTACKER]})):
        assert answer.status_code in (200, 303)  # a sign-in may answer with a redirect
        policy = answer.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["Cache-Control"] == "no-store"
