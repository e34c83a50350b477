"""DNS-SD names and TXT records within the limits of the wire format (pure).

A DNS label is at most 63 bytes; a TXT ``key=value`` string at most 255 bytes, and
we keep values to 230 bytes as Home Assistant does so that a key always fits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping

_LOGGER = logging.getLogger(__name__)

MAX_LABEL_BYTES = 63
MAX_TXT_VALUE_BYTES = 230

HTTP_TYPE = "_http._tcp.local."
KIOSK_TYPE = "_jupyter-kiosk._tcp.local."
SERVICE_TYPES = (HTTP_TYPE, KIOSK_TYPE)


def truncate_utf8(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, never inside a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def instance_label(name: str) -> str:
    """A service instance name: no dots (they would split the label), ≤ 63 bytes."""
    cleaned = " ".join(name.replace(".", " ").split()) or "kiosk"
    return truncate_utf8(cleaned, MAX_LABEL_BYTES).rstrip()


def numbered(base: str, number: int) -> str:
    """``base`` for 1, else ``base-<number>``, cut so the whole stays one 63-byte label."""
    if number <= 1:
        return truncate_utf8(base, MAX_LABEL_BYTES)
    suffix = f"-{number}"
    stem = truncate_utf8(base, MAX_LABEL_BYTES - len(suffix)).rstrip("-")
    return stem + suffix


def candidate_names(base: str, count: int = 20) -> Iterator[str]:
    """The host names to try in turn: ``kiosk``, ``kiosk-2``, ``kiosk-3``, ..."""
    for number in range(1, count + 1):
        yield numbered(base, number)


def host_fqdn(label: str) -> str:
    """``kiosk`` → ``kiosk.local.`` (the form python-zeroconf wants)."""
    return f"{label}.local."


def service_fqdn(label: str, type_: str) -> str:
    return f"{instance_label(label)}.{type_}"


def instance_of(fqdn: str, type_: str) -> str:
    """``kiosk-2._http._tcp.local.`` → ``kiosk-2``."""
    suffix = "." + type_
    return fqdn[: -len(suffix)] if fqdn.endswith(suffix) else fqdn


def txt_properties(values: Mapping[str, str | None]) -> dict[str, str]:
    """TXT properties with every value ≤ 230 bytes; a longer one is blanked and logged.

    A truncated path or URL would point somewhere wrong, so it is dropped instead.
    """
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        if len(value.encode("utf-8")) > MAX_TXT_VALUE_BYTES:
            _LOGGER.error("TXT value of %r is longer than %d bytes; announcing it empty",
                          key, MAX_TXT_VALUE_BYTES)
            out[key] = ""
        else:
            out[key] = value
    return out
