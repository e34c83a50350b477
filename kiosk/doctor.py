"""``kiosk doctor``: check what a classroom needs and say what to do about each problem.

Each check is a plain function returning a :class:`Finding` (ok, warn or fail, a
sentence about what was found, and what to do). Checks take what they inspect as
arguments, with the real probes as defaults, so tests can feed them any situation.
They block (sockets, files, HTTP with short timeouts): the CLI calls them directly,
never from the event loop.

Checks: network interfaces and addresses, mDNS (UDP 5353), the port, the active
bundle against its manifest, free disk in the data directory, the clock (and its skew
against the upstream, when sync is on), upstream reachability, and the secure-context
situation of the URLs students will use.
"""

from __future__ import annotations

import contextlib
import email.utils
import errno
import ipaddress
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kiosk.bundle.served import bundles_dir_for
from kiosk.config import KioskConfig
from kiosk.discovery.interfaces import InterfaceAddresses
from kiosk.diskspace import measure
from kiosk.errors import BundleError

Level = Literal["ok", "warn", "fail"]
MDNS_PORT = 5353
MIN_YEAR = 2024
MAX_SKEW_SECONDS = 120.0
HTTP_TIMEOUT = 3.0
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict: ``advice`` says what to do when it is not ok."""

    check: str
    level: Level
    message: str
    advice: str = ""


# ------------------------------------------------------------------ network


def check_interfaces(interfaces: Sequence[InterfaceAddresses], listen_host: str) -> Finding:
    """Some interface is up with an address students can reach."""
    if not interfaces:
        return Finding("interfaces", "fail", "no network interface is up with an address",
                       "Plug in Ethernet, join a Wi-Fi network, or start the kiosk's own "
                       "hotspot ('kiosk hotspot'); check the 'interfaces' setting.")
    described = "; ".join(f"{i.name} {', '.join(i.addresses) or '(no address)'}"
                          for i in interfaces)
    routable = [a for i in interfaces for a in i.ipv4 + i.ipv6
                if not ipaddress.ip_address(a).is_link_local]
    with contextlib.suppress(ValueError):
        host = ipaddress.ip_address(listen_host)
        if not host.is_unspecified and not host.is_loopback and listen_host not in {
                a for i in interfaces for a in i.addresses}:
            return Finding("interfaces", "fail",
                           f"the kiosk listens on {listen_host}, which no interface has "
                           f"({described})",
                           "Set 'host' to 0.0.0.0 (every interface) or to one of these "
                           "addresses.")
    if not routable:
        return Finding("interfaces", "warn", f"only link-local addresses: {described}",
                       "Devices must be on the same cable or hotspot; a DHCP server "
                       "(the school router, or 'kiosk hotspot') gives a normal address.")
    return Finding("interfaces", "ok", described)


def probe_mdns_port() -> str | None:
    """Bind UDP 5353 the way mDNS responders share it; None when that works."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("", MDNS_PORT))
    except OSError as exc:
        return str(exc)
    finally:
        sock.close()
    return None


def avahi_running(pid_file: Path = Path("/run/avahi-daemon/pid")) -> bool:
    return pid_file.exists()


def check_mdns(enabled: bool, *, probe: Callable[[], str | None] = probe_mdns_port,
               avahi: Callable[[], bool] = avahi_running) -> Finding:
    """mDNS can be answered on UDP 5353 (when it is enabled)."""
    if not enabled:
        return Finding("mdns", "ok", "mDNS is off (mdns_enabled = false): students use the "
                       "IP address or the QR code")
    problem = probe()
    if problem is not None:
        return Finding("mdns", "fail", f"cannot use UDP port {MDNS_PORT} for mDNS: {problem}",
                       "Another program holds port 5353 without sharing it; stop it, or "
                       "set mdns_enabled = false (students then use the IP URL or QR code).")
    if avahi():
        return Finding("mdns", "ok", "UDP 5353 is usable; avahi-daemon also runs and "
                       "shares the port",
                       "If '<name>.local' answers with the wrong machine, give the kiosk a "
                       "'name' different from the host name.")
    return Finding("mdns", "ok", f"UDP {MDNS_PORT} is usable for mDNS")


def kiosk_answering(url: str, timeout: float = HTTP_TIMEOUT) -> dict[str, Any] | None:
    """The status JSON of a kiosk answering at ``url``, or None."""
    try:
        with urllib.request.urlopen(f"{url}api/kiosk/status", timeout=timeout) as resp:  # noqa: S310
            data = json.loads(resp.read(65536))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "version" in data else None


