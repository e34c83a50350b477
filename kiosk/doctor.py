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
import gettext
import ipaddress
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kiosk.bundle.served import bundles_dir_for
from kiosk.config import KioskConfig
from kiosk.discovery.interfaces import InterfaceAddresses
from kiosk.diskspace import measure
from kiosk.errors import BundleError
from kiosk.i18n import N_, Message, Nn_, message

Level = Literal["ok", "warn", "fail"]
MDNS_PORT = 5353
MIN_YEAR = 2024
MAX_SKEW_SECONDS = 120.0
HTTP_TIMEOUT = 3.0
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict: ``advice`` says what to do when it is not ok.

    ``message`` and ``advice`` are English; ``said`` and ``advised`` keep them as
    catalog messages, for the report in the teacher's language.
    """

    check: str
    level: Level
    message: str
    advice: str = ""
    said: Message | None = field(default=None, compare=False, repr=False)
    advised: Message | None = field(default=None, compare=False, repr=False)


def found(check: str, level: Level, said: Message, advised: Message | None = None) -> Finding:
    """A finding from catalog messages (its English text rendered now)."""
    return Finding(check, level, said.render(), advised.render() if advised else "",
                   said, advised)


# ------------------------------------------------------------------ network


def check_interfaces(interfaces: Sequence[InterfaceAddresses], listen_host: str) -> Finding:
    """Some interface is up with an address students can reach."""
    if not interfaces:
        return found("interfaces", "fail",
                     message(N_("no network interface is up with an address")),
                     message(N_("Plug in Ethernet, join a Wi-Fi network, or start the "
                                "kiosk's own hotspot ('kiosk hotspot'); check the "
                                "'interfaces' setting.")))
    described = "; ".join(f"{i.name} {', '.join(i.addresses) or '(no address)'}"
                          for i in interfaces)
    routable = [a for i in interfaces for a in i.ipv4 + i.ipv6
                if not ipaddress.ip_address(a).is_link_local]
    with contextlib.suppress(ValueError):
        host = ipaddress.ip_address(listen_host)
        if not host.is_unspecified and not host.is_loopback and listen_host not in {
                a for i in interfaces for a in i.addresses}:
            return found("interfaces", "fail",
                         message(N_("the kiosk listens on %(host)s, which no interface has "
                                    "(%(found)s)"), host=listen_host, found=described),
                         message(N_("Set 'host' to 0.0.0.0 (every interface) or to one of "
                                    "these addresses.")))
    if not routable:
        return found("interfaces", "warn",
                     message(N_("only link-local addresses: %(found)s"), found=described),
                     message(N_("Devices must be on the same cable or hotspot; a DHCP "
                                "server (the school router, or 'kiosk hotspot') gives a "
                                "normal address.")))
    return found("interfaces", "ok", message("%(found)s", found=described))


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
        return found("mdns", "ok", message(N_("mDNS is off (mdns_enabled = false): students "
                                              "use the IP address or the QR code")))
    problem = probe()
    if problem is not None:
        return found("mdns", "fail",
                     message(N_("cannot use UDP port %(port)d for mDNS: %(error)s"),
                             port=MDNS_PORT, error=problem),
                     message(N_("Another program holds port 5353 without sharing it; stop "
                                "it, or set mdns_enabled = false (students then use the IP "
                                "URL or QR code).")))
    if avahi():
        return found("mdns", "ok",
                     message(N_("UDP 5353 is usable; avahi-daemon also runs and shares the "
                                "port")),
                     message(N_("If '<name>.local' answers with the wrong machine, give the "
                                "kiosk a 'name' different from the host name.")))
    return found("mdns", "ok", message(N_("UDP %(port)d is usable for mDNS"), port=MDNS_PORT))


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
        return found("port", "ok", message(N_("port 0: the kiosk picks a free port at start")))
    error = bind(host, port)
    if error is None:
        return found("port", "ok", message(N_("port %(port)d is free on %(host)s"),
                                           port=port, host=host))
    if error.errno == errno.EADDRINUSE:
        probe_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
        literal = f"[{probe_host}]" if ":" in probe_host else probe_host
        status = answering(f"http://{literal}:{port}/")
        if status is not None:
            return found("port", "ok",
                         message(N_("a kiosk (%(name)s, version %(version)s) already answers "
                                    "on port %(port)d"), name=status.get("name"),
                                 version=status.get("version"), port=port))
        return found("port", "fail",
                     message(N_("port %(port)d is used by another program"), port=port),
                     message(N_("Find it with 'ss -ltnp sport = :%(port)d' and stop it, or "
                                "set another 'port'."), port=port))
    if error.errno in {errno.EACCES, errno.EPERM}:
        return found("port", "fail",
                     message(N_("not allowed to listen on port %(port)d: %(error)s"),
                             port=port, error=error),
                     message(N_("Ports below 1024 need CAP_NET_BIND_SERVICE (the systemd "
                                "unit has it); otherwise use a port such as 8000.")))
    return found("port", "fail",
                 message(N_("cannot listen on %(host)s:%(port)d: %(error)s"), host=host,
                         port=port, error=error),
                 message(N_("Check the 'host' setting: it must be an address of this "
                            "machine.")))


# ------------------------------------------------------------------- bundle


def check_bundle(bundles_dir: Path) -> Finding:
    """The active bundle exists and matches its manifest byte for byte (blocking)."""
    from kiosk.bundle.active import current_bundle
    from kiosk.bundle.manifest import verify_bundle

    try:
        active = current_bundle(bundles_dir)
    except BundleError as exc:
        return found("bundle", "fail", message("%(error)s", error=exc.message),
                     message(N_("Switch to a built bundle with 'kiosk bundle use NAME'.")))
    if active is None:
        return found("bundle", "fail",
                     message(N_("no bundle is active in %(path)s"), path=bundles_dir),
                     message(N_("Build one with 'make bundle' or 'kiosk bundle build', or "
                                "copy a built bundle there and run 'kiosk bundle use NAME'.")))
    try:
        problems = verify_bundle(active)
    except BundleError as exc:
        return found("bundle", "fail", message(N_("bundle %(name)s: %(error)s"),
                                               name=active.name, error=exc.message),
                     message(N_("Rebuild it ('kiosk bundle build') or switch to another "
                                "one.")))
    except OSError as exc:
        return found("bundle", "fail", message(N_("cannot read bundle %(path)s: %(error)s"),
                                               path=active, error=exc),
                     message(N_("Check the files' permissions and the storage.")))
    if problems:
        shown = "; ".join(str(p) for p in problems[:5])
        said = message(N_("bundle %(name)s differs from its manifest: %(shown)s"),
                       name=active.name, shown=shown)
        if len(problems) > 5:
            said = Message.counted(Nn_("%(said)s (and %(n)d more)",
                                       "%(said)s (and %(n)d more)"),
                                   len(problems) - 5, said=said)
        return found("bundle", "fail", said,
                     message(N_("The files were changed or damaged: rebuild it ('kiosk "
                                "bundle build') or copy it again; the kiosk refuses to "
                                "serve it meanwhile.")))
    return found("bundle", "ok", message(N_("bundle %(name)s matches its manifest"),
                                         name=active.name))


# --------------------------------------------------------------------- disk


def check_disk(data_dir: Path, min_free_mib: float, *,
               usage: Callable[[Path], tuple[int, int]] | None = None) -> Finding:
    """Free space in the data directory against the ``min_free_disk_mib`` floor."""
    try:
        free, total = (usage or measure)(data_dir)
    except OSError as exc:
        return found("disk", "fail",
                     message(N_("cannot measure free space in %(path)s: %(error)s"),
                             path=data_dir, error=exc),
                     message(N_("Check that the data directory's storage is mounted.")))
    floor = int(min_free_mib * _MIB)
    space = message(N_("%(free).0f MiB free of %(total).0f MiB in %(path)s"),
                    free=free / _MIB, total=total / _MIB, path=data_dir)
    if free < floor:
        return found("disk", "fail",
                     message(N_("%(space)s, below the floor of %(floor)g MiB: new shares get "
                                "507"), space=space, floor=min_free_mib),
                     message(N_("Clear old shares (dashboard, or 'kiosk shares'), delete old "
                                "bundles, or use a larger card.")))
    if free < 2 * floor:
        return found("disk", "warn",
                     message(N_("%(space)s, close to the floor of %(floor)g MiB"),
                             space=space, floor=min_free_mib),
                     message(N_("Clear old shares or old bundles soon.")))
    return found("disk", "ok", space)


# -------------------------------------------------------------------- clock


def check_clock(now: float, *, upstream_date: float | None = None) -> Finding:
    """The clock is set (a Pi without RTC starts in 1970) and close to the upstream's."""
    year = time.gmtime(now).tm_year
    if year < MIN_YEAR:
        day = time.strftime("%Y-%m-%d", time.gmtime(now))
        return found("clock", "fail", message(N_("the clock says %(day)s"), day=day),
                     message(N_("This board has no battery clock and has not got the time "
                                "from the network: connect it to a network with NTP once "
                                "(timedatectl status), set it with 'sudo date -s "
                                "\"YYYY-MM-DD HH:MM\"', or fit an RTC. Share dates and "
                                "sign-in tokens are wrong until then.")))
    if upstream_date is not None and abs(now - upstream_date) > MAX_SKEW_SECONDS:
        return found("clock", "warn",
                     message(N_("the clock is %(seconds)+.0f s off the upstream's"),
                             seconds=now - upstream_date),
                     message(N_("Enable time sync: 'sudo timedatectl set-ntp true'.")))
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now))
    if upstream_date is not None:
        return found("clock", "ok", message(N_("%(when)s (agrees with the upstream)"),
                                            when=when))
    return found("clock", "ok", message("%(when)s", when=when))


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
        return found("upstream", "ok",
                     message(N_("sync is off: nothing leaves the kiosk"))), None
    url = config.upstream_url.rstrip("/") + "/health"
    try:
        status, date = fetch(url)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return found("upstream", "warn",
                     message(N_("cannot reach the upstream (%(url)s): %(error)s"), url=url,
                             error=reason),
                     message(N_("Shares wait in the outbox and go when it answers. Check "
                                "the kiosk's internet link, the upstream_url setting and the "
                                "school's proxy/firewall."))), None
    if status >= 400:
        return found("upstream", "warn",
                     message(N_("the upstream answered %(status)d at %(url)s"),
                             status=status, url=url),
                     message(N_("Check upstream_url (it ends with /api/v1) and "
                                "upstream_token."))), date
    return found("upstream", "ok", message(N_("the upstream answers at %(url)s"),
                                           url=url)), date


