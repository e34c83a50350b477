"""The operating systems' connectivity probes: which hosts they ask, what means "online".

One table, three readers: :mod:`kiosk.hotspot.dnsmasq` points these host names (and
only these) at the kiosk on the hotspot, :mod:`kiosk.hotspot.portal` answers them, and
``docs/hotspot.md`` shows them per platform (a test keeps the doc in step).

Only hosts that exist for probing are listed. General-purpose hosts some systems
also probe (``www.google.com``, ``www.apple.com``, ``www.gstatic.com``) are left out
on purpose: pointing them at the kiosk would capture apps and web pages whenever
the Pi does have an uplink.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Answer:
    """The HTTP answer a platform takes as "this network reaches the internet"."""

    status: int
    body: str = ""
    content_type: str = "text/plain"


@dataclass(frozen=True, slots=True)
class Probe:
    """One platform's probe: the hosts it asks and the answer that means online.

    ``paths`` lists the paths the platform is known to request (for the docs and
    tests); the kiosk answers *any* path on these hosts, because Apple devices also
    ask random paths on their probe hosts.
    """

    platform: str
    hosts: tuple[str, ...]
    paths: tuple[str, ...]
    online: Answer
    notes: str


_APPLE_SUCCESS = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>\n"
_FIREFOX_CANONICAL = ('<meta http-equiv="refresh" '
                      'content="0;url=https://support.mozilla.org/kb/captive-portal"/>')

PROBES: tuple[Probe, ...] = (
    Probe(
        "Android",
        ("connectivitycheck.gstatic.com", "connectivitycheck.android.com",
         "clients3.google.com"),
        ("/generate_204", "/gen_204"),
        Answer(204),
        "Android 10 and later also probe https://www.google.com/generate_204, which no "
        "offline network can answer: after sign-in the Wi-Fi shows \"limited "
        "connectivity\" / \"no internet\"; the phone stays joined when the student "
        "taps \"Stay connected\" (or mobile data is off).",
    ),
    Probe(
        "ChromeOS and Chrome",
        ("clients3.google.com", "connectivitycheck.gstatic.com"),
        ("/generate_204",),
        Answer(204),
        "Chromebooks open the sign-in page in a separate window.",
    ),
    Probe(
        "iPhone, iPad and macOS",
        ("captive.apple.com", "www.appleiphonecell.com", "www.itools.info",
         "www.ibook.info", "www.airport.us", "www.thinkdifferent.us"),
        ("/hotspot-detect.html", "/library/test/success.html"),
        Answer(200, _APPLE_SUCCESS, "text/html"),
        "HTTP only, so after sign-in the device counts the Wi-Fi as online and keeps it.",
    ),
    Probe(
        "Windows 10 and 11",
        ("www.msftconnecttest.com", "ipv6.msftconnecttest.com", "www.msftncsi.com"),
        ("/connecttest.txt", "/ncsi.txt", "/redirect"),
        Answer(200, "Microsoft Connect Test"),
        "Windows also resolves dns.msftncsi.com and expects 131.107.255.255; the kiosk's "
        "DNS gives that address. When captive, Windows opens /redirect in the browser.",
    ),
    Probe(
        "Firefox",
        ("detectportal.firefox.com",),
        ("/canonical.html", "/success.txt"),
        Answer(200, _FIREFOX_CANONICAL, "text/html"),
        "/success.txt answers \"success\"; when captive, Firefox shows a \"log in to "
        "this network\" bar.",
    ),
    Probe(
        "Linux (NetworkManager)",
        ("nmcheck.gnome.org", "network-test.debian.org", "connectivity-check.ubuntu.com"),
        ("/check_network_status.txt", "/nm", "/"),
        Answer(200, "NetworkManager is online\n"),
        "Ubuntu's check expects an empty 204 instead.",
    ),
)

# Paths whose "online" answer differs from their platform's main one.
SPECIAL_ANSWERS: dict[tuple[str, str], Answer] = {
    ("www.msftncsi.com", "/ncsi.txt"): Answer(200, "Microsoft NCSI"),
    ("detectportal.firefox.com", "/success.txt"): Answer(200, "success\n"),
}
HOST_ANSWERS: dict[str, Answer] = {
    "connectivity-check.ubuntu.com": Answer(204),
}

# Windows' DNS half of its check: the public answers of Microsoft's names.
WINDOWS_DNS: dict[str, tuple[str, ...]] = {
    "dns.msftncsi.com": ("131.107.255.255", "fd3e:4f5a:5b81::1"),
}


def probe_hosts() -> list[str]:
    """Every probe host, each once, in table order."""
    seen: list[str] = []
    for probe in PROBES:
        for host in probe.hosts:
            if host not in seen:
                seen.append(host)
    return seen


def online_answer(host: str, path: str) -> Answer | None:
    """The "you are online" answer for a request to ``host`` (no port) and ``path``,
    or None when ``host`` is no probe host."""
    host = host.lower().rstrip(".")
    special = SPECIAL_ANSWERS.get((host, path))
    if special is not None:
        return special
    if host in HOST_ANSWERS:
        return HOST_ANSWERS[host]
    for probe in PROBES:
        if host in probe.hosts:
            return probe.online
    return None


def probe_table_markdown() -> str:
    """The per-platform table of ``docs/hotspot.md`` (a test keeps the two identical)."""
    rows = ["| platform | probe hosts | paths | \"online\" answer | notes |",
            "|---|---|---|---|---|"]
    for probe in PROBES:
        answer = probe.online
        shown = f"{answer.status}" + (f" `{answer.body.strip()}`" if answer.body else " (empty)")
        rows.append(f"| {probe.platform} | {', '.join(f'`{h}`' for h in probe.hosts)} | "
                    f"{', '.join(f'`{p}`' for p in probe.paths)} | {shown} | {probe.notes} |")
    return "\n".join(rows) + "\n"
