"""``kiosk usb make DEST`` and ``kiosk usb verify DEST``: the kiosk on a USB stick."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from kiosk.cli.messages import translations
from kiosk.config import KioskConfig
from kiosk.usb.platforms import PLATFORMS, PYTHON_VERSIONS, platform_by_key


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("usb", help="make or check a kiosk USB stick",
                            description="Write the kiosk onto a USB stick (any laptop runs "
                            "it with no internet) or check a stick against its manifest.")
    usb_sub = parser.add_subparsers(dest="usb_command", metavar="ACTION", required=True)
    make = usb_sub.add_parser(
        "make", parents=[common], help="write a stick folder",
        description="Copy the active bundle (of --bundles-dir), the kiosk's wheel and every "
        "dependency as wheels for each platform and Python version, the launchers and a "
        "README into DEST. Needs the package index once; later makes reuse the cache.")
    make.add_argument("dest", type=Path, metavar="DEST", help="the stick (or a folder)")
    make.add_argument("--platforms", nargs="+", metavar="KEY",
                      default=[p.key for p in PLATFORMS],
                      help="platforms to carry (default: all: "
                      + ", ".join(p.key for p in PLATFORMS) + ")")
    make.add_argument("--python", nargs="+", metavar="VERSION", dest="pythons",
                      default=list(PYTHON_VERSIONS),
                      help="Python versions to carry (default: "
                      + " ".join(PYTHON_VERSIONS) + ")")
    make.add_argument("--cache-dir", type=Path, metavar="DIR",
                      help="download cache (default: ~/.cache/kiosk/usb)")
    make.add_argument("--kiosk-wheel", type=Path, metavar="FILE",
                      help="use this kiosk wheel instead of building one from the source")
    make.add_argument("--refresh", action="store_true",
                      help="download again even when the cache has the wheels")
    make.add_argument("--jobs", type=int, default=4, help="downloads at once (4)")
    make.add_argument("--with-python", nargs="?", action="append", metavar="KEY",
                      const="linux-x86_64", choices=["linux-x86_64", "linux-aarch64"],
                      help="also carry a Python for Linux laptops that have none (Debian "
                      "12's Python 3.11, fetched with apt-get; about 9 MiB). KEY: "
                      "linux-x86_64 (the default) or linux-aarch64; repeat for both")
    make.set_defaults(func=run_make)
    verify = usb_sub.add_parser(
        "verify", parents=[common], help="check a stick against its manifest",
        description="Hash every file of the stick again and compare with kiosk-usb.json: "
        "exit code 1 names the missing, changed and extra files.")
    verify.add_argument("dest", type=Path, metavar="DEST", help="the stick (or a folder)")
    verify.set_defaults(func=run_verify)


def _mib(size: int) -> str:
    return f"{size / 1048576:.1f} MiB"


def run_make(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.usb.make import MakeOptions, default_cache_dir, make_stick, parse_pythons

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    options = MakeOptions(
        dest=args.dest, bundles_dir=config.bundles_path,
        platforms=tuple(platform_by_key(k) for k in args.platforms),
        pythons=parse_pythons(args.pythons),
        cache_dir=args.cache_dir or default_cache_dir(), kiosk_wheel=args.kiosk_wheel,
        refresh=args.refresh, jobs=args.jobs,
        with_python=_with_python(args.with_python))
    report = make_stick(options)
    t = translations(config)
    print(t.ngettext("Stick written to %(path)s in %(seconds).0f s: %(n)d file, %(size)s",
                     "Stick written to %(path)s in %(seconds).0f s: %(n)d files, %(size)s",
                     len(report.entries))
          % {"path": report.dest, "seconds": report.seconds, "n": len(report.entries),
             "size": _mib(report.total_bytes)})
    for part, size in report.sizes().items():
        print(f"  {part:<30} {_mib(size):>12}")
    skipped = [s for s in report.sets if s.skipped]
    for ws in skipped:
        print("  " + t.gettext("skipped %(platform)s, Python %(python)s: %(why)s")
              % {"platform": ws.platform.title, "python": ws.python, "why": ws.skipped})
    print(t.gettext("Check it with: kiosk usb verify %(path)s") % {"path": report.dest})
    return 0


def _with_python(keys: list[str] | None) -> tuple[str, ...]:
    """The platforms ``--with-python`` named (alone: linux-x86_64), each once."""
    return tuple(dict.fromkeys(keys or ()))


def run_verify(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.usb.layout import read_stick_manifest
    from kiosk.usb.verify import verify_stick

    problems = verify_stick(args.dest)
    manifest = read_stick_manifest(args.dest)
    t = translations(config)
    if problems:
        for problem in problems[:50]:
            print(f"  {problem}")
        if len(problems) > 50:
            more = len(problems) - 50
            print("  " + t.ngettext("... and %(n)d more", "... and %(n)d more", more)
                  % {"n": more})
        print(t.ngettext("%(path)s: %(n)d problem: copy the stick again (or run 'kiosk usb "
                         "make' on it)",
                         "%(path)s: %(n)d problems: copy the stick again (or run 'kiosk usb "
                         "make' on it)", len(problems)) % {"path": args.dest, "n": len(problems)})
        return 1
    files = len(manifest["files"])
    print(t.ngettext("%(path)s: the %(n)d file matches kiosk-usb.json (kiosk %(version)s, "
                     "bundle %(bundle)s)",
                     "%(path)s: all %(n)d files match kiosk-usb.json (kiosk %(version)s, "
                     "bundle %(bundle)s)", files)
          % {"path": args.dest, "n": files, "version": manifest.get("kiosk_version"),
             "bundle": manifest.get("bundle", {}).get("name")})
    return 0
