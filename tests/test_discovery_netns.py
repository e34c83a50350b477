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
import tempfile
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


# -- several links, several kiosks ----------------------------------------------------
#
# `Net` builds any small topology: namespaces, veth pairs, an optional bridge (a
# "switch" namespace) and avahi-daemons with private buses. Names carry the test
# process id and a random tag, so tests running at the same time never collide.

LINK_B_KIOSK_IP = "203.0.113.1"
LINK_B_PEER_IP = "203.0.113.2"
LINK_B_NEW_KIOSK_IP = "203.0.113.3"
SECOND_KIOSK_IP = "198.51.100.3"
NOBODY = 65534

# A legacy unicast mDNS query (RFC 6762 §6.7) for NAME's A and AAAA records, sent
# from an ephemeral port on one link; prints every address in every answer heard
# within 2 s, one per line. Run with the project's Python inside a peer namespace.
_RAW_QUERY = r"""
import socket, struct, sys, time
from zeroconf import DNSIncoming
name, local = sys.argv[1], sys.argv[2]
qname = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
packet = struct.pack("!6H", 0x4B1D, 0, 2, 0, 0, 0) + qname + struct.pack("!2H", 1, 1)
packet += qname + struct.pack("!2H", 28, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((local, 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(local))
s.sendto(packet, ("224.0.0.251", 5353))
s.settimeout(0.2)
found = set()
end = time.monotonic() + 2.0
while time.monotonic() < end:
    try:
        data, sender = s.recvfrom(9000)
    except socket.timeout:
        continue
    msg = DNSIncoming(data)
    for record in msg.answers():
        if record.type in (1, 28) and record.name.lower() == name.lower() + ".":
            found.add(socket.inet_ntop(socket.AF_INET if record.type == 1 else socket.AF_INET6,
                                       record.address))
print("\n".join(sorted(found)))
"""


