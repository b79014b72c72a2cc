"""What the demo prints once everything runs: where to look and ready-made commands."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

# The 21-byte reading payload (SPEC §4) as mosquitto_sub's %x prints it, 2 hex digits a byte.
PAYLOAD_LAYOUT = "01 = version | 8 digits = meter id | 16 = time, ms since 1970 UTC | 16 = register, Wh"


def banner(
    base_url: str,
    admin: str,
    tokens: dict[int, str],
    mqtt_host: str,
    mqtt_port: int,
    watcher: tuple[str, str],
    meters: int,
    data_dir: Path,
) -> str:
    """The text shown to the person who ran `make demo`."""
    first = min(tokens) if tokens else None
    curl_token = tokens[first] if first is not None else admin
    curl_id = first if first is not None else 1
    sub = (f"mosquitto_sub -h {mqtt_host} -p {mqtt_port} -u {shlex.quote(watcher[0])} "
           f"-P {shlex.quote(watcher[1])}")
    customer_line = (f"  Customer {first} token   {tokens[first]}" if first is not None
                     else "  Customer tokens    shown when first registered (use the admin token)")
    return "\n".join([
        "",
        f"Smart energy metering demo: {meters} meters publish every 5 s. Ctrl-C stops everything.",
        "",
        f"  Dashboard and API  {base_url}/",
        f"  Admin token        {admin}",
        customer_line,
        "",
        f"Customer {curl_id}, with the accumulated total:",
        f"  curl -H {shlex.quote('Authorization: Bearer ' + curl_token)} '{base_url}/usuario/?id={curl_id}'",
        "",
        "Live readings: the time received, the topic and the 21-byte payload in hex",
        f"({PAYLOAD_LAYOUT}):",
        f"  {sub} -t 'meters/+/reading' -F '%I %t %x'",
        "Alerts, JSON:",
        f"  {sub} -t 'alerts/+' -F '%I %t %p'",
        "",
        f"Logs in {_shown(data_dir / 'logs')}/, broker files in {_shown(data_dir / 'broker')}/, "
        f"customer tokens in {_shown(data_dir / 'secrets')}/.",
        "",
    ])


def _shown(path: Path) -> str:
    """A path relative to the current folder when it is inside it."""
    try:
        return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)
