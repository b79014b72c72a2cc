"""Settings.from_env: environment over TOML over defaults (SPEC §3)."""

from decimal import Decimal
from pathlib import Path

import pytest

from core.config import ConfigError, MqttTls, Settings


def test_defaults(tmp_path):
    settings = Settings.from_env({"ENERGY_DATA_DIR": str(tmp_path)})
    assert (settings.mqtt_host, settings.mqtt_port) == ("127.0.0.1", 1883)
    assert settings.timezone == "America/Sao_Paulo"
    assert settings.db_url == f"sqlite:///{(tmp_path / 'energy.db').resolve()}"
    assert settings.ingest_client_id == "energy-ingest"
    assert (settings.api_host, settings.api_port) == ("127.0.0.1", 8000)
    assert settings.tariff.price_per_kwh == Decimal("0.65")
    assert settings.closing_day == 10
    assert (settings.alerts.excess_kwh, settings.alerts.variation_kwh) == (150, 100)
    assert settings.raw_days == 90
    assert settings.admin_token is None


def test_the_data_folder_defaults_to_data(monkeypatch):
    settings = Settings.from_env({})
    assert settings.data_dir == Path("data")
    assert settings.db_url.endswith("/data/energy.db")


def test_toml_keys_of_the_spec(tmp_path):
    config = tmp_path / "energy.toml"
    config.write_text(
        'timezone = "UTC"\n[tariff]\nprice_per_kwh = "0.80"\nfixed_charge = "12.5"\nminimum_kwh = 30\n'
        "[billing]\nclosing_day = 31\n[alerts]\nexcess_kwh = 90\nvariation_kwh = 40\n[retention]\nraw_days = 0\n"
    )
    settings = Settings.from_env({"ENERGY_CONFIG": str(config)})
    assert settings.timezone == "UTC"
    assert settings.tariff.price_per_kwh == Decimal("0.80")
    assert settings.tariff.fixed_charge == Decimal("12.5")
    assert settings.tariff.minimum_kwh == 30
    assert settings.closing_day == 31
    assert (settings.alerts.excess_kwh, settings.alerts.variation_kwh) == (90, 40)
    assert settings.raw_days == 0


def test_environment_timezone_overrides_the_file(tmp_path):
    config = tmp_path / "energy.toml"
    config.write_text('timezone = "UTC"\n')
    settings = Settings.from_env({"ENERGY_CONFIG": str(config), "ENERGY_TIMEZONE": "Europe/Lisbon"})
    assert settings.timezone == "Europe/Lisbon"


def test_postgres_urls_use_psycopg_3():
    settings = Settings.from_env({"ENERGY_DB_URL": "postgresql://postgres@127.0.0.1:5432/test"})
    assert settings.db_url == "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.mark.parametrize("env, fragment", [
    ({"MQTT_PORT": "http"}, "MQTT_PORT"),
    ({"MQTT_PORT": "70000"}, "MQTT_PORT"),
    ({"ENERGY_TIMEZONE": "Mars/Olympus"}, "time zone"),
    ({"ENERGY_ADMIN_TOKEN": "short"}, "16 characters"),
    ({"ENERGY_CONFIG": "/nonexistent/energy.toml"}, "does not exist"),
])
def test_bad_values_give_errors_that_name_the_setting(env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        Settings.from_env(env)


@pytest.mark.parametrize("body, fragment", [
    ("[tariff]\nprice_per_kwh = \"abc\"\n", "tariff.price_per_kwh"),
    ("[tariff]\nprice_per_kwh = -1\n", "tariff.price_per_kwh"),
    ("[billing]\nclosing_day = 32\n", "billing.closing_day"),
    ("[billing]\nclosing_day = \"10\"\n", "billing.closing_day"),
    ("tariff = 3\n", "[tariff]"),
    ("not toml at all = = =\n", "not valid TOML"),
])
def test_bad_toml_values_are_named(tmp_path, body, fragment):
    config = tmp_path / "energy.toml"
    config.write_text(body)
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"ENERGY_CONFIG": str(config)})
    assert fragment in str(caught.value)


def test_mqtt_tls_is_off_by_default_and_on_with_a_ca_file(tmp_path):
    assert not Settings.from_env({}).mqtt_tls.enabled
    assert Settings.from_env({"MQTT_TLS": "1"}).mqtt_tls == MqttTls(True, None)
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    tls = Settings.from_env({"MQTT_TLS_CA": str(ca)}).mqtt_tls
    assert tls.enabled and tls.ca_file == ca


@pytest.mark.parametrize("env", [{"MQTT_TLS": "maybe"}, {"MQTT_TLS_CA": "/nonexistent/ca.crt"},
                                 {"MQTT_TLS": "0", "MQTT_TLS_CA": __file__}])
def test_bad_mqtt_tls_settings_are_refused(env):
    with pytest.raises(ConfigError, match="MQTT_TLS"):
        Settings.from_env(env)
