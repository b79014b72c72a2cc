"""The optional TLS listener of a set-up: a second port with the same accounts, ACL and guard.

The server certificate and key are copied into the set-up (the key readable by the broker's
user only), so the originals may stay where the operator keeps them. Mosquitto re-reads both
on SIGHUP: renewing a certificate is `python -m broker setup` again (or copying the new files
over these) and a reload, with no restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TLS_DIR = "tls"
CERT_NAME = "server.crt"
KEY_NAME = "server.key"
MIN_VERSION = "tlsv1.2"


class TlsError(ValueError):
    """TLS files that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class TlsListener:
    """What the operator gives: a port, and PEM files of the server's certificate chain and key."""

    port: int
    certfile: Path
    keyfile: Path
    host: str | None = None  # None: the plain listener's address

    def check(self) -> None:
        """Fail early, with the file's name, instead of a broker that will not start."""
        for path, marker in ((self.certfile, "CERTIFICATE"), (self.keyfile, "PRIVATE KEY")):
            try:
                text = Path(path).read_text(errors="replace")
            except OSError as error:
                raise TlsError(f"cannot read {path}: {error.strerror}") from None
            if "-----BEGIN" not in text or marker not in text:
                raise TlsError(f"{path} is not a PEM {marker.lower()}")


def installed_paths(directory: Path) -> tuple[Path, Path]:
    """Where a set-up keeps its certificate and key."""
    return directory / TLS_DIR / CERT_NAME, directory / TLS_DIR / KEY_NAME


def config_lines(port: int, host: str, certfile: Path, keyfile: Path) -> list[str]:
    """The listener block of mosquitto.conf."""
    return [
        "",
        "# TLS listener (python -m broker setup --tls-port): the same accounts, ACL and session guard",
        "# as the plain listener, encrypted. Certificate and key are re-read on SIGHUP.",
        f"listener {port} {host}",
        f"certfile {certfile}",
        f"keyfile {keyfile}",
        f"tls_version {MIN_VERSION}",
    ]
