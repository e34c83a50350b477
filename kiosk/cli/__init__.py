"""The ``kiosk`` command line: parse, load the configuration, make one call.

Each command group lives in its own module with a ``register(subparsers, common)``
function; ``common`` is the parent parser carrying ``--config`` and one flag per
setting (derived from :mod:`kiosk.config`). A command returns its exit code;
:class:`~kiosk.errors.KioskError` becomes a one-line message and exit code 2
(1 for a failed check), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kiosk import __version__
from kiosk.cli import (
    admin,
    backup,
    base,
    bundle,
    cache,
    doctor,
    hotspot,
    messages,
    qr,
    serve,
    shares,
    status,
    sync,
    usb,
)
from kiosk.errors import ConfigError, KioskError

COMMAND_MODULES = [serve, status, qr, shares, admin, cache, usb, hotspot, bundle, doctor,
                   sync, backup]


def build_parser() -> argparse.ArgumentParser:
    """The whole parser (also used by the docs test)."""
    parser = argparse.ArgumentParser(
        prog="kiosk",
        description="The classroom JupyterLite kiosk: Python in every student's browser, "
        "served from one box on the LAN, with no internet needed.",
    )
    parser.add_argument("--version", action="version", version=f"kiosk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = base.common_parser()
    for module in COMMAND_MODULES:
        module.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kiosk`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    config = None
    try:
        config = base.config_from_args(args)
        result: int = args.func(args, config)
        return result
    except ConfigError as exc:
        # In the teacher's language (the settings could not be read: the locale's).
        message = messages.translations(config).gettext(
            "kiosk: configuration error: %(message)s") % {"message": exc.message}
        print(message, file=sys.stderr)
        return 2
    except KioskError as exc:
        print(f"kiosk: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _described(action: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, str]:
    """Each sub-command's one-line help (falling back to its description)."""
    helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
    out = {}
    for name, parser in action.choices.items():
        text = helps.get(name) or (parser.description or "").split(". ")[0]
        out[name] = text.rstrip(".")
    return out


def cli_markdown() -> str:
    """``docs/cli.md``'s command reference, from the parser itself (a test checks the doc)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out = ["| command | what it does |", "|---|---|"]
    for name, text in _described(sub).items():
        command = sub.choices[name]
        nested = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            for verb, verb_text in _described(nested[0]).items():
                out.append(f"| `kiosk {name} {verb}` | {verb_text} |")
        else:
            out.append(f"| `kiosk {name}` | {text} |")
    return "\n".join(out) + "\n"
