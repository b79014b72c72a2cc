"""Waiting for a condition instead of sleeping for a guessed time."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    timeout: float = 10.0,
    message: str | Callable[[], str] = "condition",
    interval: float = 0.05,
) -> T:
    """Poll `condition` until it returns something truthy, and return that.

    Raises TimeoutError naming `message` (a string, or a function called only on failure, e.g.
    to attach the tail of a log) when `timeout` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise TimeoutError(f"timed out after {timeout} s waiting for {text}")
        time.sleep(interval)
