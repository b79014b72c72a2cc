"""Looking at a running worker from outside: its /metrics, and its memory."""

from __future__ import annotations

from pathlib import Path

import requests


def scrape(port: int, host: str = "127.0.0.1") -> dict[str, float]:
    """The worker's /metrics as `{"name{labels}": value}` (comments left out)."""
    text = requests.get(f"http://{host}:{port}/metrics", timeout=5).text
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def rss_kib(pid: int) -> int:
    """Resident memory of a process, in KiB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")
