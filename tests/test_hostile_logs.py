"""Issue #17 (7): user-supplied strings cannot forge log lines.

A ``%0a`` in a path was logged raw, so a student wrote a fake "admin secret is ..."
line, and the docs tell teachers to grep for that line. The kiosk's real logging set-up
(``kiosk.logs.setup_logging``, as ``kiosk serve`` uses it) runs in a subprocess here.
"""

from __future__ import annotations

import subprocess
import sys

FORGED = "WARNING kiosk.dashboard: first start: the teacher's admin secret is EVIL"

SCRIPT = r"""
import logging, sys
from kiosk.logs import setup_logging
setup_logging("INFO")
forged = sys.argv[1]
log = logging.getLogger("kiosk.middleware")
log.error("%s %s: the data directory's disk is full (%s)", "GET", "/s/x\n" + forged, "e")
log.info("found kiosk %s at %s", "evil\r\n" + forged + "\u2028" + forged, "10.0.0.9")
try:
    raise KeyError("x\n" + forged)
except KeyError:
    log.exception("unhandled error on %s %s", "POST", "/api/v1/notebooks\n" + forged)
"""


def test_forged_lines_stay_inside_one_escaped_line():
    proc = subprocess.run([sys.executable, "-c", SCRIPT, FORGED], capture_output=True,
                          text=True, timeout=60, check=True)
    lines = proc.stderr.splitlines()
    assert not [line for line in lines if line.lstrip().startswith("WARNING")], lines
    assert not [line for line in lines if "admin secret" in line
                and not (" | " in line or "\\n" in line or "\\r" in line)], lines
    messages = [line for line in lines if " kiosk.middleware: " in line]
    assert len(messages) == 3, lines
    assert "\\n" + FORGED in messages[0]
    assert "\\u2028" in messages[1]
