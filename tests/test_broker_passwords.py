"""Password hashes made in Python are the ones mosquitto_passwd makes; `accounts` writes only accounts."""

from __future__ import annotations

import shutil
import stat
import subprocess

import pytest

from broker import provision
from broker.passwords import hash_password, verify
from core.credentials import INGEST_USER, WATCHER_USER

MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def test_a_hash_of_mosquitto_passwd_verifies_and_ours_has_its_shape(tmp_path):
    if not shutil.which(MOSQUITTO_PASSWD):
        pytest.skip("mosquitto_passwd is not installed")
    passwd = tmp_path / "passwd"
    passwd.touch()
    subprocess.run([MOSQUITTO_PASSWD, "-b", str(passwd), "alice", "s3cret"], check=True)
    theirs = passwd.read_text().strip().split(":", 1)[1]
    assert verify("s3cret", theirs) and not verify("guess", theirs)
    ours = hash_password("s3cret")
    assert ours.split("$")[1:3] == theirs.split("$")[1:3] == ["7", "101"]
    assert len(ours) == len(theirs)
    assert verify("s3cret", ours) and not verify("s3cret", hash_password("other"))


def test_the_same_salt_gives_the_same_hash_and_salts_differ():
    assert hash_password("x", salt=b"0" * 12) == hash_password("x", salt=b"0" * 12)
    assert hash_password("x") != hash_password("x")


def test_accounts_writes_private_password_and_acl_files_only(tmp_path):
    made = provision.write_accounts(tmp_path / "config", tmp_path / "data", range(1, 4))
    assert sorted(p.name for p in made.directory.iterdir() if not p.name.startswith(".")) == ["acl", "passwd"]
    for path in (made.password_path, made.acl_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = provision.read_password_file(made.password_path)
    assert set(lines) == {INGEST_USER, WATCHER_USER, "1", "2", "3"}
    user, password = provision.credentials(tmp_path / "data", 2)
    assert verify(password, lines[user].split(":", 1)[1])
    assert "pattern write meters/%u/reading" in made.acl_path.read_text()
