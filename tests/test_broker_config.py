"""Rendering the session guard and the TLS listener into a set-up's mosquitto.conf (pure parts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker import guard, provision, tls
from broker.provision import BrokerSetup, ProvisionError
from tests.support.broker import broker_folder

ROOT_CONFIG = Path(__file__).resolve().parent.parent / "mosquitto.conf"
MADE = BrokerSetup(Path("/srv/b"), Path("/srv/data"), "127.0.0.1", 1883, 8883)
PLUGIN = guard.config_lines(Path("/srv/b/g.so"), Path("/srv/b/data/claims"), ["ingest"], {"energy-ingest": "ingest"})


def directives(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_the_plugin_lines_replace_the_templates_commented_ones():
    rendered = directives(provision.render_config(ROOT_CONFIG.read_text(), MADE, plugin=PLUGIN))
    assert rendered[rendered.index("acl_file /srv/b/acl") + 1:][:4] == [
        "plugin /srv/b/g.so", "plugin_opt_service_users ingest",
        "plugin_opt_reserved energy-ingest=ingest", "plugin_opt_claims_file /srv/b/data/claims"]
    assert sum(line.startswith("plugin ") for line in rendered) == 1


def test_without_placeholders_the_plugin_follows_the_acl_file():
    template = "allow_anonymous false\npassword_file x\nacl_file y\nlistener 1883\npersistence true\n"
    rendered = directives(provision.render_config(template, MADE, plugin=PLUGIN))
    assert rendered[3:5] == ["plugin /srv/b/g.so", "plugin_opt_service_users ingest"]


def test_without_the_guard_no_plugin_line_is_left():
    rendered = provision.render_config(ROOT_CONFIG.read_text(), MADE)
    assert not [line for line in directives(rendered) if line.startswith("plugin")]


def test_the_tls_listener_ends_the_file_with_its_own_options():
    tail = tls.config_lines(8883, "0.0.0.0", Path("/srv/b/tls/server.crt"), Path("/srv/b/tls/server.key"))
    rendered = directives(provision.render_config(ROOT_CONFIG.read_text(), MADE, tail=tail))
    assert rendered[-4:] == ["listener 8883 0.0.0.0", "certfile /srv/b/tls/server.crt",
                             "keyfile /srv/b/tls/server.key", "tls_version tlsv1.2"]
    assert [line for line in rendered if line.startswith("listener")] == ["listener 1883 127.0.0.1", "listener 8883 0.0.0.0"]


@pytest.mark.parametrize("client_id", ["", "two words", "a=b", "tab\there"])
def test_client_ids_that_cannot_be_reserved(tmp_path, client_id):
    with broker_folder() as directory, pytest.raises(ProvisionError, match="cannot be reserved"):
        provision.setup(directory, 18830, tmp_path / "d", reserved_ids=[client_id])


def test_tls_files_that_are_not_pem_are_refused_before_the_broker_starts(tmp_path):
    bogus = tmp_path / "server.crt"
    bogus.write_text("not a certificate")
    listener = tls.TlsListener(18831, bogus, tmp_path / "missing.key")
    with broker_folder() as directory:
        with pytest.raises(ProvisionError, match="server.crt"):
            provision.setup(directory, 18830, tmp_path / "d", tls=listener, guard=False)
        with pytest.raises(ProvisionError, match="port of its own"):
            provision.setup(directory, 18831, tmp_path / "d", tls=listener, guard=False)


def test_a_guard_that_cannot_be_built_is_an_error_only_when_required(tmp_path, monkeypatch, caplog):
    def unavailable():
        raise guard.GuardUnavailable("no C compiler")

    monkeypatch.setattr(guard, "build", unavailable)
    with broker_folder() as directory:
        made = provision.setup(directory, 18830, tmp_path / "d")
        assert not provision.guarded(made) and "without the session guard" in caplog.text
        with pytest.raises(ProvisionError, match="no C compiler"):
            provision.setup(directory, 18830, tmp_path / "d", guard=True)


def test_a_built_guard_is_copied_into_the_set_up(tmp_path):
    with broker_folder() as directory:
        made = provision.setup(directory, 18830, tmp_path / "d", guard=True)
        assert provision.guarded(made) and (directory / guard.LIBRARY_NAME).is_file()
