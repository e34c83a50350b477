"""mDNS seen from another machine: network namespaces joined by a veth pair.

Each test builds its own LAN: namespace ``kt-<tag>-k`` holds the kiosk (veth address
198.51.100.1/24, a documentation range), namespace ``kt-<tag>-p`` holds the "other
machine" (198.51.100.2) running avahi-daemon, against which ``avahi-browse`` and
``avahi-resolve`` run, as a teacher's Linux laptop would. Each avahi-daemon gets a
private D-Bus system bus (a socket file in the test's tmp dir, passed as
DBUS_SYSTEM_BUS_ADDRESS) and a private /run (a tmpfs mounted inside the namespace's
mount namespace), so several can run at once and nothing touches the host's daemons.
Everything is torn down even when a test fails.

These need root (CI runs them as root) and fail, not skip, when they cannot run.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.qr_decode import banner_qr, terminal_qr_to_png, zbar_decode

pytestmark = [pytest.mark.netns, pytest.mark.slow]

KIOSK_IP = "198.51.100.1"
PEER_IP = "198.51.100.2"
NEW_KIOSK_IP = "198.51.100.3"
TOOLS = ["ip", "avahi-daemon", "avahi-browse", "avahi-resolve", "dbus-daemon", "mount"]
_ANNOUNCED_RE = re.compile(r"mDNS: announced as (\S+)")
_LISTEN_RE = re.compile(r"listening on (https?)://\S+?:(\d+)")


def _sh(*cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout,
                          check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr}")
    return proc


def _require_netns() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"netns tests need {', '.join(missing)} (apt-get install iproute2 "
                    "avahi-daemon avahi-utils dbus)")
    if os.geteuid() != 0:
        pytest.fail("netns tests need root to create network namespaces (CI runs them as "
                    "root); run them with sudo or deselect with -m 'not netns'")
    probe = f"kt-probe-{secrets.token_hex(3)}"
    proc = _sh("ip", "netns", "add", probe, check=False)
    if proc.returncode != 0:
        pytest.fail(f"'ip netns add' is unusable here: {proc.stderr.strip()}")
    _sh("ip", "netns", "del", probe, check=False)


@dataclass
class Proc:
    """A background process whose output is collected line by line."""

    popen: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    _thread: threading.Thread = field(init=False, repr=False)

    @classmethod
    def start(cls, cmd: list[str], env: dict[str, str] | None = None) -> Proc:
        popen = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, env={**os.environ, **(env or {})}, cwd=REPO)
        proc = cls(popen)
        proc._thread = threading.Thread(target=proc._pump, daemon=True, name="netns-pump")
        proc._thread.start()
        return proc

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                match = pattern.search(line)
                if match:
                    return match
            if self.popen.poll() is not None:
                time.sleep(0.2)  # let the pump read the last lines
                break
            time.sleep(0.05)
        for line in list(self.lines):
            match = pattern.search(line)
            if match:
                return match
        raise AssertionError(f"{pattern.pattern!r} not seen in {timeout}s:\n" + self.text)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def stop(self, timeout: float = 15) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            code = self.popen.wait(5)
        self._thread.join(5)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        return code


@dataclass
class Kiosk:
    proc: Proc
    port: int
    host_name: str  # e.g. "kt-ab12.local"

    def url(self, ip: str = KIOSK_IP) -> str:
        return f"http://{ip}:{self.port}/"


class Lan:
    """Two namespaces, a veth pair between them, avahi in the peer namespace."""

    def __init__(self, tmp: Path) -> None:
        self.tag = secrets.token_hex(3)
        self.tmp = tmp
        self.kiosk_ns = f"kt-{self.tag}-k"
        self.peer_ns = f"kt-{self.tag}-p"
        self.kiosk_if = f"vk{self.tag}"
        self.peer_if = f"vp{self.tag}"
        self.procs: list[Proc] = []
        self.peer_bus = ""

    # -- set-up and tear-down ---------------------------------------------------

    def up(self) -> None:
        _sh("ip", "netns", "add", self.kiosk_ns)
        _sh("ip", "netns", "add", self.peer_ns)
        _sh("ip", "link", "add", self.kiosk_if, "type", "veth", "peer", "name", self.peer_if)
        for ns, iface, ip in [(self.kiosk_ns, self.kiosk_if, KIOSK_IP),
                              (self.peer_ns, self.peer_if, PEER_IP)]:
            _sh("ip", "link", "set", iface, "netns", ns)
            _sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", iface)
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
            _sh("ip", "-n", ns, "link", "set", iface, "up")
            _sh("ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", iface)
        self.peer_bus = self.start_bus("peer")
        self.start_avahi(self.peer_ns, self.peer_if, f"peer{self.tag}", self.peer_bus, "peer")

    def down(self) -> None:
        for proc in reversed(self.procs):
            proc.stop(timeout=10)
        for ns in (self.kiosk_ns, self.peer_ns):
            _sh("ip", "netns", "del", ns, check=False)

    def start_bus(self, label: str) -> str:
        """A private D-Bus "system" bus; returns its address."""
        socket_path = self.tmp / f"{label}-bus"
        conf = self.tmp / f"{label}-bus.conf"
        conf.write_text(f"""<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket_path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
