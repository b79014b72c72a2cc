"""`python -m meter health`: whether the meters of this data folder are publishing, for a health check.

A meter writes its state file before every reading it publishes (`meter.register`), so a state
file written within the last `--within` seconds means a meter of this folder took a reading
then. Exit status 0 when one did, 1 when none did (or there are none), with a line saying which.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Sequence

DEFAULT_WITHIN_S = 60.0


def freshest_state(meters_dir: Path) -> float | None:
    """Modification time of the most recently written state file, None when there is none."""
    newest = None
    try:
        entries = os.scandir(meters_dir)
    except OSError:
        return None
    with entries:
        for entry in entries:
            if entry.name.endswith(".json"):
                try:
                    modified = entry.stat().st_mtime
                except OSError:
                    continue  # replaced between listing and stat
                newest = modified if newest is None else max(newest, modified)
    return newest


def main(argv: Sequence[str]) -> int:
    """Check the data folder's meters; print one line; 0 when healthy."""
    parser = argparse.ArgumentParser(prog="python -m meter health", description=__doc__)
    parser.add_argument("--within", type=float, default=DEFAULT_WITHIN_S,
                        help=f"seconds since the latest reading (default {DEFAULT_WITHIN_S:g})")
    parser.add_argument("--data-dir", help="data folder (default ENERGY_DATA_DIR, else ./data)")
    args = parser.parse_args(argv)
    meters_dir = Path(args.data_dir or os.environ.get("ENERGY_DATA_DIR") or "data") / "meters"
    newest = freshest_state(meters_dir)
    if newest is None:
        print(f"unhealthy: no meter state in {meters_dir}", file=sys.stderr)
        return 1
    age = time.time() - newest
    if age > args.within:
        print(f"unhealthy: the latest reading in {meters_dir} is {age:.0f} s old", file=sys.stderr)
        return 1
    print(f"ok: a meter of {meters_dir} read {age:.1f} s ago")
    return 0
