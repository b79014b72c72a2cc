"""Mosquitto 2.0 password hashes, made in Python so that provisioning needs no Mosquitto install.

The app image (Dockerfile) has no Mosquitto, yet its init service writes the broker's password
file. Mosquitto 2.0 stores `user:$7$<iterations>$<salt>$<hash>`: PBKDF2-HMAC-SHA512 over the
password with a 12-byte random salt, 101 iterations, a 64-byte key, salt and key in standard
base64 (the format `mosquitto_passwd` writes; mosquitto-2.0 src/password_mosq.c).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ITERATIONS = 101
SALT_BYTES = 12
KEY_BYTES = 64


def hash_password(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The `$7$` hash of `password`, as Mosquitto reads it from a password file."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, KEY_BYTES)
    return f"$7${iterations}${_b64(salt)}${_b64(key)}"


def verify(password: str, hashed: str) -> bool:
    """Whether `password` matches a `$7$` hash (the check Mosquitto makes at login)."""
    try:
        _, kind, iterations, salt, key = hashed.split("$")
        if kind != "7":
            return False
        expected = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations),
                                       len(base64.b64decode(key)))
    except ValueError:
        return False
    return hmac.compare_digest(expected, base64.b64decode(key))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
