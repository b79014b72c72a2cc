"""One simulated meter: a household profile driving a register. No network, no wall clock.

The caller says what time it is; the meter integrates the profile's power since its previous
reading and answers with a `Reading`. After a restart it continues from the stored register at
the time it is started again: the energy of the time it was off is not invented.

A meter may be told to set its register at given instants (a reset to 0, a replacement meter
starting elsewhere: `meter.anomalies`). Each happens when the meter's time first passes it, so a
meter restarted from its state file does not do it again.
"""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core.wire import Reading
from meter.profiles import Profile
from meter.register import Register, energy_mj, load_state, save_state

# The profile is sampled at least this often, so a long step (a slow interval, a replayed
# history) still sees the shower and the refrigerator instead of one arbitrary instant.
MAX_STEP_MS = 60_000


class Meter:
    """A meter with its id, the household it measures, its register and where the register is kept."""

    def __init__(
        self,
        meter_id: int,
        profile: Profile,
        zone: ZoneInfo,
        rng: random.Random,
        register: Register | None = None,
        state_file: Path | None = None,
        resets: tuple[tuple[int, int], ...] = (),
    ):
        self.meter_id = meter_id
        self.profile = profile
        self.zone = zone
        self.rng = rng
        self.register = register or Register()
        self.state_file = state_file
        self.resets = tuple(sorted(resets))  # (instant in ms, register in Wh from then on)
        self._since_ms: int | None = None  # up to when the register holds the energy drawn

    @classmethod
    def restore(cls, meter_id: int, profile: Profile, zone: ZoneInfo, rng: random.Random,
                state_file: Path, resets: tuple[tuple[int, int], ...] = ()) -> "Meter":
        """The meter with the register stored in `state_file`, or a new one at 0 Wh; `StateError` if unusable."""
        return cls(meter_id, profile, zone, rng, load_state(state_file), state_file, resets)

    def read(self, now_ms: int) -> Reading:
        """Advance the register to `now_ms` and take a reading (timestamps strictly increase)."""
        previous_ms = self.register.ts_ms
        ts_ms = self.register.stamp(now_ms)
        counted_from = self._since_ms
        for at_ms, wh in self.resets:
            if previous_ms < at_ms <= ts_ms:  # the energy before the reset goes on the old register
                if counted_from is not None:
                    self.register.add(self.energy_between(counted_from, at_ms))
                    counted_from = at_ms  # else the meter was off: invent nothing, as at any start
                self.register.set(wh)
        if counted_from is not None:
            self.register.add(self.energy_between(counted_from, ts_ms))
        self._since_ms = ts_ms
        return Reading(self.meter_id, ts_ms, self.register.wh)

    def energy_between(self, start_ms: int, end_ms: int) -> int:
        """Millijoules drawn from `start_ms` to `end_ms`, the profile sampled in the middle of each step."""
        total = 0
        while start_ms < end_ms:
            step = min(MAX_STEP_MS, end_ms - start_ms)
            middle = datetime.fromtimestamp((start_ms + step / 2) / 1000, self.zone)
            total += energy_mj(self.profile.power_w(middle, self.rng), step)
            start_ms += step
        return total

    def save(self) -> None:
        """Write the register to the state file, when the meter has one."""
        if self.state_file is not None:
            save_state(self.state_file, self.register)
