"""A runnable Mosquitto set-up in a folder: config, hashed passwords, ACL, folders, reload.

The config is rendered from the root `mosquitto.conf` with only the listener and the paths
changed, so production and local brokers share every other setting. Passwords come from the
secrets in the data folder (`core.credentials`): the services' own secret files, and for meters
a password derived from the site key, so provisioning needs no list of passwords anywhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pwd
import shutil
import signal
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from broker import guard as session_guard
from broker import tls as tls_listener
from broker.acl import acl_text
from broker.passwords import hash_password
from core.config import DEFAULT_CLIENT_ID
from core.credentials import (  # INGEST_SECRET, WATCHER_SECRET: secret files of the services' passwords
    INGEST_SECRET,
    INGEST_USER,
    METER_KEY,
    WATCHER_SECRET,
    WATCHER_USER,
    meter_password,
    stored_secret,
)
from core.wire import MAX_METER_ID

log = logging.getLogger(__name__)

BROKER_USER = "mosquitto"  # the user Mosquitto drops to when started as root
CONFIG_NAME = "mosquitto.conf"
PASSWORD_NAME = "passwd"
ACL_NAME = "acl"
PID_NAME = "mosquitto.pid"
LOG_NAME = "mosquitto.log"
_REQUIRED = ("allow_anonymous false", "password_file", "acl_file", "persistence true")


class ProvisionError(RuntimeError):
    """A set-up that cannot be made or used; the message says what to do."""


@dataclass(frozen=True)
class BrokerSetup:
    """Where a set-up lives, the data folder its passwords come from, and its listener."""

    directory: Path
    data_dir: Path
    host: str
    port: int
    tls_port: int | None = None

    @property
    def config_path(self) -> Path:
        """The rendered mosquitto.conf, for `mosquitto -c`."""
        return self.directory / CONFIG_NAME

    @property
    def password_path(self) -> Path:
        """The hashed password file."""
        return self.directory / PASSWORD_NAME

    @property
    def acl_path(self) -> Path:
        """The access control list."""
        return self.directory / ACL_NAME

    @property
    def pid_path(self) -> Path:
        """Where the running broker writes its pid (used to reload it)."""
        return self.directory / PID_NAME

    @property
    def persistence_dir(self) -> Path:
        """Mosquitto's database of sessions and queued messages."""
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        """The broker's log file."""
        return self.directory / "log" / LOG_NAME

    def command(self) -> list[str]:
        """The command line that runs this broker in the foreground."""
        return [executable("mosquitto"), "-c", str(self.config_path)]


def setup(
    directory: Path,
    port: int,
    data_dir: Path,
    meters: Iterable[int] = (),
    host: str = "127.0.0.1",
    template: Path | None = None,
    tls: tls_listener.TlsListener | None = None,
    guard: bool | None = None,
    reserved_ids: Iterable[str] = (DEFAULT_CLIENT_ID,),
) -> BrokerSetup:
    """Write a runnable set-up into `directory`; its accounts are ingest, watcher and `meters`.

    `tls` adds a TLS listener. `guard` loads the session guard: True requires it, None (the
    default) loads it when it can be built and warns when not, False leaves it out.
    `reserved_ids` are the client ids that belong to the ingest account from the start.
    """
    made = BrokerSetup(_usable_dir(directory), Path(data_dir).resolve(), host, _port(port),
                       _port(tls.port) if tls else None)
    if tls and tls.port == port:
        raise ProvisionError(f"the TLS listener needs a port of its own, not {port}")
    for folder in (made.directory, made.persistence_dir, made.log_path.parent):
        folder.mkdir(parents=True, exist_ok=True)
        _give_to_broker(folder)
    _check_reachable(made.directory)
    template = template or default_template()
    plugin = _guard_lines(made, guard, reserved_ids)
    tail = _tls_lines(made, tls) if tls else []
    _write(made.config_path, render_config(template.read_text(), made, template, plugin, tail), 0o644)
    _write(made.acl_path, acl_text(), 0o644)
    with _locked(made):
        _write_passwords(made, _hash(made, _accounts(made.data_dir, meters)))
    log.info("broker set-up in %s listens on %s:%s", made.directory, host, port)
    return made


