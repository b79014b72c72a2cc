"""Token rotation (`POST /usuario/token/?id=N`) and how tokens are kept."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from core.models import Customer
from core.tokens import admin_token
from tests.support.site import ADMIN, Site, bearer


@pytest.fixture
def site(tmp_path, backend):
    site = Site.create(backend, tmp_path / "data")
    site.register(7, "ana", "rua a")
    site.register(8, "bia", "rua b")
    yield site
    site.close()


def rotate(site, customer_id, token):
    return site.client.post(f"/usuario/token/?id={customer_id}", headers=bearer(token))


def can_read(site, customer_id, token) -> int:
    return site.client.get(f"/usuario/?id={customer_id}", headers=bearer(token)).status_code


def test_a_customer_rotates_its_own_token_and_the_old_one_stops_at_once(site):
    old = site.tokens[7]
    answer = rotate(site, 7, old)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    new = answer.json["token"]
    assert answer.json["id"] == 7 and new != old and len(new) >= 40
    assert can_read(site, 7, old) == 401
    assert rotate(site, 7, old).status_code == 401
    assert can_read(site, 7, new) == 200
    assert can_read(site, 8, site.tokens[8]) == 200  # nobody else is touched


def test_the_admin_rotates_any_customers_token(site):
    old = site.tokens[8]
    new = rotate(site, 8, ADMIN).json["token"]
    assert can_read(site, 8, old) == 401 and can_read(site, 8, new) == 200
    assert can_read(site, 8, ADMIN) == 200  # the admin token itself never changes this way


def test_check_order_of_rotation(site):
    assert site.client.post("/usuario/token/?id=7").status_code == 401
    assert rotate(site, 7, "nope").status_code == 401
    assert rotate(site, "abc", site.tokens[7]).status_code == 400
    assert rotate(site, 8, site.tokens[7]).status_code == 403  # someone else's
    assert rotate(site, 999, site.tokens[7]).status_code == 403  # never reveals which ids exist
    assert rotate(site, 999, ADMIN).status_code == 404
    assert can_read(site, 8, site.tokens[8]) == 200  # the refused attempts changed nothing
    assert site.client.get("/usuario/token/?id=7", headers=bearer(ADMIN)).status_code == 405


def test_tokens_are_stored_only_as_hashes(site):
    new = rotate(site, 7, site.tokens[7]).json["token"]
    with site.app.extensions["energia"].database.reader() as session:
        stored = {row.id: row.token_hash for row in session.scalars(select(Customer))}
    assert stored[7] == hashlib.sha256(new.encode()).hexdigest()
    assert stored[8] == hashlib.sha256(site.tokens[8].encode()).hexdigest()


@pytest.mark.sqlite(reason="reads the SQLite file and its WAL byte by byte")
def test_no_token_is_anywhere_in_the_database_file(site):
    new = rotate(site, 7, site.tokens[7]).json["token"]
    database = site.settings.data_dir / "energy.db"
    raw = database.read_bytes() + (database.with_name("energy.db-wal").read_bytes()
                                   if database.with_name("energy.db-wal").exists() else b"")
    assert new.encode() not in raw and site.tokens[8].encode() not in raw


def test_the_admin_token_has_no_built_in_value(tmp_path):
    """Two installations never share an admin token: it is generated per data folder."""
    first, created_first = admin_token(None, tmp_path / "a")
    second, created_second = admin_token(None, tmp_path / "b")
    assert created_first and created_second and first != second and len(first) >= 40
    assert admin_token(None, tmp_path / "a") == (first, False)
    assert admin_token("x" * 16, tmp_path / "a") == ("x" * 16, False)
