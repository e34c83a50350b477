"""Regenerate the generated parts of docs/: the settings table and the command reference.

    .venv/bin/python scripts/gen-docs.py

tests/test_docs.py fails when either is out of date.
"""

from __future__ import annotations

from pathlib import Path

from kiosk.cli import cli_markdown
from kiosk.config import settings_markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"
MARK = "<!-- generated below by scripts/gen-docs.py; tests/test_docs.py checks it -->\n"

CLI_INTRO = """# Command line

Every command takes the settings flags of `kiosk serve` (see `configuration.md`) and
`--config FILE`; `kiosk <command> --help` shows them all. Exit codes: 0 success, 1 a check
found problems, 2 bad input or configuration.

The messages a command prints for the teacher (results, errors, `kiosk status`, `kiosk doctor`'s
findings, the start banner) are in the class's language: the `language` setting or the one
pinned on the dashboard, else the terminal's locale (`LANGUAGE`, `LC_ALL`, `LC_MESSAGES`,
`LANG`, as gettext reads them), else English. `--json` output, QR codes, shell commands and
`--help` texts stay in English (the help texts make this page).

"""


def replace_generated(path: Path, intro: str, body: str) -> None:
    text = path.read_text() if path.exists() else intro + MARK
    if MARK not in text:
        text = text.rstrip("\n") + "\n\n" + MARK
    path.write_text(text[: text.index(MARK) + len(MARK)] + body)


def main() -> None:
    replace_generated(DOCS / "configuration.md", "", settings_markdown())
    replace_generated(DOCS / "cli.md", CLI_INTRO, cli_markdown())


if __name__ == "__main__":
    main()
