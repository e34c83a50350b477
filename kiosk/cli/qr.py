"""``kiosk qr [URL]``: print a QR code in the terminal.

Without a URL it prints the kiosk's own IP-literal URL (first chosen interface,
configured port), which is what students should scan; ``--wifi`` prints the Wi-Fi
code instead, ``--svg`` an SVG document. On a terminal the code is drawn black on
white with ANSI colours so that it scans on dark backgrounds too.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kiosk.cli.messages import translations
from kiosk.config import KioskConfig
from kiosk.errors import KioskError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("qr", parents=[common], help="print a QR code of the kiosk's URL",
                            description="Print the QR code students scan: of URL if given, "
                            "else of the kiosk's IP-literal URL on its first interface.")
    parser.add_argument("url", nargs="?", help="what to encode (default: the kiosk's URL)")
    parser.add_argument("--wifi", action="store_true",
                        help="encode the Wi-Fi join code (wifi_ssid, wifi_password)")
    parser.add_argument("--svg", action="store_true", help="print an SVG document instead")
    parser.set_defaults(func=run)


def default_url(config: KioskConfig) -> str:
    """The kiosk's own URL as students should type it (blocking: reads interfaces)."""
    from kiosk.discovery.interfaces import all_addresses, scan
    from kiosk.urls import ip_urls, reachable_addresses

    t = translations(config)
    if config.port == 0:
        raise KioskError(t.gettext("the port is 0 (chosen at start); give the URL: kiosk qr URL"))
    scheme = "https" if config.tls_cert else "http"
    reachable = reachable_addresses(config.host, all_addresses(scan(config.interfaces)))
    urls = ip_urls(reachable, config.port, scheme)
    if not urls:
        raise KioskError(t.gettext("no network address found on the kiosk's interfaces "
                                   "(%(names)s)")
                         % {"names": ", ".join(config.interfaces) or "eth*, en*, wlan*, wl*, usb*"})
    return urls[0]


def run(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.qr import qr_ansi, qr_svg, qr_text, wifi_payload

    if args.wifi:
        if not config.wifi_ssid:
            raise KioskError(translations(config).gettext("wifi_ssid is not set"))
        data = wifi_payload(config.wifi_ssid, config.wifi_password)
    else:
        data = args.url or default_url(config)
    if args.svg:
        sys.stdout.write(qr_svg(data) + "\n")
        return 0
    drawn = qr_ansi(data) if sys.stdout.isatty() else qr_text(data)
    sys.stdout.write(drawn + "\n")
    if not args.wifi:
        sys.stdout.write(data + "\n")
    return 0
