"""Configuration: one frozen object built once from the environment and a TOML file (SPEC §3)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from functools import cached_property
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.rules import KINDS as ALERT_KINDS
from core.tariff_file import SPEC_KEYS, TariffError, parse_schedule
from core.tariffs import Schedule

DEFAULT_TIMEZONE = "America/Sao_Paulo"
DEFAULT_CLIENT_ID = "energy-ingest"
MIN_ADMIN_TOKEN_LENGTH = 16


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the key and the fix."""


@dataclass(frozen=True)
class TariffConfig:
    """The flat tariff of SPEC §3: price per kWh, a fixed charge per bill, a billed minimum."""

    price_per_kwh: Decimal = Decimal("0.65")
    fixed_charge: Decimal = Decimal("0")
    minimum_kwh: Decimal = Decimal("0")


@dataclass(frozen=True)
class AlertConfig:
    """Thresholds of the alert rules: the two of SPEC §6 (kWh) and the early warnings.

    A customer may override most of them (`core.alert_settings`); `disabled` names kinds of
    alert (`tipo`) that are never raised.
    """

    excess_kwh: Decimal = Decimal("150")
    variation_kwh: Decimal = Decimal("100")
    projection_after_days: Decimal = Decimal("3")  # projections count once this much of a cycle has passed
    daily_factor: Decimal = Decimal("3")  # a day above this many times the median day
    daily_window_days: int = 30  # the median is of the days before, this many at most...
    daily_min_days: int = 7  # ...and at least this many, all measured
    power_kw: Decimal = Decimal("8")  # sustained power above this...
    power_minutes: int = 15  # ...for this long
    silence_minutes: Decimal = Decimal("60")  # a meter that has sent nothing for this long
    disabled: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MqttTls:
    """TLS to the broker: on with `MQTT_TLS=1` (the system's CAs) or `MQTT_TLS_CA=<PEM file>`."""

    enabled: bool = False
    ca_file: Path | None = None  # None: the system's trusted CAs


