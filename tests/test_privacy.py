"""Deleting a customer (SPEC §4): a new registration of the same id never sees the old one's data.

The old customer of id 5 has readings, closed bills and both kinds of alert. It is deleted; its
meter keeps sending (readings with no customer are kept, SPEC §4); then someone else registers
id 5. Every route of /openapi.json is asked, with the new token and with the admin's: not one
byte of the old customer's name, address, figures or times comes back, the readings sent in
between are the new customer's, and the old token is refused everywhere.
"""

from __future__ import annotations

import pytest

from tests.support.site import ADMIN, Site, bearer, local_ms, store

ID = 5
OLD_NAME, OLD_ADDRESS = "Antigo Dono", "Rua Velha 1"
# 2024-02 closes at 50 kWh, 2024-03 at 200 kWh: a variation alert and an excess alert.
OLD_READINGS = [
    (local_ms(2024, 1, 20), 5_555_555),
    (local_ms(2024, 2, 10), 5_605_555),
    (local_ms(2024, 3, 1, 12, 0, 17), 5_700_001),
    (local_ms(2024, 3, 10), 5_805_555),
    (local_ms(2024, 4, 1, 4, 4, 44), 5_900_009),
]
BETWEEN = [(local_ms(2024, 5, 2, 10), 123_456), (local_ms(2024, 5, 3, 10), 124_456)]


def old_secrets() -> list[str]:
    return [OLD_NAME, OLD_ADDRESS, "5555.555", "5605.555", "5700.001", "5805.555", "5900.009",
            "2024-01-20T", "2024-03-01T12:00:17", "2024-04-01T04:04:44"]


def reads(site: Site):
    """The GET operations of the document that take a customer id."""
    return [op for op in site.operations() if op.method == "get" and "id" in op.names]


@pytest.fixture
def site(tmp_path, backend):
    site = Site.create(backend, tmp_path / "data")
    yield site
    site.close()


def everything_about(site: Site, token: str) -> str:
    """Every GET route's answer for id 5, every page, every month, concatenated."""
    texts = []
    for operation in reads(site):
        for mes in range(1, 13):
            answer = site.call(operation, operation.query(id=ID, mes=mes, apos=None, ano=None, estado=None), token)
            assert answer.status_code in (200, 404), (operation, answer.json)
            texts.append(answer.get_data(as_text=True))
            if "mes" not in operation.names:
                break
    return "".join(texts)


def test_the_old_customer_is_really_visible_before_the_delete(site):
    site.register(ID, OLD_NAME, OLD_ADDRESS)
    store(site.settings, ID, OLD_READINGS)
    seen = everything_about(site, site.tokens[ID])
    assert all(secret in seen for secret in old_secrets()), [s for s in old_secrets() if s not in seen]
    assert '"tipo":"variacao"' in seen and '"tipo":"excesso"' in seen


def test_a_new_registration_of_a_deleted_id_starts_with_what_came_after(site):
    old_token = site.register(ID, OLD_NAME, OLD_ADDRESS)
    store(site.settings, ID, OLD_READINGS)
    assert site.client.delete(f"/usuario/delete/?id={ID}", headers=bearer(ADMIN)).status_code == 200

    store(site.settings, ID, BETWEEN)  # the meter kept sending with no customer behind it
    new_token = site.register(ID, "Nova Dona", "Rua Nova 2")

    for token in (new_token, ADMIN):
        seen = everything_about(site, token)
        leaked = [secret for secret in old_secrets() if secret in seen]
        assert not leaked, leaked
        assert "Nova Dona" in seen and "123.456" in seen and "124.456" in seen
    customer = site.client.get(f"/usuario/?id={ID}", headers=bearer(new_token)).json
    assert customer["total_leituras"] == 2 and customer["consumo_total_kwh"] == 1.0
    assert customer["primeira_leitura"] == "2024-05-02T10:00:00-03:00"
    for tipo in ("variacao", "excesso"):
        assert site.client.get(f"/usuario/alerta/{tipo}/?id={ID}", headers=bearer(new_token)).json["alertas"] == []
    assert site.client.get(f"/usuario/fatura/?id={ID}&mes=3", headers=bearer(new_token)).status_code == 404

    for operation in site.operations():
        if operation.needs_token:
            answer = site.call(operation, operation.query(id=ID), old_token, body=operation.body(site.document()))
            assert answer.status_code == 401, operation


def test_a_late_reading_of_the_old_customer_belongs_to_the_new_one(site):
    """Readings are kept by meter, not by customer: one from before the delete that arrives late
    (after it) is the new registration's, as SPEC §4 says of readings stored with no customer."""
    site.register(ID, OLD_NAME, OLD_ADDRESS)
    store(site.settings, ID, OLD_READINGS[:2])
    site.client.delete(f"/usuario/delete/?id={ID}", headers=bearer(ADMIN))
    store(site.settings, ID, OLD_READINGS[2:3])  # taken while the old customer existed, stored after
    token = site.register(ID, "Nova Dona", "Rua Nova 2")
    document = site.client.get(f"/usuario/consumo/?id={ID}", headers=bearer(token)).json
    assert [reading["kwh"] for reading in document["leituras"]] == [5700.001]
    assert "5555.555" not in everything_about(site, token)