def try_bind(host: str, port: int) -> OSError | None:
    """Whether a TCP listener could take ``host:port`` now (None: it could)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        return exc
    finally:
        sock.close()
    return None


def check_port(host: str, port: int, *,
               bind: Callable[[str, int], OSError | None] = try_bind,
               answering: Callable[[str], dict[str, Any] | None] = kiosk_answering) -> Finding:
    """The port is free, or it is a kiosk that answers there."""
    if port == 0:
        return Finding("port", "ok", "port 0: the kiosk picks a free port at start")
    error = bind(host, port)
    if error is None:
        return Finding("port", "ok", f"port {port} is free on {host}")
    if error.errno == errno.EADDRINUSE:
        probe_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
        literal = f"[{probe_host}]" if ":" in probe_host else probe_host
        status = answering(f"http://{literal}:{port}/")
        if status is not None:
            return Finding("port", "ok", f"a kiosk ({status.get('name')}, version "
                           f"{status.get('version')}) already answers on port {port}")
        return Finding("port", "fail", f"port {port} is used by another program",
                       f"Find it with 'ss -ltnp sport = :{port}' and stop it, or set "
                       "another 'port'.")
    if error.errno in {errno.EACCES, errno.EPERM}:
        return Finding("port", "fail", f"not allowed to listen on port {port}: {error}",
                       "Ports below 1024 need CAP_NET_BIND_SERVICE (the systemd unit has "
                       "it); otherwise use a port such as 8000.")
    return Finding("port", "fail", f"cannot listen on {host}:{port}: {error}",
                   "Check the 'host' setting: it must be an address of this machine.")


# ------------------------------------------------------------------- bundle


def check_bundle(bundles_dir: Path) -> Finding:
    """The active bundle exists and matches its manifest byte for byte (blocking)."""
    from kiosk.bundle.active import current_bundle
    from kiosk.bundle.manifest import verify_bundle

    try:
        active = current_bundle(bundles_dir)
    except BundleError as exc:
        return Finding("bundle", "fail", exc.message,
                       "Switch to a built bundle with 'kiosk bundle use NAME'.")
    if active is None:
        return Finding("bundle", "fail", f"no bundle is active in {bundles_dir}",
                       "Build one with 'make bundle' or 'kiosk bundle build', or copy a "
                       "built bundle there and run 'kiosk bundle use NAME'.")
    try:
        problems = verify_bundle(active)
    except BundleError as exc:
        return Finding("bundle", "fail", f"bundle {active.name}: {exc.message}",
                       "Rebuild it ('kiosk bundle build') or switch to another one.")
    except OSError as exc:
        return Finding("bundle", "fail", f"cannot read bundle {active}: {exc}",
                       "Check the files' permissions and the storage.")
    if problems:
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        return Finding("bundle", "fail",
                       f"bundle {active.name} differs from its manifest: {shown}{more}",
                       "The files were changed or damaged: rebuild it ('kiosk bundle "
                       "build') or copy it again; the kiosk refuses to serve it meanwhile.")
    return Finding("bundle", "ok", f"bundle {active.name} matches its manifest")


# --------------------------------------------------------------------- disk


def check_disk(data_dir: Path, min_free_mib: float, *,
               usage: Callable[[Path], tuple[int, int]] | None = None) -> Finding:
    """Free space in the data directory against the ``min_free_disk_mib`` floor."""
    try:
        free, total = (usage or measure)(data_dir)
    except OSError as exc:
        return Finding("disk", "fail", f"cannot measure free space in {data_dir}: {exc}",
                       "Check that the data directory's storage is mounted.")
    floor = int(min_free_mib * _MIB)
    text = f"{free / _MIB:.0f} MiB free of {total / _MIB:.0f} MiB in {data_dir}"
    if free < floor:
        return Finding("disk", "fail", f"{text}, below the floor of {min_free_mib:g} MiB: "
                       "new shares get 507",
                       "Clear old shares (dashboard, or 'kiosk shares'), delete old "
                       "bundles, or use a larger card.")
    if free < 2 * floor:
        return Finding("disk", "warn", f"{text}, close to the floor of {min_free_mib:g} MiB",
                       "Clear old shares or old bundles soon.")
    return Finding("disk", "ok", text)


# -------------------------------------------------------------------- clock


def check_clock(now: float, *, upstream_date: float | None = None) -> Finding:
    """The clock is set (a Pi without RTC starts in 1970) and close to the upstream's."""
    year = time.gmtime(now).tm_year
    if year < MIN_YEAR:
        day = time.strftime("%Y-%m-%d", time.gmtime(now))
        return Finding("clock", "fail", f"the clock says {day}",
                       "This board has no battery clock and has not got the time from the "
                       "network: connect it to a network with NTP once (timedatectl "
                       "status), set it with 'sudo date -s \"YYYY-MM-DD HH:MM\"', or fit an "
                       "RTC. Share dates and sign-in tokens are wrong until then.")
    if upstream_date is not None and abs(now - upstream_date) > MAX_SKEW_SECONDS:
        return Finding("clock", "warn", f"the clock is {now - upstream_date:+.0f} s off the "
                       "upstream's", "Enable time sync: 'sudo timedatectl set-ntp true'.")
    suffix = " (agrees with the upstream)" if upstream_date is not None else ""
    return Finding("clock", "ok", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now))
                   + suffix)


