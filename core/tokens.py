"""Bearer tokens of the API: random, shown once, stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from core.credentials import ADMIN_TOKEN, stored_secret


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The stored form of a token. Tokens are random, so a plain SHA-256 is not guessable."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def same_token(given: str, expected: str) -> bool:
    """Constant-time comparison of two tokens."""
    return hmac.compare_digest(hash_token(given), hash_token(expected))


def admin_token(configured: str | None, data_dir: Path) -> tuple[str, bool]:
    """The admin token: `ENERGY_ADMIN_TOKEN`, or the one generated in the data folder (0600).

    Returns the token and whether it was generated just now, so the caller prints it once.
    """
    if configured:
        return configured, False
    token, created = stored_secret(data_dir, ADMIN_TOKEN)
    assert token is not None
    return token, created
