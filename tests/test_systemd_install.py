"""scripts/install.sh and uninstall.sh, staged into a temporary DESTDIR (never the host)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from kiosk.config import KioskConfig, load_config, settings

REPO = Path(__file__).resolve().parent.parent


def run(script: str, dest: Path, **extra: str) -> str:
    env = {**os.environ, "DESTDIR": str(dest), "PIP_INSTALL": "0", "SYSTEMCTL": "0",
           "PYTHON": sys.executable, "VENV_ARGS": "--without-pip", "BUNDLE": "none",
           **extra}
    result = subprocess.run(["bash", str(REPO / "scripts" / script)], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_systemd_install_stages_venv_unit_and_commented_config(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    out = run("install.sh", dest)
    assert "skipped systemctl" in out
    assert (dest / "opt/kiosk/venv/bin/python").exists()
    unit = dest / "etc/systemd/system/kiosk.service"
    assert unit.read_text() == (REPO / "systemd/kiosk.service").read_text()
    conf = dest / "etc/kiosk/kiosk.toml"
    text = conf.read_text()
    assert tomllib.loads(text) == {}  # everything commented: defaults apply
    assert all(line == "" or line.startswith("#") for line in text.splitlines())
    for info in settings():
        assert re.search(rf"^# {info.name} = ", text, re.M), info.name
    # Uncommented, every line is valid TOML and gives exactly the defaults.
    active = tmp_path / "active.toml"
    active.write_text(re.sub(r"^# ([a-z_]+ = )", r"\1", text, flags=re.M))
    assert load_config(config_file=active, env={}) == KioskConfig()


def test_systemd_install_is_idempotent_and_keeps_admin_config(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    run("install.sh", dest)
    conf = dest / "etc/kiosk/kiosk.toml"
    conf.write_text('port = 80\n')
    out = run("install.sh", dest)
    assert "kept" in out
    assert conf.read_text() == "port = 80\n"
    assert (dest / "etc/kiosk/kiosk.toml.example").exists()


def test_systemd_uninstall_keeps_data_unless_purge(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    run("install.sh", dest)
    state = dest / "var/lib/kiosk"
    state.mkdir(parents=True)
    (state / "shares.sqlite").write_text("x")
    run("uninstall.sh", dest)
    run("uninstall.sh", dest)  # twice: idempotent
    assert not (dest / "opt/kiosk").exists()
    assert not (dest / "etc/systemd/system/kiosk.service").exists()
    assert (dest / "etc/kiosk/kiosk.toml").exists()
    assert (state / "shares.sqlite").exists()
    run("uninstall.sh", dest, PURGE="1")
    assert not (dest / "etc/kiosk").exists()
    assert not state.exists()
