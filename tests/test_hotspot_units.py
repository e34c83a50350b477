"""The hotspot's pure parts: nmcli argument lists (checked by nmcli itself), the dnsmasq
snippet (checked by dnsmasq itself), leases, the passphrase, the control plan, the CLI."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.errors import ConfigError
from kiosk.hotspot import control, dnsmasq, leases, nmcli, probes, state
from kiosk.hotspot.control import CommandResult

DOCS = Path(__file__).resolve().parent.parent / "docs"


def spec(**overrides):
    values = {"ssid": "kiosk", "passphrase": "otter-maple-comet-harbor-417", "country": "de",
              "channel": 6, "address": "10.42.0.1"}
    values.update(overrides)
    return nmcli.make_spec(**values)


def _nmcli_offline_supported() -> bool:
    if shutil.which("nmcli") is None:
        return False
    probe = subprocess.run(["nmcli", "--offline", "connection", "add", "type", "wifi",
                            "ssid", "x"], capture_output=True, text=True, check=False)
    return probe.returncode == 0 and "[wifi]" in probe.stdout


needs_nmcli = pytest.mark.skipif(not _nmcli_offline_supported(),
                                 reason="needs nmcli --offline (network-manager >= 1.42)")


def keyfile(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def offline(args: list[str], stdin: str | None = None) -> str:
    """Run an nmcli command list with --offline (no daemon): the keyfile it would store."""
    assert args[0] == "nmcli"
    rest = args[1:]
    if rest[:2] == ["connection", "modify"]:
        rest = ["connection", "modify", *rest[3:]]  # offline: the profile comes on stdin
    result = subprocess.run(["nmcli", "--offline", *rest], input=stdin, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


# -- nmcli ---------------------------------------------------------------------------------

def test_nmcli_add_command_is_a_wpa2_access_point_in_shared_mode():
    args = nmcli.add_command(spec())
    assert args[:8] == ["nmcli", "connection", "add", "type", "wifi", "con-name",
                        "kiosk-hotspot", "ifname"]
    pairs = dict(zip(args[11::2], args[12::2], strict=True))
    assert pairs["802-11-wireless.mode"] == "ap"
    assert pairs["ipv4.method"] == "shared"
    assert pairs["ipv4.addresses"] == "10.42.0.1/24"
    assert pairs["802-11-wireless-security.key-mgmt"] == "wpa-psk"
    assert pairs["802-11-wireless-security.proto"] == "rsn"
    assert pairs["802-11-wireless-security.pairwise"] == "ccmp"
    assert pairs["802-11-wireless-security.group"] == "ccmp"
    assert pairs["connection.autoconnect"] == "yes"
    assert pairs["connection.autoconnect-retries"] == "0"


@needs_nmcli
def test_nmcli_accepts_the_profile_and_stores_what_we_meant():
    out = offline(nmcli.add_command(spec()))
    kf = keyfile(out)
    assert kf["connection"]["id"] == "kiosk-hotspot"
    assert kf["connection"]["interface-name"] == "wlan0"
    assert kf["connection"]["autoconnect-priority"] == "100"
    assert kf["connection"]["autoconnect-retries"] == "0"
    assert kf["connection"].get("autoconnect", "true") == "true"  # default, so omitted
    assert dict(kf["wifi"]) == {"band": "bg", "channel": "6", "mode": "ap", "powersave": "2",
                                "ssid": "kiosk"}
    assert dict(kf["wifi-security"]) == {"group": "ccmp;", "key-mgmt": "wpa-psk",
                                         "pairwise": "ccmp;", "proto": "rsn;",
                                         "psk": "otter-maple-comet-harbor-417"}
    assert kf["ipv4"]["method"] == "shared"
    assert kf["ipv4"]["address1"] == "10.42.0.1/24"
    assert kf["ipv6"]["method"] == "disabled"


@needs_nmcli
def test_nmcli_modify_updates_channel_and_can_open_the_network():
    stored = offline(nmcli.add_command(spec()))
    changed = keyfile(offline(nmcli.modify_command(spec(channel=11, ssid="trip")), stored))
    assert changed["wifi"]["channel"] == "11"
    assert changed["wifi"]["ssid"] == "trip"
    opened = keyfile(offline(nmcli.modify_command(spec(passphrase=None)), stored))
    assert not opened.has_section("wifi-security")
    assert opened["wifi"]["mode"] == "ap"


@needs_nmcli
def test_nmcli_accepts_the_other_commands_arguments():
    # up/down/status need a running NetworkManager; the profile edits can be checked here.
    stored = offline(nmcli.add_command(spec()))
    off = keyfile(offline(nmcli.autoconnect_off_command(), stored))
    assert off["connection"]["autoconnect"] == "false"


@needs_nmcli
def test_nmcli_rejects_a_bad_channel_so_we_check_it_first():
    with pytest.raises(ConfigError, match="hotspot_channel"):
        spec(channel=99)


def test_open_network_has_no_security_and_status_never_shows_secrets():
    open_spec = spec(passphrase=None)
    assert not any(a.startswith("802-11-wireless-security") for a in
                   nmcli.add_command(open_spec))
    assert "--show-secrets" not in nmcli.status_command()
    assert "********" in nmcli.redact(nmcli.add_command(spec()))
    assert "otter-maple-comet-harbor-417" not in nmcli.redact(nmcli.add_command(spec()))


@pytest.mark.parametrize(("field", "value", "setting"), [
    ("ssid", "", "hotspot_ssid"), ("ssid", "x" * 33, "hotspot_ssid"),
    ("passphrase", "short", "hotspot_password"), ("passphrase", "é" * 10, "hotspot_password"),
    ("country", "GBR", "hotspot_country"), ("channel", 0, "hotspot_channel"),
    ("address", "10.42.0.0", "hotspot_address"), ("address", "kiosk", "hotspot_address"),
])
def test_bad_settings_name_the_setting(field, value, setting):
    with pytest.raises(ConfigError, match=setting):
        spec(**{field: value})


def test_country_is_set_persistently_on_pi_os_else_for_this_boot():
    assert nmcli.country_commands("DE", raspi_config=True) == [
        ["raspi-config", "nonint", "do_wifi_country", "DE"]]
    assert nmcli.country_commands("DE", raspi_config=False) == [["iw", "reg", "set", "DE"]]


def test_generated_passphrases_are_readable_and_valid():
    seen = set()
    for _ in range(200):
        p = nmcli.generate_passphrase()
        assert nmcli.check_passphrase(p) is None
        assert re.fullmatch(r"[a-z]+(-[a-z]+){3}-\d{3}", p)
        seen.add(p)
    assert len(seen) == 200


def test_parse_terse_status():
    out = ("connection.autoconnect:yes\n802-11-wireless.ssid:kiosk\n"
           "GENERAL.STATE:activated\nGENERAL.DEVICES:wlan0\n"
           "IP4.ADDRESS[1]:10.42.0.1/24\n")
    fields = nmcli.parse_terse(out)
    assert fields["GENERAL.STATE"] == "activated"
    assert fields["IP4.ADDRESS"] == "10.42.0.1/24"


# -- dnsmasq ---------------------------------------------------------------------------------

def test_snippet_names_the_kiosk_and_only_probe_hosts():
    text = dnsmasq.render_snippet(name="kiosk", alias="python", address="10.42.0.1")
    assert "host-record=kiosk.lan,10.42.0.1" in text
    assert "host-record=python.lan,10.42.0.1" in text
    assert "host-record=captive.apple.com,10.42.0.1" in text
    assert "host-record=dns.msftncsi.com,131.107.255.255,fd3e:4f5a:5b81::1" in text
    # Never a catch-all, never a general-purpose host.
    assert "address=" not in text
    for host in ("www.google.com", "www.apple.com", "www.gstatic.com", "google.com"):
        assert f"={host}," not in text


@pytest.mark.skipif(shutil.which("dnsmasq") is None, reason="needs dnsmasq")
def test_dnsmasq_accepts_the_snippet_under_networkmanagers_command_line(tmp_path):
    conf_dir = tmp_path / "dnsmasq-shared.d"
    conf_dir.mkdir()
    (conf_dir / dnsmasq.SNIPPET_NAME).write_text(
        dnsmasq.render_snippet(name="kiosk", alias="python", address="10.42.0.1"))
    args = dnsmasq.nm_shared_dnsmasq_args(address="10.42.0.1", prefix=24, conf_dir=conf_dir,
                                          lease_path=tmp_path / "l", pid_path=tmp_path / "p")
    result = subprocess.run([*args, "--test"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "syntax check OK" in result.stderr + result.stdout


def test_nm_command_line_matches_networkmanager_defaults(tmp_path):
    args = dnsmasq.nm_shared_dnsmasq_args(address="10.42.0.1", prefix=24, conf_dir=tmp_path,
                                          lease_path=tmp_path / "l", pid_path=tmp_path / "p")
    assert "--dhcp-range=10.42.0.10,10.42.0.254,60m" in args
    assert "--listen-address=10.42.0.1" in args
    assert f"--conf-dir={tmp_path}" in args


# -- leases ----------------------------------------------------------------------------------

LEASES = """\
1900000000 aa:bb:cc:00:00:01 10.42.0.23 phone-1 01:aa:bb:cc:00:00:01
1900000000 aa:bb:cc:00:00:02 10.42.0.24 * *
1000 aa:bb:cc:00:00:03 10.42.0.25 old *
0 aa:bb:cc:00:00:04 10.42.0.26 static *
duid 00:01:00:01:2c:aa
garbage
"""


def test_leases_count_active_devices(tmp_path):
    parsed = leases.parse_leases(LEASES)
    assert len(parsed) == 4
    assert len(leases.active_leases(parsed, now=1_800_000_000)) == 3
    path = tmp_path / "dnsmasq-wlan0.leases"
    assert leases.read_active_count(path, 0) is None
    path.write_text(LEASES)
    assert leases.read_active_count(path, 1_800_000_000) == 3


def test_client_load_levels_follow_the_field_notes():
    assert leases.assess(3).level == "ok"
    near = leases.assess(8)
    assert near.level == "near" and "10" in (near.message or "")
    over = leases.assess(11)
    assert over.level == "over" and "external access point" in (over.message or "")


# -- state and control -----------------------------------------------------------------------

def test_passphrase_is_generated_once_with_mode_0600(tmp_path):
    first = state.load_or_create_passphrase(tmp_path)
    assert state.load_or_create_passphrase(tmp_path) == first
    mode = stat.S_IMODE((tmp_path / state.PASSPHRASE_FILE).stat().st_mode)
    assert mode == 0o600


class FakeRunner:
    def __init__(self, results=None):
        self.calls: list[list[str]] = []
        self.results = results or {}

    async def __call__(self, args):
        self.calls.append(list(args))
        for prefix, result in self.results.items():
            if tuple(args[:len(prefix)]) == prefix:
                return result
        return CommandResult(0)


async def test_hotspot_on_writes_snippet_runs_plan_and_records_choice(make_config, tmp_path):
    config = make_config(port=80)
    runner = FakeRunner({tuple(nmcli.exists_command()): CommandResult(10),
                         ("iw",): CommandResult(1, stderr="iw: not found")})
    report = await control.hotspot_on(config, runner=runner, conf_dir=tmp_path / "conf")
    assert (tmp_path / "conf" / dnsmasq.SNIPPET_NAME).read_text() == control.snippet_for(config)
    commands = runner.calls[1:]
    assert commands[-2][:3] == ["nmcli", "connection", "add"]
    assert commands[-1] == nmcli.up_command()
    passphrase = (config.data_path / state.PASSPHRASE_FILE).read_text().strip()
    assert report.spec.passphrase == passphrase
    assert passphrase in commands[-2]
    assert all(passphrase not in c for c in report.commands)  # redacted for printing
    assert state.read_choice(config.data_path) == state.HotspotChoice("testkiosk", False)
    assert not report.warnings or "country" in report.warnings[0]


async def test_hotspot_on_modifies_an_existing_profile_and_warns_about_the_port(make_config,
                                                                             tmp_path):
    config = make_config(port=8000, hotspot_password="our-own-password")
    runner = FakeRunner()
    report = await control.hotspot_on(config, runner=runner, conf_dir=tmp_path,
                                      open_network=True)
    assert any(c[:4] == ["nmcli", "connection", "modify", "kiosk-hotspot"]
               and c[-2:] == ["remove", "802-11-wireless-security"] for c in runner.calls)
    assert any("port 8000" in w for w in report.warnings)
    assert not (config.data_path / state.PASSPHRASE_FILE).exists()


async def test_hotspot_on_reports_nmcli_failures_as_kiosk_errors(make_config, tmp_path):
    runner = FakeRunner({tuple(nmcli.up_command()): CommandResult(
        4, stderr="Error: Connection activation failed: No suitable device found.")})
    with pytest.raises(control.HotspotError, match="No suitable device"):
        await control.hotspot_on(make_config(), runner=runner, conf_dir=tmp_path)


async def test_hotspot_off_and_status(make_config, tmp_path):
    config = make_config()
    (tmp_path / dnsmasq.SNIPPET_NAME).write_text("x")
    runner = FakeRunner({tuple(nmcli.down_command()): CommandResult(10)})
    notes = await control.hotspot_off(config, runner=runner, conf_dir=tmp_path)
    assert notes == ["the hotspot profile was not active"]
    assert not (tmp_path / dnsmasq.SNIPPET_NAME).exists()
    status_out = ("connection.autoconnect:yes\n802-11-wireless.ssid:kiosk\n"
                  "802-11-wireless.channel:6\nGENERAL.STATE:activated\n"
                  "GENERAL.DEVICES:wlan0\nIP4.ADDRESS[1]:10.42.0.1/24\n")
    lease_dir = tmp_path / "nm"
    lease_dir.mkdir()
    (lease_dir / "dnsmasq-wlan0.leases").write_text(
        "".join(f"1999999999 aa:bb:cc:00:00:{i:02x} 10.42.0.{10 + i} * *\n" for i in range(9)))
    info = await control.hotspot_status(
        config, runner=FakeRunner({tuple(nmcli.status_command()): CommandResult(0, status_out)}),
        lease_dir=lease_dir)
    assert info["active"] and info["autoconnect"] and info["clients"] == 9
    assert info["level"] == "near"


# -- CLI and docs ----------------------------------------------------------------------------

def test_cli_config_prints_commands_and_snippet_without_running_anything(capsys, tmp_path):
    code = main(["hotspot", "config", "--data-dir", str(tmp_path), "--name", "trip"])
    out = capsys.readouterr().out
    assert code == 0
    assert "nmcli connection add type wifi con-name kiosk-hotspot" in out
    assert "host-record=trip.lan,10.42.0.1" in out
    assert "802-11-wireless-security.psk '********'" in out
    assert not any(tmp_path.iterdir())  # no passphrase generated by a dry run


def test_cli_off_dry_run(capsys):
    assert main(["hotspot", "off", "--dry-run"]) == 0
    assert "nmcli connection down kiosk-hotspot" in capsys.readouterr().out


def test_docs_probe_table_is_current():
    text = (DOCS / "hotspot.md").read_text()
    assert probes.probe_table_markdown() in text, (
        "docs/hotspot.md is out of date: paste kiosk.hotspot.probes.probe_table_markdown()")


def test_probe_answers():
    assert probes.online_answer("connectivitycheck.gstatic.com", "/generate_204").status == 204
    assert probes.online_answer("www.msftncsi.com", "/ncsi.txt").body == "Microsoft NCSI"
    assert probes.online_answer("CAPTIVE.APPLE.COM.", "/x/y.html").body.startswith("<HTML>")
    assert probes.online_answer("kiosk.lan", "/generate_204") is None


@pytest.mark.skipif(os.geteuid() != 0, reason="checks ownership as root")
def test_files_written_as_root_take_the_data_directory_owner(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, 12345, 12345)
    state.save_choice(data, state.HotspotChoice("kiosk", False))
    st = (data / state.STATE_FILE).stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (12345, 12345, 0o600)
