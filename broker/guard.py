"""The session guard (broker/session_guard.c): a Mosquitto plugin that stops one account from
taking over another account's session by connecting with its client id.

Mosquitto 2.0 alone cannot: `use_username_as_clientid` would give every ingest worker the client
id "ingest" (SPEC §7 gives each its own INGEST_CLIENT_ID on one account), and the dynamic
security plugin binds an account to one client id, which would stop a person publishing by hand
as a meter with `mosquitto_pub`'s own client id. The guard binds the other way round: a client
id that a service account uses, or `meter-N`, belongs to that account.

It is compiled from source on the machine (Mosquitto has no stable binary plugin ABI across
builds), once per version of the source, into a cache, and copied into each set-up.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("session_guard.c")
LIBRARY_NAME = "energia_session_guard.so"
CLAIMS_NAME = "session-claims"
PACKAGES = "mosquitto-dev libmosquitto-dev gcc libc6-dev"


class GuardUnavailable(RuntimeError):
    """The plugin cannot be built here; the message says what to install."""


def build() -> Path:
    """The compiled plugin, from the cache or compiled now."""
    if not SOURCE.is_file():
        raise GuardUnavailable(f"{SOURCE} is missing from the installation")
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    cached = cache_dir() / f"session_guard-{digest}.so"
    if cached.is_file():
        return cached
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise GuardUnavailable(f"no C compiler: install {PACKAGES} (make setup does)")
    cached.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=cached.parent, suffix=".so")
    os.close(descriptor)
    command = [compiler, "-shared", "-fPIC", "-O2", "-std=c99", "-Wall", "-Werror", "-o", temporary, str(SOURCE)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        os.unlink(temporary)
        raise GuardUnavailable(f"compiling {SOURCE.name} failed (install {PACKAGES}): {done.stderr.strip()[:500]}")
    os.chmod(temporary, 0o755)
    os.replace(temporary, cached)
    log.info("built the session guard plugin into %s", cached)
    return cached


def cache_dir() -> Path:
    """Where compiled plugins are kept between set-ups."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "energia"


def config_lines(library: Path, claims: Path, service_users: Iterable[str], reserved: dict[str, str]) -> list[str]:
    """The mosquitto.conf lines that load the plugin."""
    pairs = " ".join(f"{client_id}={user}" for client_id, user in sorted(reserved.items()))
    return [
        f"plugin {library}",
        f"plugin_opt_service_users {' '.join(service_users)}",
        *([f"plugin_opt_reserved {pairs}"] if pairs else []),
        f"plugin_opt_claims_file {claims}",
    ]
