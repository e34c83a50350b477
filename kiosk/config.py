"""The kiosk's one configuration object, declared once.

Every setting is a field of :class:`KioskConfig` with its default and help text. The
TOML loader, the ``KIOSK_*`` environment variables, the command-line flags and
``docs/configuration.md`` (checked by a test) all derive from these declarations.

Precedence, lowest first: defaults, the TOML file (``--config``, or
``/etc/kiosk/kiosk.toml`` when it exists), ``KIOSK_<NAME>`` environment variables,
command-line flags. A bad value stops the start with a :class:`ConfigError` that
names the key and the problem.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError

DEFAULT_CONFIG_FILE = Path("/etc/kiosk/kiosk.toml")
ENV_PREFIX = "KIOSK_"

Validator = Callable[[Any], str | None]


def _setting(default: Any, help: str, *, check: Validator | None = None,
             secret: bool = False) -> Any:
    """Declare one setting: its default, its help text, an optional check."""
    meta = {"help": help, "check": check, "secret": secret}
    if isinstance(default, list | dict):
        raise TypeError("settings take immutable defaults")
    return field(default=default, metadata=meta)


def _port(value: int) -> str | None:
    return None if 0 <= value <= 65535 else "must be between 0 and 65535"


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _not_negative(value: float) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def _host(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", value):
            return "must be an IP address or a host name"
    return None


_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def _kiosk_name(value: str) -> str | None:
    if _NAME_RE.fullmatch(value):
        return None
    return ("must be 1-63 lowercase letters, digits or '-', not starting or ending "
            "with '-' (it becomes <name>.local)")


def _url(value: str | None) -> str | None:
    if value is None:
        return None
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
        return "must be an http:// or https:// URL"
    return None


def _upstream_kind(value: str) -> str | None:
    return None if value in {"auto", "kiosk", "je"} else "must be 'auto', 'kiosk' or 'je'"


def _header_name(value: str | None) -> str | None:
    if value is None or re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", value):
        return None
    return "must be an HTTP header name (letters, digits, dashes)"


def _header_value(value: str | None) -> str | None:
    if value is None or not any(c in value for c in "\r\n\0"):
        return None
    return "must be one line"


def _log_level(value: str) -> str | None:
    levels = {"DEBUG", "INFO", "WARNING", "ERROR"}
    return None if value.upper() in levels else f"must be one of {sorted(levels)}"


def _hotspot_alias(value: str) -> str | None:
    # Written into dnsmasq's configuration (run as root) as <alias>.lan: one DNS label.
    if value == "" or _NAME_RE.fullmatch(value):
        return None
    return ("must be one DNS label: 1-63 lowercase letters, digits or '-' (it becomes "
            "<alias>.lan), or empty for none")


def _no_control(value: str) -> str | None:
    # Values that reach a file, a command line or an HTTP header: one line of text.
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "must not contain control characters (such as a line break)"
    return None


def _ssid(value: str) -> str | None:
    if not value or len(value.encode("utf-8")) > 32:
        return "must be 1 to 32 bytes long"
    return _no_control(value)


def _wpa_passphrase(value: str) -> str | None:
    if not 8 <= len(value) <= 63 or not all(" " <= ch <= "~" for ch in value):
        return "must be 8 to 63 printable ASCII characters"
    return None


def _country(value: str) -> str | None:
    return None if re.fullmatch(r"[A-Za-z]{2}", value) else "must be a two-letter country code"


def _wifi_channel(value: int) -> str | None:
    return None if 1 <= value <= 14 else "must be a 2.4 GHz channel, 1 to 14"


def _interface_patterns(value: tuple[str, ...]) -> str | None:
    for item in value:
        if not re.fullmatch(r"[A-Za-z0-9_.:@*?\[\]-]{1,15}", item):
            return f"{item!r} is not an interface name or pattern"
    return None


def _host_names(value: tuple[str, ...]) -> str | None:
    for item in value:
        if _host(item) is not None or item.startswith((".", "-")):
            return f"{item!r} is not a host name or an IP address"
    return None


def _language(value: str | None) -> str | None:
    languages = ("en", "fr", "es", "de", "pt_BR", "ar")  # kiosk.i18n.LANGUAGES
    if value is None or value in languages:
        return None
    return f"must be one of {', '.join(languages)} (or unset: each browser's own)"


def _default_data_dir() -> Path:
    # systemd's StateDirectory= sets STATE_DIRECTORY; a user gets the XDG location.
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0])
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "kiosk"


@dataclass(frozen=True, slots=True)
class KioskConfig:
    """All settings of the kiosk. Build it with :func:`load_config`."""

    # Identity and network
    name: str = _setting("kiosk", "The kiosk's name: shown to students, announced as "
                         "<name>.local, returned as domain_id.", check=_kiosk_name)
    host: str = _setting("0.0.0.0", "Address to listen on (0.0.0.0: every IPv4 interface).",
                         check=_host)
    port: int = _setting(8000, "TCP port to listen on (0 picks a free one).", check=_port)
    data_dir: Path | None = _setting(None, "Where the share store, secrets and caches live "
                                     "(default: $STATE_DIRECTORY under systemd, else "
                                     "~/.local/share/kiosk).")
    bundles_dir: Path | None = _setting(None, "Folder of built bundles and of the 'current' "
                                        "pointer (default: <data_dir>/bundles).")
    log_level: str = _setting("INFO", "Log level: DEBUG, INFO, WARNING or ERROR.",
                              check=_log_level)
    shutdown_timeout: float = _setting(5.0, "Seconds in-flight requests get to finish on "
                                       "SIGTERM.", check=_positive)
    tls_cert: Path | None = _setting(None, "PEM certificate: serve HTTPS (with tls_key).")
    tls_key: Path | None = _setting(None, "PEM private key for tls_cert.")

    # Sharing
    max_notebook_mib: float = _setting(10.0, "Largest notebook a share may hold, in MiB "
                                       "(larger: 413).", check=_positive)
    token_days: float = _setting(30.0, "Lifetime of sharing tokens, in days.", check=_positive)
    retention_days: float = _setting(0.0, "Delete shares older than this many days "
                                     "(0: keep until the teacher clears them).",
                                     check=_not_negative)
    rate_issue_per_minute: int = _setting(120, "Tokens one client address may get per minute.",
                                          check=_positive)
    rate_post_per_minute: int = _setting(120, "New shares one client address may post per "
                                         "minute.", check=_positive)
    min_free_disk_mib: float = _setting(200.0, "Below this free space in the data directory, "
                                        "new shares get 507.", check=_not_negative)

    # Sync
    upstream_url: str | None = _setting(None, "Sharing API to forward shares to, e.g. "
                                        "http://hub.school/api/v1 (none: nothing leaves).",
                                        check=_url)
    sync_enabled: bool = _setting(False, "Forward shares to upstream_url.")
    sync_interval: float = _setting(30.0, "Seconds between sync rounds while idle.",
                                    check=_positive)
    upstream_token: str | None = _setting(None, "Bearer credential for the upstream, if it "
                                          "needs one.", secret=True, check=_no_control)

    # Discovery and join page
    mdns_enabled: bool = _setting(True, "Announce the kiosk with mDNS.")
    mdns_conflict_check_interval: float = _setting(
        30.0, "Seconds between checks that no other device answers for the kiosk's "
        "mDNS name (a clash found later makes one of the two rename).", check=_positive)
    interfaces: tuple[str, ...] = _setting((), "Interfaces to announce on: names or patterns "
                                           "such as veth* (empty: eth*, en*, wlan*, wl*, usb*, "
                                           "uap* that are up with an address).",
                                           check=_interface_patterns)
    wifi_ssid: str | None = _setting(None, "Wi-Fi name shown as a QR code on /join.",
                                     check=_no_control)
    wifi_password: str | None = _setting(None, "Wi-Fi password in that QR code.", secret=True,
                                         check=_no_control)

    # Downloads relay (plain-HTTP work)
    fetch_enabled: bool = _setting(True, "Let notebooks download http(s) URLs through the "
                                   "kiosk (cached for offline use).")
    fetch_max_mib: float = _setting(50.0, "Largest file the download relay keeps, in MiB.",
                                    check=_positive)
    fetch_allow_private: bool = _setting(False, "Let the download relay reach private, "
                                         "loopback and link-local addresses.")

    # Hotspot
    hotspot_ssid: str | None = _setting(None, "SSID of the kiosk's own Wi-Fi (default: the "
                                        "kiosk's name).", check=_ssid)
    hotspot_password: str | None = _setting(None, "WPA2 passphrase (default: generated).",
                                            secret=True, check=_wpa_passphrase)
    hotspot_country: str = _setting("GB", "Two-letter Wi-Fi country code.",
                                   check=_country)
    hotspot_channel: int = _setting(6, "Wi-Fi channel.", check=_wifi_channel)
    hotspot_alias: str = _setting("python", "Short extra name that resolves on the hotspot.",
                                 check=_hotspot_alias)

    # Service-worker relay (files and input() on plain HTTP)
    relay_enabled: bool = _setting(True, "Answer the kernel's drive and input() requests by "
                                   "relaying them to the notebook page (plain-HTTP origins).")
    relay_timeout: float = _setting(15.0, "Seconds a file request from the kernel may wait for "
                                    "the page's answer.", check=_positive)
    hotspot_address: str = _setting("10.42.0.1", "The kiosk's own IPv4 address on its hotspot "
                                    "(NetworkManager's shared-mode default); captive-portal "
                                    "answers only on it.",
                                    check=_host)
    data_note: str | None = _setting(None, "A sentence on the start page about where students' "
                                     "shared work is kept (the USB launcher sets it).",
                                     check=_no_control)

    # Sync (more)
    upstream_kind: str = _setting("auto", "What the upstream is: 'kiosk' (another kiosk: "
                                  "exactly-once with Idempotency-Key), 'je' (the Jupyter "
                                  "Everywhere service) or 'auto' (ask its health answer).",
                                  check=_upstream_kind)
    sync_concurrency: int = _setting(4, "Notebooks sent upstream at once (each one strictly "
                                     "in order).", check=_positive)
    sync_backoff_base: float = _setting(2.0, "First retry delay of a failed upstream send, in "
                                        "seconds; doubles per failure, with full jitter.",
                                        check=_positive)
    sync_backoff_max: float = _setting(300.0, "Longest retry delay of a failed upstream send, "
                                       "in seconds.", check=_positive)
    sync_timeout: float = _setting(30.0, "Seconds one upstream request may take (the health "
                                   "probe gets at most 5).", check=_positive)
    upstream_site_url: str | None = _setting(
        None, "Public site of the upstream, for take-home links (its JupyterLite at "
        "<site>/lab/index.html?notebook=<code>); unset: https://jupytereverywhere.org for "
        "the public Jupyter Everywhere service, a kiosk's own origin, none (no take-home "
        "link, said in the sync status) for a self-hosted Jupyter Everywhere.", check=_url)
    upstream_auth_header: str | None = _setting(
        None, "Name of an extra header the upstream requires (the JE service's optional "
        "extra authentication header).", check=_header_name)
    upstream_auth_value: str | None = _setting(
        None, "Value of that extra header.", secret=True, check=_header_value)
    sync_student_names: bool = _setting(False, "Send the name a student typed in the Share "
                                        "dialog upstream with the notebook (as its "
                                        "metadata.authors); off: names stay on the kiosk.")

    # Hostile clients (see docs/security.md)
    rate_miss_per_minute: int = _setting(10, "Share links that do not exist one client "
                                         "address may ask for per minute (then 429 on every "
                                         "route that takes a share id).", check=_positive)
    host_aliases: tuple[str, ...] = _setting((), "Other names the kiosk answers to on its API "
                                             "and dashboard paths, besides its IP addresses, "
                                             "localhost, <name>, <name>.local and .lan names "
                                             "(e.g. a school DNS name, a TLS certificate's "
                                             "name); any other Host gets 421.",
                                             check=_host_names)
    render_max_cells: int = _setting(1000, "Share pages of notebooks with more cells are "
                                     "shown as plain text instead of rendered.",
                                     check=_positive)
    render_timeout: float = _setting(10.0, "Seconds a share page's render may take; then its "
                                     "worker process is killed and the page is shown as "
                                     "plain text.", check=_positive)
    fetch_cache_mib: float = _setting(500.0, "Largest total size of the download cache, in "
                                      "MiB; the files fetched longest ago are removed "
                                      "first (it also always leaves twice "
                                      "min_free_disk_mib free for shares).", check=_positive)

    # Language
    language: str | None = _setting(None, "Language of the kiosk's pages for the whole class: "
                                     "en, fr, es, de, pt_BR or ar (unset: each browser's "
                                     "own; the dashboard can change it).", check=_language)

    # Class start (see kiosk/serving/schedule.py)
    link_mbit: float = _setting(0.0, "Speed of the classroom link in Mbit/s (e.g. 50 for a "
                                "Pi's Wi-Fi): the kiosk sends bundle files just under it, app "
                                "shell first, then Python, then wheels, earlier students "
                                "first (0: no scheduling).", check=_not_negative)

    @property
    def data_path(self) -> Path:
        """The data directory, with the default filled in."""
        return self.data_dir if self.data_dir is not None else _default_data_dir()

    @property
    def bundles_path(self) -> Path:
        """The bundles directory, with the default filled in."""
        return self.bundles_dir if self.bundles_dir is not None else self.data_path / "bundles"

    @property
    def max_notebook_bytes(self) -> int:
        return int(self.max_notebook_mib * 1024 * 1024)

    def redacted(self) -> dict[str, Any]:
        """The settings as plain values, with secrets hidden (for status and logs)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("secret") and value is not None:
                value = "***"
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


