"""Generated secrets in the data folder (mode 0600) and the MQTT accounts of each process.

Broker accounts: each meter logs in with its decimal id and its own password; `ingest` reads
readings and writes alerts; `watcher` only reads (for mosquitto_sub). Simulated meters derive
their passwords from one site key (HMAC-SHA256), so a neighbourhood of 1,000 meters needs one
secret file, while the broker still stores one salted hash per meter.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

INGEST_USER = "ingest"
WATCHER_USER = "watcher"
ADMIN_TOKEN = "admin_token"
METER_KEY = "meter_key"
INGEST_SECRET = "mqtt_ingest"
WATCHER_SECRET = "mqtt_watcher"


def secrets_dir(data_dir: Path) -> Path:
    """The folder of generated secrets."""
    return data_dir / "secrets"


def stored_secret(data_dir: Path, name: str, create: bool = True) -> tuple[str | None, bool]:
    """The secret `name` from the data folder, generated (mode 0600) when missing and `create`.

    Returns the value (None when missing and not created) and whether it was created just now.
    Safe when several processes ask at the same moment: one creates it, the others read it.
    """
    path = secrets_dir(data_dir) / name
    if not create:
        return (_read(path), False) if path.exists() else (None, False)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path), False
    value = secrets.token_urlsafe(32)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value + "\n")
    return value, True


def mqtt_login(username: str | None, password: str | None, data_dir: Path,
               default_user: str, secret: str) -> tuple[str | None, str | None]:
    """The broker login of a process: the configured one, else its account's generated secret."""
    if username:
        return username, password
    stored, _ = stored_secret(data_dir, secret, create=False)
    return (default_user, stored) if stored else (None, None)


def meter_password(site_key: str, meter_id: int) -> str:
    """The password of a simulated meter, derived from the site key."""
    return hmac.new(site_key.encode(), str(meter_id).encode(), hashlib.sha256).hexdigest()[:32]


def _read(path: Path) -> str:
    for _ in range(100):  # another process may be between creating and writing it
        value = path.read_text().strip()
        if value:
            return value
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty: delete it so that a new secret is generated")
