"""``kiosk backup DEST`` and ``kiosk restore SRC``: a class's shares onto a new SD card."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kiosk.cli.messages import translations
from kiosk.config import KioskConfig


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    back = sub.add_parser(
        "backup", parents=[common], help="copy the shares and secrets into a folder",
        description="Copy the share store (SQLite online backup: the kiosk may keep "
        "serving), the admin secret, the signing key and the kiosk's other state files "
        "into DEST, a new folder (mode 0700, files 0600), with a list of checksums.")
    back.add_argument("dest", type=Path, metavar="DEST", help="a new or empty folder")
    back.set_defaults(func=run_backup)
    rest = sub.add_parser(
        "restore", parents=[common], help="put a backup into the data directory",
        description="Check the backup in SRC (checksums, SQLite integrity, schema), then "
        "make it the kiosk's data. The kiosk must be stopped first; what the data "
        "directory held is moved into before-restore-<time>/, never deleted.")
    rest.add_argument("src", type=Path, metavar="SRC", help="a folder made by 'kiosk backup'")
    rest.set_defaults(func=run_restore)


def run_backup(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.backup import backup

    report = backup(config.data_path, args.dest)
    t = translations(config)
    shares = t.ngettext("%(n)d share", "%(n)d shares", report.shares) % {"n": report.shares}
    files = len(report.files) - 1
    state = t.ngettext("%(n)d state file", "%(n)d state files", files) % {"n": files}
    print(t.gettext("backed up %(shares)s and %(files)s from %(data)s to %(dest)s")
          % {"shares": shares, "files": state, "data": config.data_path, "dest": report.path})
    return 0


def run_restore(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.backup import restore

    report, kept = restore(args.src, config.data_path)
    t = translations(config)
    shares = t.ngettext("%(n)d share", "%(n)d shares", report.shares) % {"n": report.shares}
    files = len(report.files) - 1
    state = t.ngettext("%(n)d state file", "%(n)d state files", files) % {"n": files}
    print(t.gettext("restored %(shares)s and %(files)s into %(data)s")
          % {"shares": shares, "files": state, "data": config.data_path})
    if kept is not None:
        print(t.gettext("what was there before is kept in %(path)s") % {"path": kept})
    return 0
