"""JupyterLab's own menus speak the students' language (issue 23).

The built core bundle carries JupyterLab's official language packs; the kiosk sets
JupyterLab's locale in every ``jupyter-lite.json`` answer from the language it chose for the
request (student's pick, teacher's pin, browser). Real Chromium with a French (then German)
locale on a non-secure LAN name, no request leaving the kiosk.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.browserlib import run_scenario
from tests.conftest import KioskProcess
from tests.test_bundle_e2e import serve_bundle  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.bundle, pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize(("locale", "file_menu", "kernel_menu"), [
    ("fr-FR", "Fichier", "Noyau"),
    ("de-DE", "Datei", "Kernel"),
])
def test_jupyterlab_menus_follow_the_browser_language(
        serve_bundle: Callable[[str], tuple[KioskProcess, object]],  # noqa: F811
        locale: str, file_menu: str, kernel_menu: str) -> None:
    kp, _manifest = serve_bundle("core")
    result = run_scenario("lab_language", {"url": f"http://kiosk.test:{kp.port}",
                                           "locale": locale}, timeout=240)
    assert result["menus"][0] == file_menu, result["menus"]
    assert kernel_menu in result["menus"]
    assert "File" not in result["menus"]
    assert result["foreign"] == [], result["foreign"]