# ---------------------------------------------------------- secure context


def check_secure_context(config: KioskConfig) -> Finding:
    """Whether students' pages are a secure context, and the options when they are not."""
    if config.tls_cert is not None and config.tls_key is not None:
        missing = [str(p) for p in (config.tls_cert, config.tls_key) if not p.is_file()]
        if missing:
            return found("secure-context", "fail",
                         message(N_("HTTPS is configured but %(files)s is missing"),
                                 files=", ".join(missing)),
                         message(N_("Put the certificate and key there, or unset "
                                    "tls_cert/tls_key.")))
        return found("secure-context", "ok",
                     message(N_("HTTPS: students' pages are a secure context")),
                     message(N_("Devices must trust the certificate (install its CA on "
                                "them).")))
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(config.host).is_loopback:
            return found("secure-context", "ok",
                         message(N_("served on loopback only: http://localhost is a secure "
                                    "context")))
    if config.relay_enabled:
        effect = message(N_("browsers give it no service worker, crypto.subtle or clipboard "
                            "API; the kiosk's relay (relay_enabled) still lets notebooks "
                            "open files and use input(), and the Copy button falls back"))
    else:
        effect = message(N_("browsers give it no service worker, crypto.subtle or clipboard "
                            "API, and relay_enabled is off: notebooks cannot open files or "
                            "use input()"))
    return found(
        "secure-context", "warn",
        message(N_("plain HTTP on a LAN address is not a secure context: %(effect)s"),
                effect=effect),
        message(N_("Options: serve HTTPS with tls_cert and tls_key (a certificate the "
                   "devices trust); on the kiosk itself use http://localhost; on managed "
                   "Chromebooks add the kiosk's http://ADDRESS:PORT to the "
                   "OverrideSecurityRestrictionsOnInsecureOrigin policy.")))


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


def format_findings(findings: Sequence[Finding],
                    translations: gettext.NullTranslations | None = None) -> str:
    """The report: one line per check, with what to do under each problem (in the
    language of ``translations``; English without)."""
    t = translations if translations is not None else gettext.NullTranslations()
    lines = []
    for f in findings:
        said = f.said.render(t) if f.said is not None else f.message
        lines.append(f"[{_MARK[f.level]}] {f.check}: {said}")
        if f.advice and f.level != "ok":
            advised = f.advised.render(t) if f.advised is not None else f.advice
            lines.append(f"       → {advised}")
    fails = sum(f.level == "fail" for f in findings)
    warns = sum(f.level == "warn" for f in findings)
    if not fails and not warns:
        lines.append(t.gettext("everything looks fine"))
    else:
        lines.append(t.gettext("%(problems)s, %(warnings)s") % {
            "problems": t.ngettext("%(n)d problem", "%(n)d problems", fails) % {"n": fails},
            "warnings": t.ngettext("%(n)d warning", "%(n)d warnings", warns) % {"n": warns}})
    return "\n".join(lines)