# ----------------------------------------------------------------- upstream


def fetch_health(url: str, timeout: float = HTTP_TIMEOUT) -> tuple[int, float | None]:
    """``GET url`` → (status, the Date header as a UNIX time); raises OSError."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - configured
            status, date = resp.status, resp.headers.get("Date")
    except urllib.error.HTTPError as exc:
        status, date = exc.code, exc.headers.get("Date")
    when = None
    if date:
        with contextlib.suppress(TypeError, ValueError):
            when = email.utils.parsedate_to_datetime(date).timestamp()
    return status, when


def check_upstream(config: KioskConfig, *,
                   fetch: Callable[[str], tuple[int, float | None]] = fetch_health,
                   ) -> tuple[Finding, float | None]:
    """The upstream answers its health check (only when sync is on); also its clock."""
    if not config.sync_enabled or not config.upstream_url:
        return Finding("upstream", "ok", "sync is off: nothing leaves the kiosk"), None
    url = config.upstream_url.rstrip("/") + "/health"
    try:
        status, date = fetch(url)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Finding("upstream", "warn", f"cannot reach the upstream ({url}): {reason}",
                       "Shares wait in the outbox and go when it answers. Check the "
                       "kiosk's internet link, the upstream_url setting and the school's "
                       "proxy/firewall."), None
    if status >= 400:
        return Finding("upstream", "warn", f"the upstream answered {status} at {url}",
                       "Check upstream_url (it ends with /api/v1) and upstream_token."), date
    return Finding("upstream", "ok", f"the upstream answers at {url}"), date


# ---------------------------------------------------------- secure context


def check_secure_context(config: KioskConfig) -> Finding:
    """Whether students' pages are a secure context, and the options when they are not."""
    if config.tls_cert is not None and config.tls_key is not None:
        missing = [str(p) for p in (config.tls_cert, config.tls_key) if not p.is_file()]
        if missing:
            return Finding("secure-context", "fail",
                           f"HTTPS is configured but {', '.join(missing)} is missing",
                           "Put the certificate and key there, or unset tls_cert/tls_key.")
        return Finding("secure-context", "ok", "HTTPS: students' pages are a secure context",
                       "Devices must trust the certificate (install its CA on them).")
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(config.host).is_loopback:
            return Finding("secure-context", "ok", "served on loopback only: "
                           "http://localhost is a secure context")
    if config.relay_enabled:
        effect = ("browsers give it no service worker, crypto.subtle or clipboard API; the "
                  "kiosk's relay (relay_enabled) still lets notebooks open files and use "
                  "input(), and the Copy button falls back")
    else:
        effect = ("browsers give it no service worker, crypto.subtle or clipboard API, and "
                  "relay_enabled is off: notebooks cannot open files or use input()")
    return Finding(
        "secure-context", "warn",
        f"plain HTTP on a LAN address is not a secure context: {effect}",
        "Options: serve HTTPS with tls_cert and tls_key (a certificate the devices "
        "trust); on the kiosk itself use http://localhost; on managed Chromebooks add "
        "the kiosk's http://<address>:<port> to the OverrideSecurityRestrictionsOnInsecure"
        "Origin policy.")


# -------------------------------------------------------------------- all


def run_checks(config: KioskConfig, *,
               interfaces: Sequence[InterfaceAddresses] | None = None) -> list[Finding]:
    """Every check, in the order a person fixes things (blocking)."""
    if interfaces is None:
        from kiosk.discovery.interfaces import scan

        try:
            interfaces = scan(config.interfaces)
        except OSError:
            interfaces = ()
    upstream, upstream_date = check_upstream(config)
    return [
        check_interfaces(interfaces, config.host),
        check_mdns(config.mdns_enabled),
        check_port(config.host, config.port),
        check_bundle(bundles_dir_for(config)),
        check_disk(config.data_path, config.min_free_disk_mib),
        check_clock(time.time(), upstream_date=upstream_date),
        upstream,
        check_secure_context(config),
    ]


def exit_code(findings: Sequence[Finding]) -> int:
    """0 when nothing failed (warnings allowed), else 1."""
    return 1 if any(f.level == "fail" for f in findings) else 0


_MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def format_findings(findings: Sequence[Finding]) -> str:
    """The report: one line per check, with what to do under each problem."""
    lines = []
    for f in findings:
        lines.append(f"[{_MARK[f.level]}] {f.check}: {f.message}")
        if f.advice and f.level != "ok":
            lines.append(f"       → {f.advice}")
    fails = sum(f.level == "fail" for f in findings)
    warns = sum(f.level == "warn" for f in findings)
    lines.append(f"{fails} problem(s), {warns} warning(s)" if fails or warns
                 else "everything looks fine")
    return "\n".join(lines)
