"""What the demo prints once everything runs: where to look and ready-made commands."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from urllib.parse import quote

# `python -m ingest decode` turns mosquitto_sub's "<topic> <payload in hex>" lines into readings.
DECODE = ".venv/bin/python -m ingest decode"


def banner(
    base_url: str,
    admin: str,
    tokens: dict[int, str],
    mqtt_host: str,
    mqtt_port: int,
    watcher: tuple[str, str],
    meters: int,
    data_dir: Path,
    since: str = "0",
    metrics_url: str | None = None,
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
        *([f"They first replay {since} of history (a reading every 15 min), meter 1 with a water heater stuck",
           "on for the last day and a half: watch the bills close and the alerts come below."]
          if since != "0" else []),
        *(["Meter 2's water heater sticks 30 s from now; customer 2's power alert asks 2 minutes above",
           "8 kW (15 by default), so about 3 minutes in a `potencia` alert arrives on alerts/+ (below)."]
          if meters >= 2 else []),
        "",
        f"  Dashboard and API  {base_url}/",
        f"  Admin token        {admin}",
        customer_line,
        *([f"  Worker metrics     {metrics_url} (Prometheus text; /healthz beside it)"] if metrics_url else []),
        "",
        "Open a link to sign in to the dashboard (the token stays in the browser, out of server logs):",
        *([f"  customer {first}  {sign_in_link(base_url, tokens[first])}"] if first is not None else []),
        f"  operator    {sign_in_link(base_url, admin)}",
        "",
        f"Customer {curl_id}, with the accumulated total:",
        f"  curl -H {shlex.quote('Authorization: Bearer ' + curl_token)} '{base_url}/usuario/?id={curl_id}'",
        "",
        "Live readings (time of the reading, meter, register):",
        f"  {sub} -t 'meters/+/reading' -F '%t %x' | {DECODE}",
        "Alerts, as JSON:",
        f"  {sub} -t 'alerts/+' -F '%I %t %p'",
        "",
        f"Logs in {_shown(data_dir / 'logs')}/, broker files in {_shown(data_dir / 'broker')}/, "
        f"customer tokens in {_shown(data_dir / 'secrets')}/.",
        "",
    ])


def sign_in_link(base_url: str, token: str) -> str:
    """A link that signs in with `token`: the page reads the fragment, which browsers never send."""
    return f"{base_url}/#token={quote(token, safe='')}"


def _shown(path: Path) -> str:
    """A path relative to the current folder when it is inside it."""
    try:
        return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)
