"""Settings that reach a file, a command line or a header are checked when loaded.

Issue #17 (8): ``hotspot_alias`` with a line break added lines (``dhcp-script=...``) to
the dnsmasq configuration that NetworkManager runs as root.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from kiosk.config import load_config
from kiosk.errors import ConfigError
from kiosk.hotspot.dnsmasq import render_snippet

INJECTION = "python\ndhcp-script=/tmp/evil.sh"

BAD = [
    ("hotspot_alias", INJECTION),
    ("hotspot_alias", "Python"),
    ("hotspot_alias", "two words"),
    ("hotspot_alias", "a.b"),
    ("hotspot_ssid", "class\nroom"),
    ("hotspot_ssid", "x" * 33),
    ("hotspot_password", "pass\nword-x"),
    ("hotspot_password", "short"),
    ("hotspot_country", "G\nB"),
    ("hotspot_channel", "99"),
    ("interfaces", "eth0,wlan0\nx"),
    ("interfaces", "eth0;reboot"),
    ("wifi_ssid", "class\nroom"),
    ("wifi_password", "pass\rword"),
    ("upstream_token", "abc\r\nX-Evil: 1"),
    ("data_note", "kept here\nINFO forged line"),
]


@pytest.mark.parametrize(("name", "value"), BAD)
def test_bad_value_is_refused_naming_the_setting(name, value, tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(env={}, overrides={name: value, "data_dir": tmp_path})
    assert name in str(info.value)


@pytest.mark.parametrize(("name", "value"), [
    ("hotspot_alias", "python"), ("hotspot_alias", "py-3"), ("hotspot_alias", ""),
    ("hotspot_ssid", "Room 12 Python"), ("hotspot_password", "correct horse 42"),
    ("hotspot_country", "de"), ("hotspot_channel", "11"), ("interfaces", "veth*,wlan0"),
])
def test_good_values_still_load(name, value, tmp_path):
    load_config(env={}, overrides={name: value, "data_dir": tmp_path})


def test_environment_injection_stops_the_start(tmp_path):
    """The real command: a poisoned KIOSK_HOTSPOT_ALIAS stops ``kiosk serve`` with a message."""
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk", "serve", "--port", "0", "--data-dir", str(tmp_path)],
        env={"KIOSK_HOTSPOT_ALIAS": INJECTION, "PATH": "/usr/bin:/bin",
             "HOME": str(tmp_path)}, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0
    assert "hotspot_alias" in proc.stderr


def test_dnsmasq_snippet_never_takes_a_second_line_from_a_name():
    with pytest.raises(ValueError):
        render_snippet(name="kiosk", alias=INJECTION, address="10.42.0.1")
    text = render_snippet(name="kiosk", alias="python", address="10.42.0.1")
    assert "host-record=python.lan,10.42.0.1" in text
    assert "dhcp-script" not in text
