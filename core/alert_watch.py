"""The per-meter row of the early-warning rules (`AlertWatch`): finding it, and forgetting what
it armed when the thresholds that armed it change."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.config import AlertConfig
from core.db import insert_ignore
from core.models import AlertWatch
from core.rules import POWER


def watch_for(session: Session, meter_id: int) -> AlertWatch:
    """The meter's early-warning state, created when missing."""
    watch = session.get(AlertWatch, meter_id)
    if watch is None:
        insert_ignore(session, AlertWatch.__table__, [{"meter_id": meter_id, "silent": False}])
        watch = session.get(AlertWatch, meter_id)
    return watch


def rearm(watch: AlertWatch, own_power_kw: object, config: AlertConfig) -> None:
    """Make the next batch arm the daily and projection rules again, with the thresholds in force.

    `own_power_kw` is the customer's own power limit (None: the configured one).
    """
    watch.day_end, watch.daily_at = None, None
    watch.proj_end, watch.proj_target_wh = None, None
    if POWER in config.disabled:
        watch.power_limit_w = 0
    elif own_power_kw is None:
        watch.power_limit_w = None
    else:
        watch.power_limit_w = int(config.power_kw * 1000)
