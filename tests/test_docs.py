"""The docs say what the code does: settings and commands."""

from __future__ import annotations

from pathlib import Path

from kiosk.cli import build_parser
from kiosk.config import settings_markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_configuration_doc_lists_every_setting_exactly():
    text = (DOCS / "configuration.md").read_text()
    assert settings_markdown() in text, (
        "docs/configuration.md is out of date: regenerate its table from "
        "kiosk.config.settings_markdown()")


def test_readme_opens_with_the_two_commands():
    readme = (DOCS.parent / "README.md").read_text()
    head = readme[:600]
    assert "make run" in head and "make test" in head


def test_every_command_is_documented():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    documented = (DOCS.parent / "README.md").read_text() + "".join(
        p.read_text() for p in DOCS.glob("*.md"))
    missing = [name for name in sub.choices if f"kiosk {name}" not in documented]
    assert not missing, f"commands with no mention in README.md or docs/: {missing}"
