"""Files, input(), getpass(), sleep and downloads (pandas, urllib, requests) in a real
notebook, on a non-secure origin and on secure ones."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from tests.browserlib import run_scenario
from tests.test_bundle_e2e import newest_bundle

pytestmark = [pytest.mark.browser, pytest.mark.bundle, pytest.mark.slow]

CSV = b"x,y\n1,10\n2,20\n3,30\n"
RAIN = b"day,rain_mm\nmon,3\ntue,0\nwed,12\n"
ANSWERS = ["Ada", "open sesame"]


def cells(profile: str, csv_url: str, dataset_url: str) -> list[str]:
    """What a student runs: pandas where the bundle has it, the standard library otherwise."""
    if profile == "science":
        read_local = ("import pandas as pd\ndf = pd.read_csv('mydata.csv')\n"
                      "print('sum', df['b'].sum())")
        read_remote = (f"remote = pd.read_csv({csv_url!r})\n"
                       "print('remote', remote.shape, remote['y'].sum())")
    else:
        read_local = ("import csv\nrows = list(csv.DictReader(open('mydata.csv')))\n"
                      "print('sum', sum(int(r['b']) for r in rows))")
        read_remote = ("import urllib.request\n"
                       f"text = urllib.request.urlopen({csv_url!r}).read().decode()\n"
                       "print('remote', text.count(chr(10)))")
    return [
        "import os\nprint(os.getcwd())\n" + read_local,
        "with open('out.csv', 'w') as fh:\n    fh.write('x,y\\n5,6\\n')\nprint('written')",
        "import time\nt0 = time.time()\ntime.sleep(1)\nprint('slept', round(time.time() - t0, 2))",
        "name = input('name? ')\nprint('hello', name)",
        "import getpass\nsecret = getpass.getpass('password? ')\n"
        "print('secret', repr(secret), len(secret))",
        read_remote,
        # requests is loaded when a cell imports it; the kernel set-up routes it through the kiosk.
        "import requests\n"
        f"r = requests.get({dataset_url!r}, timeout=60)\n"
        "print('requests', r.status_code, r.headers['Content-Type'], "
        "len(r.text.splitlines()), r.text.splitlines()[-1], len(r.content))\n"
        "try:\n"
        "    requests.get('http://datasets.test:9/gone.csv')\n"
        "except requests.ConnectionError as exc:\n"
        "    print('unreachable', 'not saved on the kiosk' in str(exc))",
    ]


def resolving_datasets_test(tmp_path: Path) -> list[str]:
    """A wrapper for the kiosk process in which the name datasets.test means 127.0.0.1.

    Its own mount namespace with a hosts file bound over /etc/hosts: the kiosk resolves
    the name, the browser (which maps every name but the kiosk's to "not found") cannot.
    """
    hosts = tmp_path / "hosts"
    hosts.write_text(Path("/etc/hosts").read_text() + "\n127.0.0.1 datasets.test\n")
    user = [] if os.geteuid() == 0 else ["--map-root-user"]
    return ["unshare", "--mount", "--propagation", "private", *user, "sh", "-c",
            'mount --bind "$0" /etc/hosts && exec "$@"', str(hosts)]


@pytest.mark.parametrize(("profile", "mode"), [
    ("science", "plain-http"), ("core", "plain-http"),
    ("science", "localhost"), ("science", "https"),
])
def test_files_input_sleep_and_downloads(kiosk_process, csv_server, tmp_path, profile, mode):
    """plain-http: the kiosk's relay does the service worker's job; localhost and https are
    secure contexts where JupyterLite's own service worker does it. Same notebook, same
    results."""
    from kiosk.bundle.active import set_current
    from tests.test_tls import make_certificate

    bundle = newest_bundle(profile)
    private = tmp_path / "bundles"
    private.mkdir()
    (private / bundle.name).symlink_to(bundle.path)
    set_current(private, bundle.name)
    tls: list[str] = []
    if mode == "https":
        cert, key = make_certificate(tmp_path)
        tls = ["--tls-cert", str(cert), "--tls-key", str(key)]
    kiosk = kiosk_process("--bundles-dir", str(private), "--fetch-allow-private",
                           "--host-aliases", "kiosk.test", *tls,
                          prefix=resolving_datasets_test(tmp_path))
    url = {"plain-http": f"http://kiosk.test:{kiosk.port}",
           "localhost": f"http://localhost:{kiosk.port}",
           "https": f"https://kiosk.test:{kiosk.port}"}[mode]
    # Plays the internet: reachable by the kiosk, never by the browser (no DNS for it).
    csv_url = f"http://127.0.0.1:{csv_server(CSV)}/x.csv"
    dataset_url = f"http://datasets.test:{csv_server(RAIN)}/rain.csv"
    result = run_scenario("relay_notebook", {
        "url": url, "cells": cells(profile, csv_url, dataset_url), "answers": ANSWERS,
        "trustTestCertificate": mode == "https"}, timeout=400)
    assert result["secure"] is (mode != "plain-http")
    assert result["relay"] is (mode == "plain-http"), "the fake registration is for plain HTTP"
    # On localhost JupyterLite's own service worker registers. Chromium refuses a service
    # worker script over a certificate it does not trust (the test's own), so on https the
    # bridge falls back to the kiosk's relay: files and input() still work.
    assert result["fallback"] is (mode == "https")
    out = result["outputs"]
    assert out[0].startswith("/drive"), out
    assert "sum 6" in out[0]
    assert "written" in out[1]
    slept = float(out[2].split()[-1])
    assert slept >= 1.0, out[2]
    assert "hello Ada" in out[3], out
    assert result["stdinTypes"] == ["text", "password"], "getpass() asks without echo"
    assert "secret 'open sesame' 11" in out[4], out
    expected = "remote (3, 2) 60" if profile == "science" else "remote 4"
    assert expected in out[5], out
    assert f"requests 200 text/csv 4 wed,12 {len(RAIN)}" in out[6], out
    assert "unreachable True" in out[6], out
    written = result["written"]
    text = (base64.b64decode(written["content"]).decode() if written["format"] == "base64"
            else written["content"])
    assert text == "x,y\n5,6\n"
    assert "out.csv" in result["listed"]
    # Nothing went anywhere but the kiosk: the dataset server was reached by the kiosk only.
    assert result["foreign"] == [], result["foreign"]


def _core_kiosk(kiosk_process, tmp_path):
    """A kiosk (Host kiosk.test) serving the newest core bundle from a private bundles dir."""
    from kiosk.bundle.active import set_current

    bundle = newest_bundle("core")
    private = tmp_path / "bundles"
    private.mkdir()
    (private / bundle.name).symlink_to(bundle.path)
    set_current(private, bundle.name)
    return kiosk_process("--bundles-dir", str(private), "--host-aliases", "kiosk.test")


def test_kernel_set_up_survives_a_failing_start_up_cell_queued_before_it(kiosk_process,
                                                                          tmp_path):
    """JupyterLite (0.6 and later) drops, with no reply, every request queued behind one
    that fails. A site's start-up cell that fails offline (Jupyter Everywhere's did) took
    the kiosk's silent set-up with it: time.sleep spun a core, downloads bypassed the
    kiosk. The extension's kernel set-up is sent again after such a failure."""
    kiosk = _core_kiosk(kiosk_process, tmp_path)
    result = run_scenario("relay_setup_dropped", {"url": f"http://kiosk.test:{kiosk.port}"},
                          timeout=400)
    assert result["siteStartup"] == "error", "the site's start-up cell ran first and failed"
    assert result["sleep"] == "__kiosk_setup.<locals>.sleep", result
    assert result["foreign"] == [], result["foreign"]


def test_a_sites_copy_button_copies_on_plain_http(kiosk_process, tmp_path):
    """Jupyter Everywhere's "Copy Link!" calls navigator.clipboard.writeText, which plain
    HTTP does not have ("Failed to copy link: TypeError"); the bridge's fallback copies."""
    kiosk = _core_kiosk(kiosk_process, tmp_path)
    result = run_scenario("clipboard_plain_http", {"url": f"http://kiosk.test:{kiosk.port}"},
                          timeout=180)
    assert result["secure"] is False
    assert result["copyResult"] == "copied", result
    assert result["pasted"] == "http://kiosk.test/lab/index.html?notebook=happy-blue-otter-1"
    assert result["readText"] == "NotAllowedError", "reading stays refused without HTTPS"
    assert result["foreign"] == []
