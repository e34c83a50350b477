"""The dnsmasq snippet that gives the hotspot its names and its captive-portal answers.

NetworkManager's shared mode starts one dnsmasq per shared connection with
``--conf-dir=/etc/NetworkManager/dnsmasq-shared.d`` (DHCP range, lease file, and
its own address as the DNS server handed to clients are command-line flags; see
:func:`nm_shared_dnsmasq_args`, reproduced from NetworkManager 1.42 for the tests).
``kiosk hotspot on`` writes :func:`render_snippet` there, so every client that
took a DHCP lease resolves:

* ``<name>.lan`` and ``<alias>.lan`` to the kiosk (IPv4 only) (no mDNS needed); any other
  ``.lan`` name gets NXDOMAIN at once instead of a slow forwarded failure;
* the operating systems' probe hosts (:mod:`kiosk.hotspot.probes`) to the kiosk,
  which answers them (:mod:`kiosk.hotspot.portal`); nothing else is redirected, so
  apps never talk to the kiosk by mistake;
* ``dns.msftncsi.com`` to Microsoft's public answer (Windows' DNS check).

Pure: rendering only. Writing the file is :mod:`kiosk.hotspot.control`'s job.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from kiosk.hotspot.probes import WINDOWS_DNS, probe_hosts

SHARED_CONF_DIR = Path("/etc/NetworkManager/dnsmasq-shared.d")
SNIPPET_NAME = "kiosk-hotspot.conf"
LOCAL_DOMAIN = "lan"
NM_LEASE_DIR = Path("/var/lib/NetworkManager")


def local_names(name: str, alias: str) -> list[str]:
    """The names students can type: ``kiosk.lan``, ``python.lan`` (alias once)."""
    names = [f"{name}.{LOCAL_DOMAIN}"]
    if alias and alias != name:
        names.append(f"{alias}.{LOCAL_DOMAIN}")
    return names


def render_snippet(*, name: str, alias: str, address: str) -> str:
    """The dnsmasq configuration (one directive a line) for a kiosk at ``address``."""
    ip = ipaddress.IPv4Address(address)
    lines = [
        "# Written by `kiosk hotspot on`: the kiosk's names and captive-portal answers.",
        "# NetworkManager's shared mode loads this directory into the hotspot's dnsmasq.",
        "# Names under .lan are answered here and never forwarded.",
        f"local=/{LOCAL_DOMAIN}/",
        f"domain={LOCAL_DOMAIN}",
    ]
    # host-record, not address=: the name then exists with an A record only, so an
    # AAAA query gets an empty NOERROR, never an NXDOMAIN that would make a phone
    # give up on the name.
    for n in local_names(name, alias):
        # The settings are checked at load; a name that is not one line of DNS labels
        # must never add a directive to a file dnsmasq reads as root.
        if not re.fullmatch(r"[a-z0-9.-]{1,253}", n):
            raise ValueError(f"not a host name: {n!r}")
        lines.append(f"host-record={n},{ip}")
    lines.append("# Connectivity probes of phones and laptops: answered by the kiosk.")
    lines += [f"host-record={host},{ip}" for host in probe_hosts()]
    lines.append("# Windows' DNS check expects Microsoft's public answer.")
    lines += [f"host-record={host},{','.join(answers)}"
              for host, answers in WINDOWS_DNS.items()]
    lines.append("# Answered here only (other record types: empty), never forwarded.")
    lines += [f"local=/{host}/" for host in [*probe_hosts(), *WINDOWS_DNS]]
    lines += [
        "# After a reboot of the Pi, answer returning phones at once instead of making",
        "# them wait for their old lease to time out.",
        "dhcp-authoritative",
    ]
    return "\n".join(lines) + "\n"


def lease_file(ifname: str) -> Path:
    """Where NetworkManager's dnsmasq keeps the leases of ``ifname``."""
    return NM_LEASE_DIR / f"dnsmasq-{ifname}.leases"


def nm_shared_dnsmasq_args(*, address: str, prefix: int, conf_dir: Path, lease_path: Path,
                           pid_path: Path, dnsmasq: str = "dnsmasq") -> list[str]:
    """The command line NetworkManager 1.42 gives dnsmasq for a shared connection.

    Read from the strings of ``/usr/sbin/NetworkManager`` (Debian 1.42.4, in the order
    it adds them): DHCP from .10 to .254 of a /24 with 60-minute leases, its own
    address as router (and, by dnsmasq's default, as DNS server), no other
    configuration than the conf-dir. The tests run the kiosk's snippet under exactly
    this command line.
    """
    net = ipaddress.IPv4Interface(f"{address}/{prefix}").network
    hosts = list(net.hosts())
    first = hosts[9] if len(hosts) > 20 else hosts[1]
    return [
        dnsmasq, "--conf-file=/dev/null", "--no-hosts", "--keep-in-foreground",
        "--bind-interfaces", "--except-interface=lo", "--clear-on-reload", "--strict-order",
        f"--listen-address={address}",
        f"--dhcp-range={first},{hosts[-1]},60m",
        f"--dhcp-option=option:router,{address}",
        f"--pid-file={pid_path}",
        f"--dhcp-leasefile={lease_path}",
        f"--conf-dir={conf_dir}",
    ]