@dataclass(frozen=True)
class Settings:
    """Everything a process needs to know about its environment."""

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    mqtt_tls: MqttTls = field(default_factory=MqttTls)
    data_dir: Path = Path("data")
    db_url: str = ""
    config_path: Path | None = None
    timezone: str = DEFAULT_TIMEZONE
    admin_token: str | None = None
    ingest_client_id: str = DEFAULT_CLIENT_ID
    ingest_batch: int = 10_000
    ingest_share_group: str | None = None
    ingest_metrics_host: str = "127.0.0.1"
    ingest_metrics_port: int = 0  # 0: no /metrics and /healthz server
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    tariff: TariffConfig = field(default_factory=TariffConfig)
    closing_day: int = 10
    due_days: int = 10  # a bill falls due this many days after its cycle closes
    tariffs: Schedule = field(default_factory=Schedule)  # everything of [tariff] but the SPEC keys
    alerts: AlertConfig = field(default_factory=AlertConfig)
    raw_days: int = 90
    prune_every_s: int = 3600  # how often the worker looks for raw readings past raw_days
    max_power_w: int = 60_000

    @property
    def zone(self) -> ZoneInfo:
        """The configured IANA time zone."""
        return ZoneInfo(self.timezone)

    @cached_property
    def schedule(self) -> Schedule:
        """Every tariff, with the SPEC §3 flat tariff as the plan `padrao`."""
        base = self.tariff
        return self.tariffs.with_base(base.price_per_kwh, base.fixed_charge, base.minimum_kwh)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Build the settings from environment variables over the TOML file over the defaults."""
        env = os.environ if environ is None else environ
        config_path = _path_or_none(env.get("ENERGY_CONFIG"))
        toml = _read_toml(config_path) if config_path else {}
        data_dir = Path(env.get("ENERGY_DATA_DIR") or "data")
        settings = cls(
            mqtt_host=env.get("MQTT_HOST") or "127.0.0.1",
            mqtt_port=_port(env.get("MQTT_PORT"), "MQTT_PORT", 1883),
            mqtt_username=env.get("MQTT_USERNAME") or None,
            mqtt_password=env.get("MQTT_PASSWORD") or None,
            mqtt_tls=_mqtt_tls(env.get("MQTT_TLS"), env.get("MQTT_TLS_CA")),
            data_dir=data_dir,
            db_url=normalize_db_url(env.get("ENERGY_DB_URL") or default_db_url(data_dir)),
            config_path=config_path,
            timezone=_timezone(env.get("ENERGY_TIMEZONE") or toml.get("timezone") or DEFAULT_TIMEZONE),
            admin_token=_admin_token(env.get("ENERGY_ADMIN_TOKEN")),
            ingest_client_id=env.get("INGEST_CLIENT_ID") or DEFAULT_CLIENT_ID,
            ingest_batch=_bounded(env.get("INGEST_BATCH_SIZE"), "INGEST_BATCH_SIZE", 10_000, 1, 60_000),
            ingest_share_group=env.get("INGEST_SHARE_GROUP") or None,
            ingest_metrics_host=env.get("INGEST_METRICS_HOST") or "127.0.0.1",
            ingest_metrics_port=_bounded(env.get("INGEST_METRICS_PORT"), "INGEST_METRICS_PORT", 0, 0, 65535),
            api_host=env.get("ENERGY_API_HOST") or "127.0.0.1",
            api_port=_port(env.get("ENERGY_API_PORT"), "ENERGY_API_PORT", 8000),
        )
        return apply_toml(settings, toml)

    def with_overrides(self, **changes: Any) -> "Settings":
        """A copy with some fields replaced (command-line flags over the environment)."""
        return replace(self, **changes)


def apply_toml(settings: Settings, toml: Mapping[str, Any]) -> Settings:
    """Fold the TOML sections of SPEC §3 into `settings`."""
    tariff = _section(toml, "tariff")
    billing = _section(toml, "billing")
    alerts = _section(toml, "alerts")
    retention = _section(toml, "retention")
    quality = _section(toml, "quality")
    return replace(
        settings,
        tariff=TariffConfig(
            price_per_kwh=_decimal(tariff, "tariff.price_per_kwh", settings.tariff.price_per_kwh),
            fixed_charge=_decimal(tariff, "tariff.fixed_charge", settings.tariff.fixed_charge),
            minimum_kwh=_decimal(tariff, "tariff.minimum_kwh", settings.tariff.minimum_kwh),
        ),
        closing_day=_int(billing, "billing.closing_day", settings.closing_day, 1, 31),
        due_days=_int(billing, "billing.due_days", settings.due_days, 0, 90),
        tariffs=_schedule(tariff) if set(tariff) - set(SPEC_KEYS) else settings.tariffs,
        alerts=_alerts(alerts, settings.alerts),
        raw_days=_int(retention, "retention.raw_days", settings.raw_days, 0, 100_000),
        prune_every_s=60 * _int(retention, "retention.every_minutes", settings.prune_every_s // 60, 1, 10_080),
        max_power_w=int(
            _decimal(quality, "quality.max_power_kw", Decimal(settings.max_power_w) / 1000) * 1000
        ),
    )


def _schedule(tariff: Mapping[str, Any]) -> Schedule:
    """The tariffs of the file beyond the SPEC keys (plans, flags, taxes...)."""
    try:
        return parse_schedule({key: value for key, value in tariff.items() if key not in SPEC_KEYS})
    except TariffError as error:
        raise ConfigError(str(error)) from None


def _alerts(table: Mapping[str, Any], current: AlertConfig) -> AlertConfig:
    """The [alerts] section: thresholds of every alert rule (issue 4)."""
    window = _int(table, "alerts.daily_window_days", current.daily_window_days, 1, 366)
    config = AlertConfig(
        excess_kwh=_decimal(table, "alerts.excess_kwh", current.excess_kwh),
        variation_kwh=_decimal(table, "alerts.variation_kwh", current.variation_kwh),
        projection_after_days=_decimal(table, "alerts.projection_after_days", current.projection_after_days),
        daily_factor=_decimal(table, "alerts.daily_factor", current.daily_factor),
        daily_window_days=window,
        daily_min_days=_int(table, "alerts.daily_min_days", min(current.daily_min_days, window), 1, window),
        power_kw=_decimal(table, "alerts.power_kw", current.power_kw),
        power_minutes=_int(table, "alerts.power_minutes", current.power_minutes, 1, 1440),
        silence_minutes=_decimal(table, "alerts.silence_minutes", current.silence_minutes),
        disabled=_kinds(table, "alerts.disabled", current.disabled),
    )
    for key in ("daily_factor", "power_kw", "silence_minutes"):
        if getattr(config, key) <= 0:
            raise ConfigError(f"alerts.{key} must be more than zero")
    return config


def _kinds(table: Mapping[str, Any], key: str, default: frozenset[str]) -> frozenset[str]:
    raw = table.get(key.rsplit(".", 1)[1])
    if raw is None:
        return default
    if not isinstance(raw, list) or any(kind not in ALERT_KINDS for kind in raw):
        raise ConfigError(f"{key} must be a list of alert kinds among {', '.join(ALERT_KINDS)}, not {raw!r}")
    return frozenset(raw)


def default_db_url(data_dir: Path) -> str:
    """The SQLite file in the data folder."""
    return f"sqlite:///{(data_dir / 'energy.db').resolve()}"


def normalize_db_url(url: str) -> str:
    """Point plain `postgresql://` URLs at psycopg 3, the driver this project installs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"ENERGY_CONFIG points at {path}, which does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None


