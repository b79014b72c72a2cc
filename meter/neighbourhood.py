"""Meters built from the configuration: one (`python -m meter --id N`) or a street of them.

Each meter gets its own premises (drawn from the seed and its id, so the same id is the same
home on every run: mostly homes, a few small businesses, unless `kinds` says otherwise), its
own noise, its own state file, its own broker login, and the faults it was told to show. The
street shares one weather, so its air conditioners run on the same hot days.
"""

from __future__ import annotations

import logging
import random
import resource
from typing import Iterable, Mapping

from core.config import Settings
from meter.anomalies import NO_FAULTS, Script
from meter.device import Meter
from meter.link import Link, login_for, site_key
from meter.premises import drawn_kind, premises
from meter.profiles import Sum
from meter.publisher import Station
from meter.register import state_path
from meter.seasons import Weather

log = logging.getLogger(__name__)

MAX_METER_ID = 2**32 - 1
FILES_PER_METER = 2  # its socket, and its state file while it is written


def household_seed(seed: int, meter_id: int) -> int:
    """The seed of meter `meter_id`'s household within a run seeded with `seed`."""
    return seed * (MAX_METER_ID + 1) + meter_id


def build_stations(meter_ids: Iterable[int], settings: Settings, seed: int = 0,
                   kinds: Mapping[int, str] | None = None,
                   scripts: Mapping[int, Script] | None = None) -> list[Station]:
    """A station per id: its meter restored from its state file, its link not yet connected.

    `kinds` chooses the premises of some meters ("home", "shop", "bakery"; drawn otherwise),
    `scripts` their faults. Raises `StateError` when a state file is unusable, `OSError` when the
    data folder is not writable.
    """
    ids = list(meter_ids)
    kinds, scripts = kinds or {}, scripts or {}
    key = site_key(settings.data_dir)
    quiet = len(ids) > 1
    weather = Weather(seed)
    stations = []
    for meter_id in ids:
        personal = household_seed(seed, meter_id)
        script = scripts.get(meter_id, NO_FAULTS)
        profile = premises(kinds.get(meter_id) or drawn_kind(personal), personal, weather)
        meter = Meter.restore(
            meter_id,
            Sum((profile, *script.loads())) if script.loads() else profile,
            settings.zone,
            random.Random(f"noise:{personal}"),
            state_path(settings.data_dir, meter_id),
            script.register_settings(),
        )
        meter.save()  # fail now, not at the first reading, when the folder is not writable
        link = Link(meter_id, login_for(meter_id, settings, key), quiet=quiet)
        stations.append(Station(meter, link, script=script))
    return stations


def raise_file_limit(meters: int) -> None:
    """Lift the soft limit on open files as far as needed (and allowed) for `meters` connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FILES_PER_METER * meters + 64
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
        if new_soft < wanted:
            log.warning("only %d open files allowed: not every one of %d meters may connect", new_soft, meters)