@dataclass(frozen=True, slots=True)
class SettingInfo:
    """What the loaders, the CLI and the docs need to know about one setting."""

    name: str
    type: Any
    default: Any
    help: str
    secret: bool

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def settings() -> list[SettingInfo]:
    """Every setting, in declaration order."""
    hints = typing.get_type_hints(KioskConfig)
    return [
        SettingInfo(f.name, hints[f.name], f.default, f.metadata["help"],
                    bool(f.metadata["secret"]))
        for f in dataclasses.fields(KioskConfig)
    ]


def _base_type(tp: Any) -> tuple[Any, bool]:
    """Strip ``X | None`` to ``X``; say whether None is allowed."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], True
    return tp, False


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def coerce(info: SettingInfo, raw: Any) -> Any:
    """Turn a TOML value or a string (env, flag) into the setting's type, or raise."""
    tp, optional = _base_type(info.type)
    if raw is None or (optional and isinstance(raw, str) and raw == ""):
        if optional:
            return None
        raise ConfigError(info.name, "must be set")
    try:
        if tp is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError("expected true or false")
        if tp is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError("expected a whole number")
            try:
                return int(raw)
            except ValueError:
                raise ValueError("expected a whole number") from None
        if tp is float:
            if isinstance(raw, bool):
                raise ValueError("expected a number")
            try:
                return float(raw)
            except ValueError:
                raise ValueError("expected a number") from None
        if tp is Path:
            if not isinstance(raw, str | Path) or str(raw) == "":
                raise ValueError("expected a path")
            return Path(raw).expanduser()
        if tp is str:
            if not isinstance(raw, str):
                raise ValueError("expected a string")
            return raw
        if typing.get_origin(tp) is tuple:
            items = raw.split(",") if isinstance(raw, str) else raw
            if not isinstance(items, list | tuple):
                raise ValueError("expected a list")
            return tuple(str(i).strip() for i in items if str(i).strip())
    except (TypeError, ValueError) as exc:
        raise ConfigError(info.name, f"{exc} (got {raw!r})") from None
    raise ConfigError(info.name, f"unsupported type {tp!r}")  # pragma: no cover


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("config", f"file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{path} is not valid TOML: {exc}") from None
    # Accept both a flat file and one with a [kiosk] table.
    table = data.get("kiosk", data)
    if not isinstance(table, dict):
        raise ConfigError("config", f"{path}: [kiosk] must be a table")
    return table


