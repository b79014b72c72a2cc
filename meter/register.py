"""The cumulative energy register of a meter and the state file that keeps it across restarts.

The register counts whole watt-hours; the energy not yet on it is kept exactly, as an integer
count of millijoules (watt-milliseconds), so nothing is lost however small each step is. The state
file (`<data>/meters/<id>.json`, `{"ts_ms": ..., "wh": ..., "remainder": ...}` with the remainder
as a fraction of a watt-hour) is replaced atomically, so a crash of the process leaves either the
old or the new state, never half of one. It is not fsync'ed (1,000 meters write 200 files a
second): a power cut may cost the last seconds, which the ingest side sees as a small drop.

A state file that cannot be read is an error (`StateError`), never a silent restart from zero:
starting again from 0 Wh would make the register go backwards. The message names the file; the
operator deletes it to start that meter from zero on purpose.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

MAX_REGISTER_WH = 2**63 - 1
MJ_PER_WH = 3_600_000  # millijoules (watt-milliseconds) in a watt-hour


class StateError(RuntimeError):
    """A state file that cannot be used; the message names the file and what to do."""


@dataclass
class Register:
    """Energy counted so far: whole watt-hours, the millijoules of the next one, the last reading's time."""

    wh: int = 0
    remainder_mj: int = 0  # 0 <= remainder_mj < MJ_PER_WH, energy not yet on the register
    ts_ms: int = 0  # time of the latest reading, 0 before the first

    @property
    def remainder(self) -> float:
        """The energy not yet on the register, as a fraction of a watt-hour."""
        return self.remainder_mj / MJ_PER_WH

    def add(self, energy_mj: int) -> None:
        """Count `energy_mj` more millijoules; the register never goes back, so a negative amount counts nothing."""
        if energy_mj <= 0:
            return
        whole, self.remainder_mj = divmod(self.remainder_mj + energy_mj, MJ_PER_WH)
        self.wh = min(self.wh + whole, MAX_REGISTER_WH)

    def set(self, wh: int) -> None:
        """Put the register at `wh` (a reset, a replacement meter): the only way it goes down."""
        self.wh = min(max(wh, 0), MAX_REGISTER_WH)
        self.remainder_mj = 0

    def stamp(self, now_ms: int) -> int:
        """Record a reading at `now_ms`, or just after the previous one if the clock went back."""
        self.ts_ms = max(now_ms, self.ts_ms + 1)
        return self.ts_ms

    def as_dict(self) -> dict[str, int | float]:
        """The state file's JSON document."""
        return {"ts_ms": self.ts_ms, "wh": self.wh, "remainder": self.remainder}


def energy_mj(power_w: float, elapsed_ms: int) -> int:
    """Millijoules drawn at `power_w` for `elapsed_ms` (W x ms); nothing for a negative or unknown power."""
    energy = power_w * elapsed_ms
    return round(energy) if energy > 0 and math.isfinite(energy) else 0


def state_path(data_dir: Path, meter_id: int) -> Path:
    """Where meter `meter_id` keeps its register."""
    return data_dir / "meters" / f"{meter_id}.json"


def save_state(path: Path, register: Register) -> None:
    """Write the register to `path` atomically (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(register.as_dict()))
    os.replace(temporary, path)


def load_state(path: Path) -> Register | None:
    """The register stored at `path`, None when there is no file; `StateError` when it is unusable."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StateError(f"cannot read meter state {path}: {error.strerror}") from None
    try:
        return register_from(json.loads(text))
    except (ValueError, TypeError) as error:
        raise StateError(
            f"meter state {path} is unusable ({error}); "
            f"delete it to restart this meter's register from 0 Wh"
        ) from None


def register_from(document: object) -> Register:
    """Check and convert a state document; `ValueError` says what is wrong."""
    if not isinstance(document, dict) or set(document) != {"ts_ms", "wh", "remainder"}:
        raise ValueError('expected an object with "ts_ms", "wh" and "remainder"')
    ts_ms, wh, remainder = document["ts_ms"], document["wh"], document["remainder"]
    if not _is_int(ts_ms) or ts_ms < 0:
        raise ValueError(f'"ts_ms" must be a non-negative integer, not {ts_ms!r}')
    if not _is_int(wh) or not 0 <= wh <= MAX_REGISTER_WH:
        raise ValueError(f'"wh" must be an integer from 0 to 2^63-1, not {wh!r}')
    if isinstance(remainder, bool) or not isinstance(remainder, (int, float)) or not 0 <= remainder < 1:
        raise ValueError(f'"remainder" must be a number from 0 up to 1, not {remainder!r}')
    register = Register(wh=wh, ts_ms=ts_ms)
    register.add(round(remainder * MJ_PER_WH))  # exact for any remainder this module wrote
    return register


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
