"""``kiosk admin secret``: print the teacher's admin secret (created on first use)."""

from __future__ import annotations

import argparse
from typing import Any

from kiosk.config import KioskConfig


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("admin", help="the teacher's admin secret",
                            description="Things only the person at the kiosk's shell can do.")
    commands = parser.add_subparsers(dest="admin_command", metavar="ACTION", required=True)
    secret = commands.add_parser(
        "secret", parents=[common], help="print the admin secret",
        description="Print the admin secret (generated on first start, kept with mode "
        "0600 in the data directory). It unlocks the teacher's share management.")
    secret.set_defaults(func=run_secret)


def run_secret(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.secrets import admin_secret_path, load_or_create_secret

    print(load_or_create_secret(admin_secret_path(config.data_path)))
    return 0
