"""The exact ``nmcli`` argument lists that make, start, stop and inspect the hotspot.

Pure: nothing here runs a process. :mod:`kiosk.hotspot.control` runs these lists
(asyncio subprocesses), ``kiosk hotspot config --dry-run`` prints them, and the tests
feed them to ``nmcli --offline`` (NetworkManager ≥ 1.42), which checks the syntax and
every value exactly as the daemon would, without a daemon.

The profile (one NetworkManager connection named :data:`PROFILE`):

* ``802-11-wireless.mode ap`` on ``band bg`` (2.4 GHz: every phone, and the Pi's
  radio is most stable there) and a fixed channel;
* ``ipv4.method shared``: NetworkManager gives the kiosk a fixed address
  (``ipv4.addresses``), runs dnsmasq for DHCP and DNS on it, and loads our snippet
  from ``/etc/NetworkManager/dnsmasq-shared.d/`` (see :mod:`kiosk.hotspot.dnsmasq`);
* WPA2 only (``key-mgmt wpa-psk``, ``proto rsn``, ``pairwise``/``group ccmp``): no
  WPA1/TKIP, which modern phones warn about; an open network only when asked;
* ``connection.autoconnect yes`` with a high priority and unlimited retries, so the
  profile comes up at boot and again after the radio resets (the Pi's brcmfmac
  firmware does that under load), and Wi-Fi power saving off (it drops AP clients).
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from kiosk.errors import ConfigError

PROFILE = "kiosk-hotspot"
DEFAULT_IFNAME = "wlan0"
NMCLI = "nmcli"
# Seconds nmcli waits for an activation before giving up (its --wait).
ACTIVATE_WAIT = 45
# Above every ordinary profile (0) so the hotspot wins wlan0 at boot when it is on.
AUTOCONNECT_PRIORITY = 100
# 2.4 GHz channels a bg access point may use; 12-13 only in some countries, 14 in JP (b only).
CHANNELS_BG = range(1, 14)

_COUNTRY_RE = re.compile(r"[A-Z]{2}")
_IFNAME_RE = re.compile(r"[A-Za-z0-9_.:-]{1,15}")


@dataclass(frozen=True, slots=True)
class HotspotSpec:
    """Everything the hotspot profile needs, already validated (see :func:`make_spec`)."""

    ssid: str
    passphrase: str | None  # None: an open network
    country: str
    channel: int
    address: str  # the kiosk's own address, e.g. 10.42.0.1
    prefix: int = 24
    ifname: str = DEFAULT_IFNAME

    @property
    def is_open(self) -> bool:
        return self.passphrase is None

    @property
    def cidr(self) -> str:
        return f"{self.address}/{self.prefix}"


def check_passphrase(passphrase: str) -> str | None:
    """Why a WPA2 passphrase is unusable (8-63 printable ASCII characters), or None."""
    if not 8 <= len(passphrase) <= 63:
        return "must be 8 to 63 characters long"
    if not all(" " <= ch <= "~" for ch in passphrase):
        return "must be printable ASCII characters"
    return None


def check_ssid(ssid: str) -> str | None:
    """Why an SSID is unusable (1-32 bytes of UTF-8), or None."""
    if not ssid or len(ssid.encode("utf-8")) > 32:
        return "must be 1 to 32 bytes long"
    if any(ord(ch) < 32 for ch in ssid):
        return "must not contain control characters"
    return None


def make_spec(*, ssid: str, passphrase: str | None, country: str, channel: int,
              address: str, ifname: str = DEFAULT_IFNAME, prefix: int = 24) -> HotspotSpec:
    """Validate the hotspot settings and bundle them; raise :class:`ConfigError` naming
    the setting at fault."""
    if (problem := check_ssid(ssid)) is not None:
        raise ConfigError("hotspot_ssid", f"{problem} (got {ssid!r})")
    if passphrase is not None and (problem := check_passphrase(passphrase)) is not None:
        raise ConfigError("hotspot_password", problem)
    code = country.upper()
    if not _COUNTRY_RE.fullmatch(code):
        raise ConfigError("hotspot_country", f"must be a two-letter country code such as GB, "
                          f"DE or US (got {country!r})")
    if channel not in CHANNELS_BG:
        raise ConfigError("hotspot_channel", f"must be a 2.4 GHz channel, 1 to 13 "
                          f"(got {channel})")
    try:
        ip = ipaddress.IPv4Interface(f"{address}/{prefix}")
    except ValueError:
        raise ConfigError("hotspot_address", f"must be an IPv4 address (got {address!r})") \
            from None
    if ip.ip in (ip.network.network_address, ip.network.broadcast_address):
        raise ConfigError("hotspot_address", f"{address} is not a host address in /{prefix}")
    if not _IFNAME_RE.fullmatch(ifname):
        raise ConfigError("ifname", f"not an interface name: {ifname!r}")
    return HotspotSpec(ssid=ssid, passphrase=passphrase, country=code, channel=channel,
                       address=str(ip.ip), prefix=prefix, ifname=ifname)


def profile_properties(spec: HotspotSpec) -> list[str]:
    """``<setting>.<property> <value>`` pairs of the profile, flattened for nmcli."""
    props = [
        "connection.interface-name", spec.ifname,
        "connection.autoconnect", "yes",
        "connection.autoconnect-priority", str(AUTOCONNECT_PRIORITY),
        # 0 = retry for ever: after a radio reset the device comes back and NM retries.
        "connection.autoconnect-retries", "0",
        "802-11-wireless.ssid", spec.ssid,
        "802-11-wireless.mode", "ap",
        "802-11-wireless.band", "bg",
        "802-11-wireless.channel", str(spec.channel),
        # 2 = disable: power saving on the Pi's radio drops clients of an access point.
        "802-11-wireless.powersave", "2",
        "ipv4.method", "shared",
        "ipv4.addresses", spec.cidr,
        # Phones get IPv4 only; no IPv6 prefix to hand out offline.
        "ipv6.method", "disabled",
    ]
    if spec.passphrase is not None:
        props += [
            "802-11-wireless-security.key-mgmt", "wpa-psk",
            "802-11-wireless-security.proto", "rsn",
            "802-11-wireless-security.pairwise", "ccmp",
            "802-11-wireless-security.group", "ccmp",
            "802-11-wireless-security.psk", spec.passphrase,
        ]
    return props


def add_command(spec: HotspotSpec) -> list[str]:
    """Create the profile (when no profile of that name exists yet)."""
    return [NMCLI, "connection", "add", "type", "wifi", "con-name", PROFILE,
            "ifname", spec.ifname, "ssid", spec.ssid, *profile_properties(spec)]


def modify_command(spec: HotspotSpec) -> list[str]:
    """Bring an existing profile up to date; an open network drops its security setting."""
    args = [NMCLI, "connection", "modify", PROFILE, *profile_properties(spec)]
    if spec.is_open:
        args += ["remove", "802-11-wireless-security"]
    return args


def exists_command() -> list[str]:
    """Exit 0 when the profile exists, 10 ("not found") when it does not."""
    return [NMCLI, "--terse", "--fields", "connection.id", "connection", "show", PROFILE]


def radio_on_command() -> list[str]:
    """Unblock Wi-Fi in NetworkManager (a fresh Pi OS image starts with it soft-blocked
    until a country is set)."""
    return [NMCLI, "radio", "wifi", "on"]


def up_command() -> list[str]:
    """Activate the profile now and wait until the access point is up."""
    return [NMCLI, "--wait", str(ACTIVATE_WAIT), "connection", "up", PROFILE]


def autoconnect_off_command() -> list[str]:
    """Keep the profile but stop it from coming back at boot or after a radio reset."""
    return [NMCLI, "connection", "modify", PROFILE, "connection.autoconnect", "no"]


def down_command() -> list[str]:
    """Take the access point down now."""
    return [NMCLI, "connection", "down", PROFILE]


def status_command() -> list[str]:
    """The profile's state, device, addresses and autoconnect flag, one per line
    (``FIELD:value``; ``--show-secrets`` is never used)."""
    return [NMCLI, "--terse", "--fields",
            "connection.autoconnect,802-11-wireless.ssid,802-11-wireless.channel,"
            "GENERAL.STATE,GENERAL.DEVICES,IP4.ADDRESS",
            "connection", "show", PROFILE]


def country_commands(country: str, *, raspi_config: bool) -> list[list[str]]:
    """Set the Wi-Fi regulatory domain (which channels and power are legal).

    NetworkManager has no per-profile country. On Raspberry Pi OS,
    ``raspi-config nonint do_wifi_country`` sets it persistently (kernel command line
    ``cfg80211.ieee80211_regdom``, and it unblocks the radio); elsewhere ``iw reg set``
    sets it until the next boot.
    """
    if raspi_config:
        return [["raspi-config", "nonint", "do_wifi_country", country]]
    return [["iw", "reg", "set", country]]


def parse_terse(output: str) -> dict[str, str]:
    """``FIELD:value`` lines of ``nmcli --terse`` into a dict (repeated fields joined
    by ``,``; nmcli escapes ``:`` in values as ``\\:``)."""
    out: dict[str, str] = {}
    for line in output.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        value = value.replace("\\:", ":")
        # IP4.ADDRESS[1], IP4.ADDRESS[2]: keep the field name, join the values.
        key = key.split("[", 1)[0]
        out[key] = f"{out[key]},{value}" if key in out and value else (value or out.get(key, ""))
    return out


_WORDS = (
    "acorn", "amber", "anchor", "apple", "arrow", "aspen", "autumn", "badger", "bamboo", "banjo",
    "beacon", "beaver", "berry", "birch", "bison", "blossom", "breeze", "brook", "cactus",
    "camel", "candle", "canyon", "cedar", "cherry", "cliff", "clover", "cobalt", "comet",
    "copper", "coral", "cosmos", "cotton", "crane", "crystal", "daisy", "delta", "desert",
    "dolphin", "dragon", "eagle", "ember", "falcon", "fern", "fiddle", "finch", "forest",
    "fossil", "fox", "galaxy", "garden", "gecko", "ginger", "glacier", "granite", "harbor",
    "hazel", "heron", "honey", "island", "ivy", "jasmine", "jelly", "kayak", "kettle", "kiwi",
    "koala", "lagoon", "lantern", "lemon", "lily", "lotus", "magnet", "mango", "maple", "meadow",
    "melon", "meteor", "mint", "moose", "mosaic", "nectar", "nickel", "oak", "ocean", "olive",
    "orbit", "otter", "owl", "panda", "papaya", "pebble", "pepper", "piano", "pine", "planet",
    "plum", "pony", "prism", "puffin", "quartz", "rabbit", "radar", "raven", "reef", "river",
    "robin", "rocket", "saffron", "salmon", "sequoia", "shell", "sierra", "silver", "sparrow",
    "spruce", "squid", "summit", "sunset", "swan", "teal", "thistle", "thunder", "tiger",
    "timber", "topaz", "tulip", "tundra", "turtle", "velvet", "violet", "walnut", "walrus",
    "willow", "yak", "zebra",
)


def generate_passphrase(words: int = 4, digits: int = 3) -> str:
    """A readable WPA2 passphrase: lowercase words and a number, joined by dashes
    (``otter-maple-comet-harbor-417``): easy to read aloud; about 38 bits with the
    defaults (135 words): enough to keep passers-by off a class's Wi-Fi for a day."""
    parts = [secrets.choice(_WORDS) for _ in range(words)]
    number = "".join(secrets.choice("0123456789") for _ in range(digits))
    return "-".join([*parts, number])


def redact(args: Sequence[str]) -> list[str]:
    """The command with the passphrase hidden, for logs and ``--dry-run``."""
    out = list(args)
    for i, arg in enumerate(out[:-1]):
        if arg == "802-11-wireless-security.psk":
            out[i + 1] = "********"
    return out
