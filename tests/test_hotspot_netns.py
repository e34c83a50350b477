"""The hotspot's network, for real, between two network namespaces.

"kiosk" namespace: a veth end with 10.42.0.1/24, dnsmasq started with NetworkManager's
shared-mode command line and the kiosk's rendered snippet in its conf-dir, and the kiosk
itself on 10.42.0.1:80. "client" namespace: the other veth end, configured only by
dhclient (our own script records what the DHCP server offered; the host's resolv.conf
is never touched), then dig and curl as a phone would use them.

Needs root (ip netns), dnsmasq, dhclient, dig and curl. Everything created here has a
unique name and is removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from kiosk.hotspot import dnsmasq as dnsmasq_conf
from kiosk.hotspot.leases import read_active_count

REPO = Path(__file__).resolve().parent.parent
ADDRESS = "10.42.0.1"

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
    pytest.mark.skipif(any(shutil.which(t) is None and not Path(f"/usr/sbin/{t}").exists()
                           for t in ("ip", "dnsmasq", "dhclient", "dig", "curl")),
                       reason="needs ip, dnsmasq, dhclient, dig and curl"),
]

DHCP_SCRIPT = """#!/bin/sh
# dhclient -sf: configure the address, and write down what the server offered.
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT)
    ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface" 2>/dev/null || true
    ip route replace default via "$new_routers" dev "$interface" 2>/dev/null || true
    {
      echo "ip=$new_ip_address"
      echo "dns=$new_domain_name_servers"
      echo "router=$new_routers"
      echo "domain=$new_domain_name"
    } > "$(dirname "$0")/offer.env"
    ;;
