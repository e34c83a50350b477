"""The docs say what the code does: settings and commands."""

from __future__ import annotations

from pathlib import Path

from kiosk.cli import build_parser, cli_markdown
from kiosk.config import settings_markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_configuration_doc_lists_every_setting_exactly():
    text = (DOCS / "configuration.md").read_text()
    assert settings_markdown() in text, (
        "docs/configuration.md is out of date: regenerate it with scripts/gen-docs.py")


def test_readme_opens_with_the_two_commands():
    readme = (DOCS.parent / "README.md").read_text()
    head = readme[:600]
    assert "make run" in head and "make test" in head


def test_cli_reference_lists_every_command_exactly():
    text = (DOCS / "cli.md").read_text()
    assert cli_markdown() in text, (
        "docs/cli.md is out of date: regenerate its table with scripts/gen-docs.py")


def test_every_command_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert all(choice.help for choice in sub._choices_actions)
