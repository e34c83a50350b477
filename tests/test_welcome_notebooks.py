"""The bundles' Welcome notebooks are written for a phone as much as for a laptop (issue 18).

A phone has no right-click and no mouse hover; sharing is always on at a kiosk, so the
lesson must not send students looking for a switch their teacher never has to turn.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BUNDLES = Path(__file__).resolve().parent.parent / "bundles"
WELCOMES = sorted(BUNDLES.glob("*/content/Welcome.ipynb"))


def _text(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4 and isinstance(nb["cells"], list)
    return "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                     for c in nb["cells"])


def test_every_profile_has_a_welcome_notebook() -> None:
    assert {p.parent.parent.name for p in WELCOMES} >= {"core", "science"}


@pytest.mark.parametrize("path", WELCOMES, ids=lambda p: p.parent.parent.name)
def test_welcome_works_on_a_phone(path: Path) -> None:
    text = _text(path).lower()
    for phrase in ("right-click", "right click", "drag", "turned sharing on",
                   "turns sharing on", "when your teacher has"):
        assert phrase not in text, f"{path}: '{phrase}' does not work on a phone"
    # Where the phone's controls are: the ▶ button, Menu → Files, Share, Open a code.
    for phrase in ("▶", "menu → files", "share", "open a code"):
        assert phrase in text, f"{path}: says nothing about '{phrase}'"
