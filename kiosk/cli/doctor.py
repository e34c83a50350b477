"""``kiosk doctor``: check the kiosk's surroundings and say what to do about problems."""

from __future__ import annotations

import argparse
import json
from typing import Any

from kiosk.cli.messages import translations
from kiosk.config import KioskConfig


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "doctor", parents=[common], help="check network, mDNS, port, bundle, disk, clock",
        description="Check the interfaces and addresses, mDNS, the port, the active "
        "bundle, free disk, the clock, the upstream (when sync is on) and the secure-"
        "context situation, and say what to do about each problem. Exit code 1 when a "
        "check fails (warnings do not count).")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.doctor import exit_code, format_findings, run_checks

    findings = run_checks(config)
    if args.json:
        print(json.dumps([{"check": f.check, "level": f.level, "message": f.message,
                           "advice": f.advice} for f in findings], indent=1))
    else:
        print(format_findings(findings, translations(config)))
    return exit_code(findings)
