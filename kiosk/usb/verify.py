"""``kiosk usb verify``: is the stick what ``kiosk usb make`` wrote?

Every file listed in ``kiosk-usb.json`` is hashed again: a stick copied badly (a
truncated wheel, a file the copy skipped, a stray file) is caught before class. The
share store, environments, installers and what operating systems add (``._*``,
``.DS_Store``, ``System Volume Information``) are ignored.
"""

from __future__ import annotations

from pathlib import Path

from kiosk.bundle.manifest import Problem, sha256_file
from kiosk.usb.layout import is_unlisted, plain_files, read_stick_manifest


def verify_stick(dest: Path) -> list[Problem]:
    """Compare a stick with its manifest, byte for byte (blocking). Empty: all good."""
    manifest = read_stick_manifest(dest)
    listed: dict[str, dict[str, object]] = manifest["files"]
    problems: list[Problem] = []
    on_disk: dict[str, Path] = {}
    for rel, file in plain_files(dest):
        if not is_unlisted(rel):
            on_disk[rel] = file
    for rel in sorted(set(on_disk) - set(listed)):
        problems.append(Problem(rel, "present but not in the manifest"))
    for rel, rec in sorted(listed.items()):
        path = on_disk.get(rel)
        if path is None:
            problems.append(Problem(rel, "missing"))
        elif path.stat().st_size != rec["size"]:
            problems.append(Problem(rel, f"size {path.stat().st_size}, expected {rec['size']}"))
        elif sha256_file(path) != rec["sha256"]:
            problems.append(Problem(rel, "content differs from the manifest (sha256)"))
    return problems