def _section(toml: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = toml.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"[{name}] in the config file must be a table")
    return value


def _decimal(table: Mapping[str, Any], key: str, default: Decimal) -> Decimal:
    raw = table.get(key.rsplit(".", 1)[1])
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ConfigError(f"{key} must be a number or a decimal string, not {raw!r}")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ConfigError(f"{key} must be a decimal number such as \"0.65\", not {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise ConfigError(f"{key} must be a finite number of zero or more, not {raw!r}")
    return value


def _int(table: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    raw = table.get(key.rsplit(".", 1)[1])
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise ConfigError(f"{key} must be a whole number from {low} to {high}, not {raw!r}")
    return raw


def _port(raw: str | None, name: str, default: int) -> int:
    return _bounded(raw, name, default, 1, 65535)


def _bounded(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, not {raw!r}")
    return int(raw)


def _timezone(name: Any) -> str:
    if not isinstance(name, str):
        raise ConfigError(f"timezone must be an IANA zone name such as \"America/Sao_Paulo\", not {name!r}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r}: use an IANA name such as \"America/Sao_Paulo\"") from None
    return name


def _admin_token(raw: str | None) -> str | None:
    if not raw:
        return None
    if len(raw) < MIN_ADMIN_TOKEN_LENGTH:
        raise ConfigError(
            f"ENERGY_ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN_LENGTH} characters long"
        )
    return raw


def _mqtt_tls(flag: str | None, ca_file: str | None) -> MqttTls:
    """MQTT_TLS (1/true/yes or 0/false/no) and MQTT_TLS_CA; a CA file alone turns TLS on."""
    if flag and flag.lower() not in ("1", "true", "yes", "0", "false", "no"):
        raise ConfigError(f"MQTT_TLS must be 1 or 0 (true or false), not {flag!r}")
    enabled = bool(flag and flag.lower() in ("1", "true", "yes"))
    if not ca_file:
        return MqttTls(enabled)
    if flag and not enabled:
        raise ConfigError("MQTT_TLS_CA is set but MQTT_TLS turns TLS off: drop one of them")
    path = Path(ca_file)
    if not path.is_file():
        raise ConfigError(f"MQTT_TLS_CA points at {path}, which is not a file (a PEM file of the broker's CA)")
    return MqttTls(True, path)


def _path_or_none(raw: str | None) -> Path | None:
    return Path(raw) if raw else None