def write_accounts(directory: Path, data_dir: Path, meters: Iterable[int] = ()) -> BrokerSetup:
    """Only the password file and the ACL, in `directory`, for a broker whose config is the project's
    mosquitto.conf as it stands (compose mounts it; its paths are the official image's).

    Accounts: ingest, watcher and `meters`, every password from the secrets of `data_dir`
    (generated there when missing). Both files are private (0600): Mosquitto warns about an
    account file others can read, and the broker's user is the one that writes them in compose.
    """
    meters = list(meters)
    made = BrokerSetup(_usable_dir(directory), Path(data_dir).resolve(), "", 0)
    made.directory.mkdir(parents=True, exist_ok=True)
    _give_to_broker(made.directory)
    _write(made.acl_path, acl_text(), 0o600)
    with _locked(made):
        _write_passwords(made, _hash(made, _accounts(made.data_dir, meters)))
    log.info("accounts for %d meters in %s", len(meters), made.directory)
    return made


def load(directory: Path, data_dir: Path) -> BrokerSetup:
    """An existing set-up, its listener read back from its config."""
    directory = Path(directory).resolve()
    config = directory / CONFIG_NAME
    if not config.is_file():
        raise ProvisionError(
            f"no broker set-up in {directory}: run `python -m broker setup --dir {directory}` first"
        )
    listeners = [line.split() for line in config.read_text().splitlines() if line.split()[:1] == ["listener"]]
    if not listeners:
        raise ProvisionError(f"{config} has no listener line: run `python -m broker setup` again")
    words = listeners[0]
    host = words[2] if len(words) > 2 else "0.0.0.0"
    tls_port = int(listeners[1][1]) if len(listeners) > 1 else None
    return BrokerSetup(directory, Path(data_dir).resolve(), host, int(words[1]), tls_port)


def default_template() -> Path:
    """The project's root mosquitto.conf (beside the packages, or in the current folder)."""
    for candidate in (Path(__file__).resolve().parent.parent / CONFIG_NAME, Path.cwd() / CONFIG_NAME):
        if candidate.is_file():
            return candidate
    raise ProvisionError("cannot find the project's mosquitto.conf: run from the repository root")


def render_config(template: str, made: BrokerSetup, source: Path | None = None,
                  plugin: Iterable[str] = (), tail: Iterable[str] = ()) -> str:
    """The template with its listener and file locations pointed at the set-up, all else kept.

    `plugin` lines replace the template's commented-out `#plugin...` lines (or follow its
    acl_file line when it has none); `tail` lines end the file (listeners, whose options are the
    lines after them).
    """
    plugin = list(plugin)
    placeholders = any(line.startswith("#plugin") for line in template.splitlines())
    rewrites = {
        "password_file": made.password_path,
        "acl_file": made.acl_path,
        "persistence_location": made.persistence_dir,
        "pid_file": made.pid_path,
    }
    out = [f"# Generated by `python -m broker setup` from {source or 'the project mosquitto.conf'}.",
           "# Edit that file, not this one: the next set-up overwrites this one.", ""]
    seen: set[str] = set()
    for line in template.splitlines():
        words = line.split()
        key = words[0] if words and not words[0].startswith("#") else None
        if line.startswith("#plugin"):
            out += plugin if "#plugin" not in seen else []
            seen.add("#plugin")
            continue
        if key == "listener":
            if key in seen:
                raise ProvisionError("the template has several listeners; the set-up renders exactly one")
            line = f"listener {made.port} {made.host}"
        elif key in rewrites:
            line = f"{key} {rewrites[key]}"
        elif key == "log_dest" and words[1:2] == ["file"]:
            line = f"log_dest file {made.log_path}"
        seen.add(key or "")
        out.append(line)
        if key == "acl_file" and plugin and not placeholders:
            out += ["# Session guard (broker/session_guard.c): see the project's mosquitto.conf.", *plugin]
    if "pid_file" not in seen:
        out += ["", "# Written by the broker at start; `python -m broker add-meter` sends SIGHUP to it.",
                f"pid_file {made.pid_path}"]
    out += list(tail)
    text = "\n".join(out) + "\n"
    _check_required(text)
    return text


