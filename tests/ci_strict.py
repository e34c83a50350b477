"""Under ``CI=true`` a test that cannot run fails instead of skipping (pytest plugin).

A skip hides a test that did not run: no root, a missing tool, no network namespace.
On a developer's laptop that is a fair answer; in CI it would let the suite pass
without the tests that matter. So with ``CI`` set to true, every skip becomes a
failure that says why, except skips whose reason starts with an entry of
:data:`ALLOWED_SKIPS`: cases where the test is legitimately not applicable, each with
the reason it is. ``tests/conftest.py`` imports the hook; ``xfail`` is untouched.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

# Skip reason (its start) -> why such a skip is not a hole in CI.
ALLOWED_SKIPS: dict[str, str] = {
    "not shipped: ": "a platform/Python pair the USB stick deliberately does not ship "
                     "(KNOWN_GAPS in tests/test_usb_stick.py); its absence is asserted there",
    "the test stick carries a Python for Linux x86-64 only":
        "only runnable on an x86-64 machine; other CPUs have no Python on the test stick",
    "no runtime platform for ": "the kiosk ships runtimes for x86-64 and aarch64 only",
}


def ci_strict() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def skip_reason(report: pytest.TestReport) -> str:
    longrepr: Any = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail") or not ci_strict():
        return
    reason = skip_reason(report)
    if any(reason.startswith(allowed) for allowed in ALLOWED_SKIPS):
        return
    report.outcome = "failed"
    report.longrepr = (
        f"skipped under CI=true, which counts as a failure: {reason}\n"
        "Give the CI what the test needs (root, the Debian package in "
        "scripts/system-deps.sh), or, if the test is legitimately not applicable there, "
        "add its reason to ALLOWED_SKIPS in tests/ci_strict.py.")