class Net:
    """A topology of namespaces for several kiosks and peers; everything is undone
    by :meth:`down`, in reverse, even after a failure."""

    def __init__(self, tmp: Path) -> None:
        self.tag = f"{os.getpid() % 1000}{secrets.token_hex(2)}"
        self.tmp = tmp
        self.namespaces: list[str] = []
        self.procs: list[Proc] = []
        self.buses: dict[str, str] = {}  # namespace → its avahi's bus address
        self.cleanup_dirs: list[Path] = []
        self._helper = Lan(tmp)  # for start_bus/start_avahi, sharing our process list
        self._helper.procs = self.procs

    def ns(self, role: str, *, ipv6: bool = True) -> str:
        name = f"kt{self.tag}-{role}"
        _sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        _sh("ip", "-n", name, "link", "set", "lo", "up")
        if not ipv6:
            _sh("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            _sh("ip", "netns", "exec", name, "sysctl", "-qw",
                "net.ipv6.conf.default.disable_ipv6=1")
        return name

    def veth(self, ns_a: str, if_a: str, ip_a: str | None, ns_b: str, if_b: str,
             ip_b: str | None) -> None:
        """A veth pair between two namespaces, up, with /24 addresses (None: none)."""
        _sh("ip", "link", "add", if_a, "type", "veth", "peer", "name", if_b)
        for ns, iface, ip in [(ns_a, if_a, ip_a), (ns_b, if_b, ip_b)]:
            _sh("ip", "link", "set", iface, "netns", ns)
            if ip is not None:
                _sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", iface)
            _sh("ip", "-n", ns, "link", "set", iface, "up")
            if ip is not None:  # the first link of a namespace takes the multicast route
                _sh("ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", iface, check=False)

    def avahi(self, ns: str, iface: str, label: str) -> Proc:
        bus = self._helper.start_bus(label)
        self.buses[ns] = bus
        return self._helper.start_avahi(ns, iface, f"{label}{self.tag}", bus, label)

    def down(self) -> None:
        for proc in reversed(self.procs):
            proc.stop(timeout=10)
        for ns in reversed(self.namespaces):
            _sh("ip", "netns", "del", ns, check=False)
        for path in self.cleanup_dirs:
            shutil.rmtree(path, ignore_errors=True)

    def start_kiosk(self, ns: str, name: str, interfaces: str, *extra: str,
                    label: str, unprivileged: bool = False) -> Kiosk:
        """A kiosk in ``ns``; ``unprivileged`` runs it as ``nobody`` with no
        capabilities at all, as the systemd unit's dynamic user is."""
        data = self.tmp / f"data-{label}"
        prefix: list[str] = []
        env = {"PYTHONUNBUFFERED": "1", "KIOSK_CONFIG": ""}
        if unprivileged:
            data = Path(tempfile.mkdtemp(prefix=f"kt{self.tag}-", dir="/tmp"))
            self.cleanup_dirs.append(data)
            os.chown(data, NOBODY, NOBODY)
            prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                      "--inh-caps=-all", "--bounding-set=-all"]
            env["HOME"] = str(data)
            probe = _sh(*prefix, sys.executable, "-c", "import kiosk, zeroconf", check=False)
            if probe.returncode != 0:
                pytest.fail("this test runs the kiosk as nobody; the interpreter or the "
                            f"checkout is not readable by it: {probe.stderr.strip()}")
        cmd = ["ip", "netns", "exec", ns, *prefix, sys.executable, "-m", "kiosk", "serve",
               "--host", "0.0.0.0", "--port", "0", "--data-dir", str(data), "--name", name,
               "--interfaces", interfaces, "--mdns-enabled", *extra]
        proc = Proc.start(cmd, env=env)
        self.procs.append(proc)
        port = int(proc.wait_for(_LISTEN_RE, 60).group(2))
        host = proc.wait_for(_ANNOUNCED_RE, 30).group(1)
        return Kiosk(proc, port, host)

    def run(self, ns: str, *cmd: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
        """A command in ``ns``, with that namespace's avahi bus when it has one."""
        env = [f"DBUS_SYSTEM_BUS_ADDRESS={self.buses[ns]}"] if ns in self.buses else []
        return _sh("env", *env, "ip", "netns", "exec", ns, *cmd, timeout=timeout, check=False)

    def resolve(self, ns: str, host: str, family: str = "-4") -> str | None:
        proc = self.run(ns, "avahi-resolve", family, "-n", host, timeout=15)
        parts = proc.stdout.split()
        return parts[1] if proc.returncode == 0 and len(parts) == 2 else None

    def raw_query(self, ns: str, host: str, local_ip: str) -> set[str]:
        """Every address any responder on that link gives for ``host``."""
        proc = self.run(ns, sys.executable, "-c", _RAW_QUERY, host, local_ip, timeout=20)
        assert proc.returncode == 0, proc.stderr
        return {line for line in proc.stdout.splitlines() if line}

    def status(self, ns: str, url: str) -> dict:
        """GET /api/kiosk/status from ``ns``; the ``discovery`` section."""
        code = ("import sys,urllib.request;"
                "sys.stdout.write(urllib.request.urlopen(sys.argv[1],timeout=10).read().decode())")
        proc = self.run(ns, sys.executable, "-c", code, url + "api/kiosk/status", timeout=30)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)["discovery"]

    def link_local(self, ns: str, iface: str) -> str:
        """The (non-tentative) IPv6 link-local address of ``iface``, waiting for DAD."""
        def read() -> str | None:
            out = _sh("ip", "-n", ns, "-6", "-o", "addr", "show", "dev", iface,
                      "scope", "link").stdout
            match = re.search(r"inet6 (fe80::[0-9a-f:]+)/64", out)
            return match.group(1) if match and "tentative" not in out else None
        address = _wait(read, 10, interval=0.2)
        assert address, f"no link-local address on {iface}"
        return address


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    _require_netns()
    topology = Net(tmp_path)
    try:
        yield topology
    finally:
        topology.down()