def guarded(made: BrokerSetup) -> bool:
    """Whether the set-up loads the session guard."""
    return f"plugin {made.directory / session_guard.LIBRARY_NAME}" in made.config_path.read_text().splitlines()


def _guard_lines(made: BrokerSetup, wanted: bool | None, reserved_ids: Iterable[str]) -> list[str]:
    """Copy the session guard into the set-up and return its config lines (none when left out)."""
    if wanted is False:
        return []
    reserved = {}
    for client_id in reserved_ids:
        if not client_id or any(c.isspace() or c == "=" for c in client_id):
            raise ProvisionError(f"client id {client_id!r} cannot be reserved: no spaces or '=' in it")
        reserved[client_id] = INGEST_USER
    try:
        built = session_guard.build()
    except session_guard.GuardUnavailable as error:
        if wanted:
            raise ProvisionError(f"the session guard cannot be built: {error}") from None
        log.warning("the broker runs without the session guard (any account can take over another's "
                    "session by its client id): %s", error)
        return []
    library = made.directory / session_guard.LIBRARY_NAME
    shutil.copyfile(built, library)
    os.chmod(library, 0o755)
    claims = made.persistence_dir / session_guard.CLAIMS_NAME
    return session_guard.config_lines(library, claims, [INGEST_USER], reserved)


def _tls_lines(made: BrokerSetup, tls: tls_listener.TlsListener) -> list[str]:
    """Copy certificate and key into the set-up (the key for the broker's eyes only); the listener block."""
    try:
        tls.check()
    except tls_listener.TlsError as error:
        raise ProvisionError(str(error)) from None
    certfile, keyfile = tls_listener.installed_paths(made.directory)
    certfile.parent.mkdir(exist_ok=True)
    _give_to_broker(certfile.parent)
    _write(certfile, Path(tls.certfile).read_text(), 0o644)
    _write(keyfile, Path(tls.keyfile).read_text(), 0o600)
    return tls_listener.config_lines(tls.port, tls.host or made.host, certfile, keyfile)


def credentials(data_dir: Path, account: str | int) -> tuple[str, str]:
    """User name and password of "ingest", "watcher" or a meter id, from the data folder's secrets."""
    if account == INGEST_USER:
        return INGEST_USER, _secret(data_dir, INGEST_SECRET)
    if account == WATCHER_USER:
        return WATCHER_USER, _secret(data_dir, WATCHER_SECRET)
    meter_id = meter_id_of(account)
    return str(meter_id), meter_password(_secret(data_dir, METER_KEY), meter_id)


def meter_id_of(account: str | int) -> int:
    """A meter id from an int or a canonical decimal string, checked against the wire format."""
    text = str(account)
    if isinstance(account, bool) or not text.isdigit() or text != str(int(text)):
        raise ProvisionError(f"{account!r} is neither ingest, watcher nor a decimal meter id")
    if not 1 <= int(text) <= MAX_METER_ID:
        raise ProvisionError(f"meter id {text} is not between 1 and {MAX_METER_ID}")
    return int(text)


def add_meters(made: BrokerSetup, meter_ids: Iterable[int]) -> int:
    """Give these meters their accounts (replacing any old hash); returns how many were written."""
    accounts = {str(meter_id_of(m)): credentials(made.data_dir, m)[1] for m in meter_ids}
    with _locked(made):
        current = read_password_file(made.password_path)
        current.update(_hash(made, accounts))
        _write_passwords(made, current)
    return len(accounts)


def remove_meters(made: BrokerSetup, meter_ids: Iterable[int]) -> int:
    """Delete these meters' accounts; returns how many existed."""
    names = {str(meter_id_of(m)) for m in meter_ids}
    with _locked(made):
        current = read_password_file(made.password_path)
        kept = {user: line for user, line in current.items() if user not in names}
        _write_passwords(made, kept)
    return len(current) - len(kept)


def meters(made: BrokerSetup) -> list[int]:
    """The meter ids that have an account, in order."""
    return sorted(int(user) for user in read_password_file(made.password_path) if user.isdigit())