""")
        proc = Proc.start(["dbus-daemon", f"--config-file={conf}", "--nofork", "--nopidfile",
                           "--print-address"])
        self.procs.append(proc)
        proc.wait_for(re.compile(r"^unix:"), 10)
        return f"unix:path={socket_path}"

    def start_avahi(self, ns: str, iface: str, host_name: str, bus: str, label: str) -> Proc:
        """avahi-daemon in ``ns``, in the foreground, with its own bus and /run."""
        conf = self.tmp / f"{label}-avahi.conf"
        conf.write_text(f"""[server]
host-name={host_name}
use-ipv4=yes
use-ipv6=yes
allow-interfaces={iface}
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
""")
        script = ("mount -t tmpfs tmpfs /run && exec avahi-daemon --no-drop-root "
                  f"--no-chroot --no-rlimits -f {conf}")
        proc = Proc.start(["ip", "netns", "exec", ns, "sh", "-c", script],
                          env={"DBUS_SYSTEM_BUS_ADDRESS": bus})
        self.procs.append(proc)
        proc.wait_for(re.compile(r"Server startup complete"), 20)
        return proc

    # -- the kiosk ---------------------------------------------------------------

    def start_kiosk(self, name: str, *extra: str, label: str = "k1",
                    mdns: bool = True) -> Kiosk:
        data = self.tmp / f"data-{label}"
        cmd = ["ip", "netns", "exec", self.kiosk_ns, sys.executable, "-m", "kiosk", "serve",
               "--host", "0.0.0.0", "--port", "0", "--data-dir", str(data), "--name", name,
               "--interfaces", self.kiosk_if,
               "--mdns-enabled" if mdns else "--no-mdns-enabled", *extra]
        proc = Proc.start(cmd, env={"PYTHONUNBUFFERED": "1", "KIOSK_CONFIG": ""})
        self.procs.append(proc)
        port = int(proc.wait_for(_LISTEN_RE, 60).group(2))
        host = proc.wait_for(_ANNOUNCED_RE, 30).group(1) if mdns else ""
        return Kiosk(proc, port, host)

    # -- the other machine ---------------------------------------------------------

    def peer(self, *cmd: str, timeout: float = 20,
             check: bool = False) -> subprocess.CompletedProcess[str]:
        return _sh("env", f"DBUS_SYSTEM_BUS_ADDRESS={self.peer_bus}", "ip", "netns", "exec",
                   self.peer_ns, *cmd, timeout=timeout, check=check)

    def browse(self, type_: str) -> list[list[str]]:
        """Resolved IPv4 entries of ``avahi-browse -rpt TYPE`` as parsed fields."""
        out = self.peer("avahi-browse", "-rpt", type_, timeout=30).stdout
        return [line.split(";") for line in out.splitlines()
                if line.startswith("=;") and ";IPv4;" in line]

    def resolve(self, host: str) -> str | None:
        proc = self.peer("avahi-resolve", "-4", "-n", host, timeout=15)
        parts = proc.stdout.split()
        return parts[1] if proc.returncode == 0 and len(parts) == 2 else None

    def http_get(self, url: str) -> tuple[int, str]:
        """GET from the peer namespace (as a student's device on the LAN)."""
        code = ("import sys,urllib.request;r=urllib.request.urlopen(sys.argv[1],timeout=10);"
                "sys.stdout.write(str(r.status)+'\\n'+r.read().decode())")
        proc = self.peer(sys.executable, "-c", code, url, timeout=30, check=True)
        status, _, body = proc.stdout.partition("\n")
        return int(status), body


@pytest.fixture
def lan(tmp_path: Path) -> Iterator[Lan]:
    _require_netns()
    net = Lan(tmp_path)
    try:
        net.up()
        yield net
    finally:
        net.down()


def _txt(fields: list[str]) -> dict[str, str]:
    return dict(item.strip('"').split("=", 1) for item in re.findall(r'"[^"]*"', fields[9]))


def _wait(predicate, timeout: float, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def test_service_txt_and_address_seen_by_avahi(lan: Lan, tmp_path: Path):
    name = f"kt{lan.tag}"
    kiosk = lan.start_kiosk(name)
    assert kiosk.host_name == f"{name}.local"

    entries = _wait(lambda: [e for e in lan.browse("_jupyter-kiosk._tcp") if e[3] == name], 10)
    assert entries, lan.peer("avahi-browse", "-rpt", "_jupyter-kiosk._tcp").stdout
    entry = entries[0]
    assert entry[6] == f"{name}.local"
    assert entry[7] == KIOSK_IP
    assert int(entry[8]) == kiosk.port
    txt = _txt(entry)
    assert txt["name"] == name
    assert txt["path"] == "/"
    assert txt["api"] == "/api/v1"
    assert txt["sync"] == "off"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", txt["version"])
    assert len(txt["id"]) >= 8

    http = [e for e in lan.browse("_http._tcp") if e[3] == name]
    assert http and http[0][7] == KIOSK_IP and _txt(http[0])["path"] == "/"
    assert lan.resolve(f"{name}.local") == KIOSK_IP

    # A student's device on the LAN: /join.json names the interface it came through,
    # and that URL answers with the landing page.
    status, body = lan.http_get(kiosk.url() + "join.json")
    assert status == 200
    assert json.loads(body)["url"] == kiosk.url()
    assert json.loads(body)["local_url"] == f"http://{name}.local:{kiosk.port}/"
    status, body = lan.http_get(kiosk.url())
    assert status == 200 and "Python in your browser" in body

    # The start banner: IP URL first, then .local, then a QR code of the IP URL.
    banner = kiosk.proc.lines
    ip_line = next(i for i, line in enumerate(banner) if line.strip() == kiosk.url())
    local_line = next(i for i, line in enumerate(banner)
                      if f"http://{name}.local:{kiosk.port}/" in line)
    assert ip_line < local_line
    png = tmp_path / "banner.png"
    terminal_qr_to_png(banner_qr(banner), png)
    assert zbar_decode(png) == [kiosk.url()]

    # `kiosk qr` with no URL prints the kiosk's own IP URL.
    out = _sh("ip", "netns", "exec", lan.kiosk_ns, sys.executable, "-m", "kiosk", "qr",
              "--interfaces", lan.kiosk_if, "--port", str(kiosk.port), "--host", "0.0.0.0")
    png = tmp_path / "cli.png"
    terminal_qr_to_png(out.stdout.rsplit("\n", 2)[0], png)
    assert zbar_decode(png) == [kiosk.url()]

    # Goodbye on shutdown: the service disappears from the other machine's cache.
    assert kiosk.proc.stop() == 0
    assert "goodbye sent" in kiosk.proc.text
    gone = _wait(lambda: not [e for e in lan.browse("_jupyter-kiosk._tcp") if e[3] == name], 5)
    assert gone


def test_new_address_resolves_within_10s(lan: Lan):
    name = f"kt{lan.tag}"
    kiosk = lan.start_kiosk(name)
    assert _wait(lambda: lan.resolve(f"{name}.local") == KIOSK_IP, 10)

    _sh("ip", "-n", lan.kiosk_ns, "addr", "del", f"{KIOSK_IP}/24", "dev", lan.kiosk_if)
    _sh("ip", "-n", lan.kiosk_ns, "addr", "add", f"{NEW_KIOSK_IP}/24", "dev", lan.kiosk_if)
    changed = time.monotonic()
    resolved = _wait(lambda: lan.resolve(f"{name}.local") == NEW_KIOSK_IP, 10, interval=0.25)
    elapsed = time.monotonic() - changed
    print(f"new address resolved after {elapsed:.1f}s")
    assert resolved, f"still not {NEW_KIOSK_IP} after {elapsed:.1f}s:\n{kiosk.proc.text}"
    assert elapsed < 10

    entries = _wait(lambda: [e for e in lan.browse("_jupyter-kiosk._tcp")
                             if e[3] == name and e[7] == NEW_KIOSK_IP], 5)
    assert entries
    status, body = lan.http_get(kiosk.url(NEW_KIOSK_IP) + "join.json")
    assert status == 200 and json.loads(body)["url"] == kiosk.url(NEW_KIOSK_IP)


def test_two_kiosks_with_one_name_end_with_two_names(lan: Lan):
    name = f"kt{lan.tag}"
    first = lan.start_kiosk(name, label="k1")
    second = lan.start_kiosk(name, label="k2")
    assert first.host_name == f"{name}.local"
    assert second.host_name == f"{name}-2.local"
    assert "mDNS name conflict" in second.proc.text

    def names() -> set[str]:
        return {e[3] for e in lan.browse("_jupyter-kiosk._tcp")}

    assert _wait(lambda: {name, f"{name}-2"} <= names(), 10), names()
    by_name = {e[3]: e for e in lan.browse("_jupyter-kiosk._tcp")}
    assert by_name[name][6] == f"{name}.local"
    assert by_name[f"{name}-2"][6] == f"{name}-2.local"
    assert int(by_name[f"{name}-2"][8]) == second.port
    assert _txt(by_name[name])["id"] != _txt(by_name[f"{name}-2"])["id"]
    assert lan.resolve(f"{name}-2.local") == KIOSK_IP
    http = {e[3] for e in lan.browse("_http._tcp")}
    assert {name, f"{name}-2"} <= http


def test_coexists_with_avahi_that_owns_the_name(lan: Lan):
    """avahi-daemon runs on the kiosk's machine and owns <name>.local: the kiosk works,
    takes <name>-2.local and never answers for avahi's name."""
    name = f"kt{lan.tag}"
    bus = lan.start_bus("kiosk")
    avahi = lan.start_avahi(lan.kiosk_ns, lan.kiosk_if, name, bus, "kiosk")
    assert _wait(lambda: lan.resolve(f"{name}.local") == KIOSK_IP, 10)

    kiosk = lan.start_kiosk(name)
    assert kiosk.host_name == f"{name}-2.local"
    assert f"{name}.local is already answered by" in kiosk.proc.text
    entries = _wait(lambda: [e for e in lan.browse("_jupyter-kiosk._tcp")
                             if e[6] == f"{name}-2.local"], 10)
    assert entries and entries[0][7] == KIOSK_IP
    assert lan.resolve(f"{name}-2.local") == KIOSK_IP
    time.sleep(2)
    # avahi saw no conflict on its host name: the kiosk never claimed it.
    assert "conflict" not in avahi.text.lower(), avahi.text
    assert "Host name is" in avahi.text and f"{name}-2" not in avahi.text


@pytest.mark.browser
def test_join_page_over_the_lan(lan: Lan, tmp_path: Path):
    """Chromium on the other machine opens /join by the kiosk's LAN address: the QR code
    holds that address (not loopback, not .local) and it opens the landing page."""
    from tests.browserlib import BROWSER_DIR, require_browser

    require_browser()
    kiosk = lan.start_kiosk(f"kt{lan.tag}", "--wifi-ssid", "Lab", "--wifi-password", "pw;1")
    png = tmp_path / "join.png"
    params = {"url": kiosk.url() + "join", "out": str(png), "waitFor": ".main-qr svg"}
    proc = lan.peer("node", str(BROWSER_DIR / "join_qr.mjs"), json.dumps(params), timeout=120)
    result = json.loads([line for line in proc.stdout.splitlines() if line.strip()][-1])
    assert "error" not in result, result
    assert result["status"] == 200
    decoded = zbar_decode(png)
    assert kiosk.url() in decoded, decoded
    assert "WIFI:T:WPA;S:Lab;P:pw\\;1;;" in decoded
    status, body = lan.http_get(kiosk.url())
    assert status == 200 and "Python in your browser" in body
