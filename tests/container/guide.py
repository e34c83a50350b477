"""The Raspberry Pi guide's command blocks, read from docs/operations.md.

The guide is the script: ``tests/test_boot_pi.py`` runs these lines, so the commands a
teacher types and the commands the boot test runs cannot drift apart. A block is the
first fenced ``sh`` block after an HTML comment ``<!-- pi-guide:NAME -->``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
GUIDE = REPO / "docs" / "operations.md"


def guide_block(name: str, guide: Path = GUIDE) -> list[str]:
    """The command lines of the block marked ``<!-- pi-guide:NAME -->`` (no blanks)."""
    text = guide.read_text(encoding="utf-8")
    match = re.search(rf"<!-- pi-guide:{re.escape(name)} -->\s*```sh\n(.*?)```", text, re.S)
    if match is None:
        raise LookupError(f"{guide}: no <!-- pi-guide:{name} --> block with an sh fence")
    lines = [line.strip() for line in match.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def apt_packages(lines: list[str]) -> list[str]:
    """The packages the guide's ``apt-get install`` line names, in order."""
    for line in lines:
        for command in line.split("&&"):
            words = shlex.split(command)
            if "apt-get" in words and "install" in words:
                rest = words[words.index("install") + 1:]
                return [w for w in rest if not w.startswith("-")]
    raise LookupError("the guide has no 'apt-get install' line")
