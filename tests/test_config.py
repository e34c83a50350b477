"""Configuration: precedence, types, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import KioskConfig, load_config, settings
from kiosk.errors import ConfigError


def test_defaults():
    config = load_config(env={})
    assert config.host == "0.0.0.0" and config.port == 8000
    assert config.max_notebook_bytes == 10 * 1024 * 1024
    assert config.sync_enabled is False and config.upstream_url is None


def test_precedence_file_then_env_then_flags(tmp_path: Path):
    toml = tmp_path / "kiosk.toml"
    toml.write_text('port = 8100\nname = "lab-3"\ninterfaces = ["eth0", "wlan0"]\n')
    config = load_config(config_file=toml, env={})
    assert (config.port, config.name, config.interfaces) == (8100, "lab-3", ("eth0", "wlan0"))
    config = load_config(config_file=toml, env={"KIOSK_PORT": "8200"})
    assert config.port == 8200 and config.name == "lab-3"
    config = load_config(config_file=toml, env={"KIOSK_PORT": "8200"}, overrides={"port": 8300})
    assert config.port == 8300


def test_kiosk_table_and_env_file(tmp_path: Path):
    toml = tmp_path / "k.toml"
    toml.write_text("[kiosk]\nmdns_enabled = false\n")
    config = load_config(env={"KIOSK_CONFIG": str(toml), "KIOSK_DATA_DIR": str(tmp_path)})
    assert config.mdns_enabled is False
    assert config.data_path == tmp_path
    assert config.bundles_path == tmp_path / "bundles"


@pytest.mark.parametrize(
    ("source", "key", "words"),
    [
        ({"KIOSK_PORT": "eighty"}, "port", "whole number"),
        ({"KIOSK_PORT": "70000"}, "port", "between 0 and 65535"),
        ({"KIOSK_NAME": "My Kiosk"}, "name", "lowercase"),
        ({"KIOSK_MDNS_ENABLED": "perhaps"}, "mdns_enabled", "true or false"),
        ({"KIOSK_UPSTREAM_URL": "ftp://x"}, "upstream_url", "http"),
        ({"KIOSK_SYNC_ENABLED": "yes"}, "sync_enabled", "needs upstream_url"),
        ({"KIOSK_TOKEN_DAYS": "-1"}, "token_days", "greater than 0"),
        ({"KIOSK_TLS_CERT": "/x.pem"}, "tls_cert", "together"),
    ],
)
def test_bad_values_name_the_key(source, key, words):
    with pytest.raises(ConfigError) as info:
        load_config(env=source)
    assert info.value.key == key
    assert words in info.value.message


def test_bad_toml_and_unknown_key(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("port = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(config_file=bad, env={})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("prot = 80\n")
    with pytest.raises(ConfigError) as info:
        load_config(config_file=unknown, env={})
    assert info.value.key == "prot"
    with pytest.raises(ConfigError, match="file not found"):
        load_config(config_file=tmp_path / "missing.toml", env={})


def test_systemd_state_directory(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    assert load_config(env={}).data_path == tmp_path / "state"


def test_secrets_are_redacted():
    config = load_config(env={"KIOSK_WIFI_PASSWORD": "hunter22", "KIOSK_UPSTREAM_TOKEN": "tok"})
    shown = config.redacted()
    assert shown["wifi_password"] == "***" and shown["upstream_token"] == "***"
    assert "hunter22" not in repr(shown)


def test_every_setting_has_help_and_an_env_name():
    infos = settings()
    assert {i.name for i in infos} == set(KioskConfig.__dataclass_fields__)
    for info in infos:
        assert info.help.strip(), info.name
        assert info.env == "KIOSK_" + info.name.upper()