def test_each_link_hears_only_its_own_addresses(net: Net):
    """A kiosk on two links (two subnets, an avahi peer on each): each link resolves
    <name>.local to the kiosk's address on that link only, IPv4 and IPv6, and an
    address change on one link reaches that link within 10 s and leaves the other
    alone. The kiosk runs as nobody without capabilities, as in production."""
    kiosk_ns, peer_a, peer_b = net.ns("k"), net.ns("a"), net.ns("b")
    if_a, if_b = f"vka{net.tag}", f"vkb{net.tag}"
    net.veth(kiosk_ns, if_a, KIOSK_IP, peer_a, f"vpa{net.tag}", PEER_IP)
    net.veth(kiosk_ns, if_b, LINK_B_KIOSK_IP, peer_b, f"vpb{net.tag}", LINK_B_PEER_IP)
    ll_a, ll_b = net.link_local(kiosk_ns, if_a), net.link_local(kiosk_ns, if_b)
    net.link_local(peer_a, f"vpa{net.tag}")
    net.link_local(peer_b, f"vpb{net.tag}")
    net.avahi(peer_a, f"vpa{net.tag}", "pa")
    net.avahi(peer_b, f"vpb{net.tag}", "pb")
    name = f"kt{net.tag}"
    # Unprivileged, as under systemd: binding sockets to an interface needs no capability.
    kiosk = net.start_kiosk(kiosk_ns, name, f"{if_a},{if_b}", label="k1", unprivileged=True)
    assert kiosk.host_name == f"{name}.local"
    uid = _sh("ps", "-o", "uid=", "-p", str(kiosk.proc.popen.pid)).stdout.strip()
    assert uid == str(NOBODY)
    host = f"{name}.local"

    # Every answer on each link, not just the first one avahi keeps.
    assert net.raw_query(peer_a, host, PEER_IP) == {KIOSK_IP, ll_a}, kiosk.proc.text
    assert net.raw_query(peer_b, host, LINK_B_PEER_IP) == {LINK_B_KIOSK_IP, ll_b}
    # What a laptop's resolver sees.
    assert _wait(lambda: net.resolve(peer_a, host) == KIOSK_IP, 10)
    assert _wait(lambda: net.resolve(peer_b, host) == LINK_B_KIOSK_IP, 10)
    assert net.resolve(peer_a, host, "-6") == ll_a
    assert net.resolve(peer_b, host, "-6") == ll_b
    # The services too: each peer's avahi lists the kiosk at its own link's address.
    for peer, ip in [(peer_a, KIOSK_IP), (peer_b, LINK_B_KIOSK_IP)]:
        out = net.run(peer, "avahi-browse", "-rpt", "_jupyter-kiosk._tcp", timeout=30).stdout
        entries = [line.split(";") for line in out.splitlines()
                   if line.startswith("=;") and ";IPv4;" in line and f";{name};" in line]
        assert entries and {e[7] for e in entries} == {ip}, out

    # Link B's address changes: link B hears the new one within 10 s, link A is unchanged.
    _sh("ip", "-n", kiosk_ns, "addr", "del", f"{LINK_B_KIOSK_IP}/24", "dev", if_b)
    _sh("ip", "-n", kiosk_ns, "addr", "add", f"{LINK_B_NEW_KIOSK_IP}/24", "dev", if_b)
    changed = time.monotonic()
    resolved = _wait(lambda: net.resolve(peer_b, host) == LINK_B_NEW_KIOSK_IP, 10,
                     interval=0.25)
    elapsed = time.monotonic() - changed
    print(f"two links: new address on link B resolved after {elapsed:.1f}s")
    assert resolved and elapsed < 10, kiosk.proc.text
    assert net.raw_query(peer_b, host, LINK_B_PEER_IP) == {LINK_B_NEW_KIOSK_IP, ll_b}
    assert net.raw_query(peer_a, host, PEER_IP) == {KIOSK_IP, ll_a}
    assert "could not be kept" not in kiosk.proc.text  # every socket stayed isolated

    # Goodbyes on both links at shutdown: each avahi drops the name from its cache at
    # once (without them it would keep answering from the cache for 120 s).
    assert kiosk.proc.stop() == 0
    for peer in (peer_a, peer_b):
        assert _wait(lambda p=peer: net.resolve(p, host) is None, 5)


def _bridged_lan(net: Net, *, ipv6: bool = False) -> tuple[str, dict[str, str]]:
    """A switch namespace with a bridge; returns it and a way to name its ports."""
    switch = net.ns("s", ipv6=ipv6)
    _sh("ip", "-n", switch, "link", "add", "br0", "type", "bridge")
    _sh("ip", "-n", switch, "link", "set", "br0", "up")
    return switch, {}


def _plug(net: Net, switch: str, ns: str, role: str, ip: str, *, bridged: bool = True) -> str:
    """Connect ``ns`` to the switch with ``ip``; returns the kiosk-side interface."""
    inner, port = f"v{role}{net.tag}", f"s{role}{net.tag}"
    net.veth(ns, inner, ip, switch, port, None)
    if bridged:
        _sh("ip", "-n", switch, "link", "set", port, "master", "br0")
    return inner