def load_config(
    *,
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> KioskConfig:
    """Build the configuration from defaults, a TOML file, the environment and flags.

    ``overrides`` holds flag values (already typed or strings); ``None`` values are
    ignored so that unset flags do not hide the file or the environment.
    """
    env = os.environ if env is None else env
    infos = {info.name: info for info in settings()}
    values: dict[str, Any] = {}

    path = config_file
    if path is None and env.get(ENV_PREFIX + "CONFIG"):
        path = Path(env[ENV_PREFIX + "CONFIG"])
    if path is None and DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
    if path is not None:
        for key, raw in _read_toml(path).items():
            name = key.replace("-", "_")
            if name not in infos:
                raise ConfigError(key, f"unknown setting in {path}")
            values[name] = coerce(infos[name], raw)

    for name, info in infos.items():
        if info.env in env:
            values[name] = coerce(info, env[info.env])

    for name, raw in (overrides or {}).items():
        if name not in infos:
            raise ConfigError(name, "unknown setting")
        if raw is not None:
            values[name] = coerce(infos[name], raw)

    for name, value in values.items():
        check = KioskConfig.__dataclass_fields__[name].metadata["check"]
        if check is not None and value is not None:
            problem = check(value)
            if problem:
                raise ConfigError(name, f"{problem} (got {value!r})")
    config = KioskConfig(**values)
    if (config.tls_cert is None) != (config.tls_key is None):
        raise ConfigError("tls_cert", "tls_cert and tls_key must be given together")
    if config.sync_enabled and not config.upstream_url:
        raise ConfigError("sync_enabled", "needs upstream_url")
    if (config.upstream_auth_header is None) != (config.upstream_auth_value is None):
        raise ConfigError("upstream_auth_header", "upstream_auth_header and "
                          "upstream_auth_value must be given together")
    return config


def settings_markdown() -> str:
    """The settings table of ``docs/configuration.md`` (a test keeps the two identical)."""
    rows = ["| setting | environment | default | meaning |", "|---|---|---|---|"]
    for info in settings():
        default = info.default
        shown = "(unset)" if default is None else (
            ", ".join(default) or "(empty)" if isinstance(default, tuple) else str(default))
        if isinstance(default, bool):
            shown = str(default).lower()
        rows.append(f"| `{info.name}` | `{info.env}` | `{shown}` | {info.help} |")
    return "\n".join(rows) + "\n"
