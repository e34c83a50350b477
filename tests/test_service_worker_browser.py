"""The kiosk's service worker keeps apart the answers for the kernels of one tab.

On a secure origin (localhost, HTTPS) JupyterLite registers /service-worker.js, which
answers the kernel's file calls and input() by asking the page. The bundle's own worker
(JupyterLite 0.6.x) hands a browsing context's next answer to every waiting request of
that context; a tab with two kernels (the lesson's and a new notebook's) then got swapped
answers and Pyodide died (Firefox on localhost, tests/test_browser_matrix.py). The kiosk
serves its own worker instead (kiosk/relay/service-worker.js).

tests/browser/service_worker_answers.mjs, in Debian's Chromium on a real kiosk: the page
plays the kernels and the answerer on the worker's channel. A slow file call (answered
only after an input() was), a fast one and the input() of one context each get their own
answer, and the fast call reaches the page only after the slow one was answered. With the
bundle's worker the slow call got another call's answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browserlib import run_scenario
from tests.test_extension_e2e import _latest_bundle, _single_bundle_dir

pytestmark = [pytest.mark.browser, pytest.mark.bundle]


def test_one_tabs_calls_get_their_own_answers(kiosk_process: Any, tmp_path: Path) -> None:
    bundle = _latest_bundle("core")
    kp = kiosk_process("--bundles-dir", str(_single_bundle_dir(tmp_path, bundle)))
    r = run_scenario("service_worker_answers", {"origin": f"http://127.0.0.1:{kp.port}"},
                     timeout=240)
    # The page is controlled: its calls below went through the worker, not the relay.
    assert r["controller"].startswith(f"http://127.0.0.1:{kp.port}/service-worker.js")
    assert r["slow"] == {"status": 200, "body": {"answerFor": "slow"}}
    assert r["fast"] == {"status": 200, "body": {"answerFor": "fast"}}
    assert r["stdin"]["status"] == 200
    assert r["stdin"]["body"]["content"]["value"] == "Ada"
    assert r["posted"] == ["drive slow", "stdin request-1", "answered slow", "drive fast",
                           "answered fast"]
    assert r["notJson"] == {"status": 400, "body": "the body is not JSON"}
    assert r["heartbeat"] == "ok"
