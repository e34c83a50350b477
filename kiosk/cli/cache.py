"""``kiosk cache add|list|remove``: datasets pre-loaded for a lesson.

The dashboard's datasets page (:mod:`kiosk.dashboard.datasets`) does the same from a
browser.
"""

from __future__ import annotations

import argparse
import asyncio
import gettext
import time
from typing import Any

from kiosk.cli.messages import translations
from kiosk.config import KioskConfig
from kiosk.downloads import make_downloader


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("cache", help="files notebooks can download offline",
                            description="Pre-load files (datasets) that notebooks will fetch, "
                            "while the kiosk is online, so they work in class offline.")
    actions = parser.add_subparsers(dest="cache_action", metavar="ACTION", required=True)
    add = actions.add_parser("add", parents=[common], help="download URLs into the cache")
    add.add_argument("urls", nargs="+", metavar="URL")
    add.set_defaults(func=run_add)
    listing = actions.add_parser("list", parents=[common], help="list cached files")
    listing.set_defaults(func=run_list)
    remove = actions.add_parser("remove", parents=[common], help="delete cached files",
                                description="Forget the saved copies of these URLs (as "
                                "listed by 'kiosk cache list').")
    remove.add_argument("urls", nargs="+", metavar="URL")
    remove.set_defaults(func=run_remove)


async def _add(config: KioskConfig, urls: list[str], t: gettext.NullTranslations) -> int:
    downloader = make_downloader(config)
    failures = 0
    try:
        for url in urls:
            try:
                entry, _ = await downloader.fetch(url, refresh=True)
            except Exception as exc:  # reported per URL, then the next one
                failures += 1
                print(t.gettext("FAILED %(url)s: %(error)s")
                      % {"url": url, "error": getattr(exc, "message", exc)})
            else:
                print(t.ngettext("cached %(url)s (%(n)d byte, %(type)s)",
                                 "cached %(url)s (%(n)d bytes, %(type)s)", entry.size)
                      % {"url": url, "n": entry.size, "type": entry.content_type})
    finally:
        await downloader.close()
    return 1 if failures else 0


def run_add(args: argparse.Namespace, config: KioskConfig) -> int:
    return asyncio.run(_add(config, args.urls, translations(config)))


def run_list(args: argparse.Namespace, config: KioskConfig) -> int:
    entries = make_downloader(config).cache.entries()
    if not entries:
        print(translations(config).gettext("the download cache is empty"))
    for entry in entries:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.fetched_at))
        print(f"{when}  {entry.size:>10}  {entry.url}")
    return 0


def run_remove(args: argparse.Namespace, config: KioskConfig) -> int:
    cache = make_downloader(config).cache
    t = translations(config)
    missing = 0
    for url in args.urls:
        if cache.remove(url):
            print(t.gettext("removed %(url)s") % {"url": url})
        else:
            missing += 1
            print(t.gettext("NOT CACHED %(url)s (see 'kiosk cache list')") % {"url": url})
    return 1 if missing else 0