def test_late_name_conflict_ends_with_two_names(net: Net):
    """Kiosk 2 starts with the same name while its network is cut off from kiosk 1's
    (a Wi-Fi not yet joined); when the networks join, the periodic check finds the
    clash and exactly one kiosk renames, with a log line and a status for the teacher."""
    switch, _ = _bridged_lan(net)
    k1_ns, k2_ns, peer = (net.ns("k1", ipv6=False), net.ns("k2", ipv6=False),
                          net.ns("p", ipv6=False))
    if1 = _plug(net, switch, k1_ns, "k1", KIOSK_IP)
    if2 = _plug(net, switch, k2_ns, "k2", SECOND_KIOSK_IP, bridged=False)
    if_peer = _plug(net, switch, peer, "p", PEER_IP)
    net.avahi(peer, if_peer, "peer")
    name = f"kt{net.tag}"
    check = ("--mdns-conflict-check-interval", "2")
    first = net.start_kiosk(k1_ns, name, if1, *check, label="k1")
    second = net.start_kiosk(k2_ns, name, if2, *check, label="k2")
    assert first.host_name == second.host_name == f"{name}.local"  # apart: both keep it

    _sh("ip", "-n", switch, "link", "set", f"sk2{net.tag}", "master", "br0")  # networks join
    joined = time.monotonic()
    renamed = _wait(lambda: "renamed from" in first.proc.text + second.proc.text, 30)
    elapsed = time.monotonic() - joined
    print(f"late conflict: renamed {elapsed:.1f}s after the networks joined")
    for label, kiosk in (("first", first), ("second", second)):  # shown with -s
        print("\n".join(f"  {label}: {line}" for line in kiosk.proc.lines if "mDNS" in line))
    assert renamed, first.proc.text + "\n----\n" + second.proc.text
    time.sleep(3)  # let the renamed kiosk finish announcing

    s1 = net.status(k1_ns, first.url(KIOSK_IP))
    s2 = net.status(k2_ns, second.url(SECOND_KIOSK_IP))
    logs = first.proc.text + "\n---- second kiosk ----\n" + second.proc.text
    assert {s1["host_name"], s2["host_name"]} == {f"{name}.local", f"{name}-2.local"}, logs
    # RFC 6762 tie-break: the lexicographically later address keeps the name.
    loser, winner, loser_ip = (s1, s2, KIOSK_IP)
    assert loser["renamed"] is True and winner["renamed"] is False
    assert any("renamed from" in c for c in loser["conflicts"]), loser["conflicts"]
    assert "mDNS name conflict" in first.proc.text
    # The renamed kiosk's goodbyes for its old name included the PTR records both
    # kiosks shared byte for byte; the one that kept the name announced again, so
    # the other machine's cache (read without sending a query) still lists it.
    cached = net.run(peer, "avahi-browse", "-pc", "_jupyter-kiosk._tcp").stdout
    assert {name, f"{name}-2"} <= {line.split(";")[3] for line in cached.splitlines()
                                    if line.startswith("+;")}, cached
    assert "announced again" in second.proc.text
    # The other machine sees two names, each at its own kiosk.
    assert _wait(lambda: net.resolve(peer, f"{name}-2.local") == loser_ip, 10)
    assert _wait(lambda: net.resolve(peer, f"{name}.local") == SECOND_KIOSK_IP, 10)
    # Both keep them: a later check finds no clash and renames nothing.
    time.sleep(8)
    assert first.proc.text.count("renamed from") == 1
    assert "renamed from" not in second.proc.text


def test_kiosks_list_each_other_and_drop_one_that_leaves(net: Net):
    """Two kiosks on one LAN list each other (name and URL) in /api/kiosk/status; the
    one that stops says goodbye and leaves the other's list within seconds."""
    switch, _ = _bridged_lan(net)
    k1_ns, k2_ns = net.ns("k1", ipv6=False), net.ns("k2", ipv6=False)
    if1 = _plug(net, switch, k1_ns, "k1", KIOSK_IP)
    if2 = _plug(net, switch, k2_ns, "k2", SECOND_KIOSK_IP)
    one, two = f"kt{net.tag}a", f"kt{net.tag}b"
    first = net.start_kiosk(k1_ns, one, if1, label="k1")
    second = net.start_kiosk(k2_ns, two, if2, label="k2")

    def peers(ns: str, kiosk: Kiosk, ip: str) -> dict[str, dict]:
        return {p["name"]: p for p in net.status(ns, kiosk.url(ip))["peers"]}

    assert _wait(lambda: two in peers(k1_ns, first, KIOSK_IP), 15), first.proc.text
    assert _wait(lambda: one in peers(k2_ns, second, SECOND_KIOSK_IP), 15), second.proc.text
    seen_by_first = peers(k1_ns, first, KIOSK_IP)
    seen_by_second = peers(k2_ns, second, SECOND_KIOSK_IP)
    assert list(seen_by_first) == [two] and list(seen_by_second) == [one]  # not itself
    assert seen_by_first[two]["url"] == second.url(SECOND_KIOSK_IP)
    assert seen_by_second[one]["url"] == first.url(KIOSK_IP)
    assert seen_by_first[two]["host"] == f"{two}.local."
    # The URL a kiosk lists really is the other kiosk.
    proc = net.run(k1_ns, sys.executable, "-c",
                   "import sys,urllib.request;print(urllib.request.urlopen(sys.argv[1],"
                   "timeout=10).status)", seen_by_first[two]["url"] + "join.json")
    assert proc.stdout.strip() == "200", proc.stderr

    assert second.proc.stop() == 0 and "goodbye sent" in second.proc.text
    stopped = time.monotonic()
    gone = _wait(lambda: two not in peers(k1_ns, first, KIOSK_IP), 10)
    print(f"peer list: a stopped kiosk left after {time.monotonic() - stopped:.1f}s")
    assert gone, first.proc.text
    assert f"kiosk {two} left" in first.proc.text