def running_pid(made: BrokerSetup) -> int | None:
    """The pid of the broker running this set-up, or None when none is."""
    try:
        pid = int(made.pid_path.read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    # A stale pid file (after kill -9) may name an unrelated process: signal only a mosquitto.
    return pid if b"mosquitto" in command.split(b"\0", 1)[0] else None


def reload(made: BrokerSetup) -> bool:
    """Make the running broker re-read passwords and ACL (SIGHUP); False when none runs."""
    pid = running_pid(made)
    if pid is None:
        return False
    os.kill(pid, signal.SIGHUP)
    log.info("sent SIGHUP to the broker (pid %s) to reload %s", pid, made.password_path)
    return True


def executable(name: str) -> str:
    """The path of a Mosquitto program; /usr/sbin is not on every user's PATH."""
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin", name), Path("/usr/bin", name)) if p.is_file()), None
    )
    if not found:
        raise ProvisionError(f"{name} is not installed: run `make setup` (apt-get install mosquitto mosquitto-clients)")
    return found


def read_password_file(path: Path) -> dict[str, str]:
    """The lines of a password file by user name."""
    if not path.exists():
        return {}
    lines = (line for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {line.split(":", 1)[0]: line for line in lines}


def _accounts(data_dir: Path, meter_ids: Iterable[int]) -> dict[str, str]:
    """Plaintext passwords by user name: the two services and the given meters."""
    names = [INGEST_USER, WATCHER_USER, *(meter_id_of(m) for m in meter_ids)]
    return dict(credentials(data_dir, name) for name in names)


def _hash(made: BrokerSetup, accounts: dict[str, str]) -> dict[str, str]:
    """Hashed password lines by user name, in Mosquitto's own format (no plaintext ever on disk)."""
    return {user: f"{user}:{hash_password(password)}" for user, password in accounts.items()}


def _write_passwords(made: BrokerSetup, lines: dict[str, str]) -> None:
    _write(made.password_path, "".join(line + "\n" for line in lines.values()), 0o600)


def _write(path: Path, text: str, mode: int) -> None:
    """Replace a file atomically, readable by the broker's user."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        _give_to_broker(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def _locked(made: BrokerSetup) -> Iterator[None]:
    """Serialise edits of the password file between concurrent commands."""
    with open(made.directory / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _broker_ids() -> tuple[int, int] | None:
    """uid and gid to give files to: the mosquitto user when we are root, else nobody (None)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(BROKER_USER)
    except KeyError:
        raise ProvisionError(f"user {BROKER_USER!r} does not exist: install the mosquitto package") from None
    return entry.pw_uid, entry.pw_gid


def _give_to_broker(path: Path) -> None:
    """Root starts Mosquitto, which then runs as `mosquitto`: it must own what it reads and writes."""
    ids = _broker_ids()
    if ids:
        os.chown(path, *ids)


def _check_reachable(directory: Path) -> None:
    """Fail early when the broker's user cannot enter the set-up folder (e.g. under a 0700 /tmp dir)."""
    ids = _broker_ids()
    if not ids:
        return
    for folder in [directory, *directory.parents]:
        info = folder.stat()
        if info.st_uid == ids[0]:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid == ids[1]:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            raise ProvisionError(
                f"the broker runs as {BROKER_USER!r}, which cannot enter {folder}: "
                f"put the set-up elsewhere or `chmod o+x {folder}`"
            )


def _usable_dir(directory: Path) -> Path:
    directory = Path(directory).resolve()
    if any(character.isspace() for character in str(directory)):
        raise ProvisionError(f"{directory} contains white space, which mosquitto.conf paths cannot hold")
    return directory


def _port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ProvisionError(f"port must be a TCP port number (1-65535), not {port!r}")
    return port


def _check_required(config: str) -> None:
    """SPEC §7: these settings must be explicit in every rendered config."""
    lines = {" ".join(line.split()) for line in config.splitlines()}
    for required in _REQUIRED:
        if not any(line == required or line.startswith(required + " ") for line in lines):
            raise ProvisionError(f"the broker config must say `{required}` explicitly (SPEC §7)")


def _secret(data_dir: Path, name: str) -> str:
    value, created = stored_secret(Path(data_dir), name)
    if created:
        log.info("generated the secret %s in %s", name, data_dir)
    assert value is not None
    return value
