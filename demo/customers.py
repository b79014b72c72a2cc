"""Registering the demo's customers through the API (`POST /usuario/cadastro/`, SPEC §5)."""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from core.credentials import secrets_dir

log = logging.getLogger(__name__)

TOKENS_FILE = "demo_customer_tokens.json"
NAMES = ["Ana Souza", "Bruno Lima", "Carla Dias", "Diego Melo", "Elisa Rocha", "Fábio Nunes", "Gabriela Reis"]


class ApiError(RuntimeError):
    """The API answered something the demo cannot go on with."""


def wait_for_api(base_url: str, timeout: float, still_starting: Callable[[], None]) -> None:
    """Poll /openapi.json until the API answers; `still_starting` raises if a child died meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        still_starting()
        try:
            with urllib.request.urlopen(f"{base_url}/openapi.json", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers, even if not with 200
        except OSError:
            if time.monotonic() > deadline:
                raise ApiError(f"the API did not answer at {base_url} within {timeout:.0f} s") from None
            time.sleep(0.2)


def register_customers(base_url: str, admin_token: str, ids: range, data_dir: Path) -> dict[int, str]:
    """Register customers `ids`; returns their tokens, kept from earlier runs when already registered."""
    tokens = _load_tokens(data_dir)
    for customer_id in ids:
        token = _register(base_url, admin_token, customer_id)
        if token:
            tokens[customer_id] = token
        elif customer_id not in tokens:
            log.info("customer %s was registered before this data folder kept its token", customer_id)
    _save_tokens(data_dir, tokens)
    return tokens


def set_alert_thresholds(base_url: str, admin_token: str, customer_id: int, changes: dict) -> None:
    """Give a customer its own alert thresholds (`PATCH /usuario/alertas/configuracao/`)."""
    _call(base_url, admin_token, "PATCH", f"/usuario/alertas/configuracao/?id={customer_id}", changes,
          f"setting the alert thresholds of customer {customer_id}")


def _register(base_url: str, admin_token: str, customer_id: int) -> str | None:
    """POST one customer; its token, or None when it exists already (409)."""
    body = {
        "id": customer_id,
        "nome": NAMES[(customer_id - 1) % len(NAMES)],
        "endereco": f"Rua das Flores, {100 + customer_id}",
    }
    answer = _call(base_url, admin_token, "POST", "/usuario/cadastro/", body, f"registering customer {customer_id}",
                   allowed=(409,))
    return answer.get("token") if answer else None


def _call(base_url: str, admin_token: str, method: str, path: str, body: dict, what: str,
          allowed: tuple[int, ...] = ()) -> dict | None:
    """One admin request with a JSON body; its JSON answer, None for an `allowed` error status."""
    request = urllib.request.Request(
        f"{base_url}{path}", data=json.dumps(body).encode(), method=method,
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        if error.code in allowed:
            return None
        raise ApiError(f"{what} answered {error.code}: {error.read().decode(errors='replace')[:300]}") from None


def _tokens_path(data_dir: Path) -> Path:
    return secrets_dir(data_dir) / TOKENS_FILE


def _load_tokens(data_dir: Path) -> dict[int, str]:
    try:
        return {int(key): value for key, value in json.loads(_tokens_path(data_dir).read_text()).items()}
    except (OSError, ValueError):
        return {}


def _save_tokens(data_dir: Path, tokens: dict[int, str]) -> None:
    """Customer tokens are shown once by the API: keep them (mode 0600) for the next demo run."""
    path = _tokens_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({str(key): value for key, value in sorted(tokens.items())}, handle, indent=1)