esac
exit 0
"""


def sh(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check,
                          timeout=timeout)


class Net:
    """Two namespaces joined by a veth pair; tracks every process and path to clean up."""

    def __init__(self, tmp: Path) -> None:
        tag = uuid.uuid4().hex[:6]
        self.kiosk_ns, self.client_ns = f"khs-{tag}-k", f"khs-{tag}-c"
        self.kiosk_if, self.client_if = f"hk{tag}", f"hc{tag}"
        self.tmp = tmp
        self.procs: list[subprocess.Popen[str]] = []
        self.netns_etc = Path("/etc/netns") / self.client_ns

    def up(self) -> None:
        sh("ip", "netns", "add", self.kiosk_ns)
        sh("ip", "netns", "add", self.client_ns)
        sh("ip", "link", "add", self.kiosk_if, "type", "veth", "peer", "name", self.client_if)
        sh("ip", "link", "set", self.kiosk_if, "netns", self.kiosk_ns)
        sh("ip", "link", "set", self.client_if, "netns", self.client_ns)
        self.k("ip", "addr", "add", f"{ADDRESS}/24", "dev", self.kiosk_if)
        for ns, ifname in ((self.kiosk_ns, self.kiosk_if), (self.client_ns, self.client_if)):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", ifname, "up")

    def k(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", self.kiosk_ns, *args, check=check)

    def c(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", self.client_ns, *args, check=check)

    def spawn(self, ns: str, name: str, *args: str, **kwargs) -> subprocess.Popen[str]:
        """Start a process in ``ns``; its output goes to ``<tmp>/<name>.out``."""
        with (self.tmp / f"{name}.out").open("w") as out:
            proc = subprocess.Popen(["ip", "netns", "exec", ns, *args], text=True,
                                    stdout=out, stderr=subprocess.STDOUT, **kwargs)
        self.procs.append(proc)
        return proc

    def output(self, name: str) -> str:
        return (self.tmp / f"{name}.out").read_text()

    def down(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        # dhclient forks into the background: stop it by its pid file.
        pid_file = self.tmp / "dhclient.pid"
        if pid_file.exists():
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        for ns in (self.kiosk_ns, self.client_ns):
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.netns_etc, ignore_errors=True)


@pytest.fixture
def net(tmp_path):
    network = Net(tmp_path)
    try:
        network.up()
        yield network
    finally:
        network.down()
    assert network.kiosk_ns not in sh("ip", "netns", "list").stdout


def wait_for(predicate, timeout: float = 20, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def start_dnsmasq(net: Net) -> Path:
    conf_dir = net.tmp / "dnsmasq-shared.d"
    conf_dir.mkdir()
    (conf_dir / dnsmasq_conf.SNIPPET_NAME).write_text(
        dnsmasq_conf.render_snippet(name="fieldtrip", alias="python", address=ADDRESS))
    leases = net.tmp / f"dnsmasq-{net.kiosk_if}.leases"
    args = dnsmasq_conf.nm_shared_dnsmasq_args(
        address=ADDRESS, prefix=24, conf_dir=conf_dir, lease_path=leases,
        pid_path=net.tmp / "dnsmasq.pid", dnsmasq=shutil.which("dnsmasq") or "dnsmasq")
    # Only additions for the test: log to a file, and no upstream servers from the
    # host's resolv.conf (a field trip has none).
    log = net.tmp / "dnsmasq.log"
    proc = net.spawn(net.kiosk_ns, "dnsmasq", *args, f"--log-facility={log}",
                     "--log-queries", "--log-dhcp", "--no-resolv")
    wait_for(lambda: proc.poll() is not None or
             net.k("dig", f"@{ADDRESS}", "+time=1", "+tries=1", "fieldtrip.lan",
                   check=False).returncode == 0, what="dnsmasq")
    assert proc.poll() is None, net.output("dnsmasq")
    return leases


def run_dhclient(net: Net) -> dict[str, str]:
    script = net.tmp / "dhcp-script.sh"
    script.write_text(DHCP_SCRIPT)
    script.chmod(0o755)
    result = net.c("dhclient", "-1", "-v", "-sf", str(script), "-lf",
                   str(net.tmp / "dhclient.leases"), "-pf", str(net.tmp / "dhclient.pid"),
                   net.client_if, check=False)
    offer = net.tmp / "offer.env"
    assert offer.exists(), result.stderr
    return dict(line.split("=", 1) for line in offer.read_text().splitlines())


def dig(net: Net, server: str, name: str, rtype: str = "A") -> tuple[str, list[str]]:
    out = net.c("dig", f"@{server}", "+time=2", "+tries=1", name, rtype).stdout
    status = re.search(r"status: (\w+)", out)
    answers = net.c("dig", f"@{server}", "+short", "+time=2", "+tries=1", name,
                    rtype).stdout.split()
    return (status.group(1) if status else "?"), answers


def test_dhcp_gives_an_address_and_the_kiosk_as_dns_and_names_resolve(net):
    leases = start_dnsmasq(net)
    offer = run_dhclient(net)
    assert offer["ip"].startswith("10.42.0.")
    assert 10 <= int(offer["ip"].rsplit(".", 1)[1]) <= 254
    assert offer["dns"] == ADDRESS
    assert offer["router"] == ADDRESS
    assert offer["domain"] == "lan"
    # The client really has that address now.
    assert offer["ip"] in net.c("ip", "-4", "addr", "show", net.client_if).stdout

    dns = offer["dns"]
    assert dig(net, dns, "fieldtrip.lan") == ("NOERROR", [ADDRESS])
    assert dig(net, dns, "python.lan") == ("NOERROR", [ADDRESS])
    assert dig(net, dns, "fieldtrip.lan", "AAAA") == ("NOERROR", [])
    assert dig(net, dns, "other.lan")[0] == "NXDOMAIN"  # local only, never forwarded
    assert dig(net, dns, "connectivitycheck.gstatic.com") == ("NOERROR", [ADDRESS])
    assert dig(net, dns, "captive.apple.com") == ("NOERROR", [ADDRESS])
    assert dig(net, dns, "captive.apple.com", "AAAA") == ("NOERROR", [])
    assert dig(net, dns, "dns.msftncsi.com") == ("NOERROR", ["131.107.255.255"])
    # Everything else is left alone (no upstream on a field trip: no answer at all).
    status, answers = dig(net, dns, "www.google.com")
    assert ADDRESS not in answers and status != "NOERROR"
    # The dashboard's lease count sees this one device.
    assert read_active_count(leases, time.time()) == 1


def test_a_phone_on_the_hotspot_sees_the_sign_in_page_once_then_online(net):
    start_dnsmasq(net)
    offer = run_dhclient(net)
    # What a phone does with the DNS server it was given; `ip netns exec` mounts this
    # file over /etc/resolv.conf for the client namespace only.
    net.netns_etc.mkdir(parents=True)
    (net.netns_etc / "resolv.conf").write_text(f"nameserver {offer['dns']}\n")

    data = net.tmp / "data"
    kiosk = net.spawn(net.kiosk_ns, "kiosk", sys.executable, "-m", "kiosk", "serve",
                      "--host", ADDRESS, "--port", "80", "--data-dir", str(data),
                      "--no-mdns-enabled", "--name", "fieldtrip", "--hotspot-address", ADDRESS,
                      cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    # Wait from the kiosk's side: a client fetching a page counts as signed in.
    wait_for(lambda: kiosk.poll() is not None or net.k(
        "curl", "-s", "-o", "/dev/null", f"http://{ADDRESS}/healthz", check=False
    ).returncode == 0, timeout=60, what="the kiosk")
    assert kiosk.poll() is None, net.output("kiosk")

    def curl(url: str, *extra: str) -> tuple[int, str, str]:
        out = net.c("curl", "-s", "-o", "-", "-w", "\n%{http_code} %{redirect_url}",
                    "--max-time", "10", *extra, url).stdout
        body, _, tail = out.rpartition("\n")
        code, _, location = tail.partition(" ")
        return int(code), body, location

    probe = "http://connectivitycheck.gstatic.com/generate_204"
    assert curl(probe) == (302, '<a href="http://10.42.0.1/hotspot/welcome">Sign in</a>',
                           "http://10.42.0.1/hotspot/welcome")
    code, page, _ = curl("http://10.42.0.1/hotspot/welcome")
    assert code == 200 and "fieldtrip.lan/" in page and "<svg" in page
    assert curl("http://captive.apple.com/hotspot-detect.html")[0] == 302
    code, _, location = curl("http://10.42.0.1/hotspot/accept", "-X", "POST")
    assert (code, location) == (303, "http://10.42.0.1/hotspot/welcome?done=1")
    assert curl(probe)[:2] == (204, "")
    assert curl("http://captive.apple.com/hotspot-detect.html")[:2] == (
        200, "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>\n")
    assert curl("http://www.msftconnecttest.com/connecttest.txt")[:2] == (
        200, "Microsoft Connect Test")
    # The name students type reaches the landing page.
    code, landing, _ = curl("http://fieldtrip.lan/")
    assert code == 200 and "fieldtrip" in landing
