"""QR codes decoded from images, as a phone would: /join (rendered by Chromium), the
A4 poster and the terminal code; each decoded URL must open the landing page."""

from __future__ import annotations

import subprocess
import sys
import urllib.request

import pytest

from kiosk.qr import qr_ansi, qr_text, wifi_payload
from tests.browserlib import run_scenario
from tests.conftest import REPO
from tests.qr_decode import terminal_qr_to_png, zbar_decode


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read().decode("utf-8", "replace")


def _assert_landing(url: str) -> None:
    status, body = _get(url)
    assert status == 200, url
    assert "Python in your browser" in body  # the landing page's title


@pytest.mark.browser
def test_join_page_qr_decodes_to_a_working_ip_url(kiosk_process, tmp_path):
    kp = kiosk_process("--wifi-ssid", 'Class;room "3"', "--wifi-password", "p@ss:w0rd,\\x")
    png = tmp_path / "join.png"
    result = run_scenario("join_qr", {"url": kp.url() + "/join", "out": str(png),
                                      "waitFor": ".main-qr svg"})
    assert result["status"] == 200
    # The poller runs inline, allowed by its hash only: no script file, no path.
    assert "script-src 'sha256-" in (result["csp"] or "")
    assert result["scripts"] == [""]
    # Only the favicon may be missing (no bundle is installed in this test).
    assert [r for r in result["badResponses"] if "favicon" not in r] == []
    assert not [c for c in result["console"] if "pageerror" in c], result["console"]
    decoded = zbar_decode(png)
    urls = [d for d in decoded if d.startswith("http")]
    assert urls == [kp.url() + "/"], decoded
    # Viewed on the kiosk itself and listening on loopback only: the loopback literal is
    # the one address that works; with a LAN interface it would be that address instead.
    assert ".local" not in urls[0]
    assert wifi_payload('Class;room "3"', "p@ss:w0rd,\\x") in decoded
    assert 'WIFI:T:WPA;S:Class\\;room \\"3\\";P:p@ss\\:w0rd\\,\\\\x;;' in decoded
    _assert_landing(urls[0])


@pytest.mark.browser
def test_poster_qr_codes_decode(kiosk_process, tmp_path):
    kp = kiosk_process("--wifi-ssid", "Lab-WiFi", "--wifi-password", "secret123")
    png = tmp_path / "poster.png"
    result = run_scenario("join_qr", {"url": kp.url() + "/join/poster.svg", "out": str(png),
                                      "width": 794, "height": 1123, "fullPage": False})
    assert result["status"] == 200
    assert result["contentType"].startswith("image/svg+xml")
    decoded = zbar_decode(png)
    assert kp.url() + "/" in decoded, decoded
    assert "WIFI:T:WPA;S:Lab-WiFi;P:secret123;;" in decoded
    _assert_landing(kp.url() + "/")


@pytest.mark.browser
def test_poster_without_wifi_decodes(kiosk_process, tmp_path):
    kp = kiosk_process()
    png = tmp_path / "poster.png"
    run_scenario("join_qr", {"url": kp.url() + "/join/poster.svg", "out": str(png),
                             "width": 794, "height": 1123, "fullPage": False})
    assert zbar_decode(png) == [kp.url() + "/"]


def test_kiosk_qr_command_decodes(kiosk_process, tmp_path):
    kp = kiosk_process()
    url = kp.url() + "/"
    out = subprocess.run([sys.executable, "-m", "kiosk", "qr", url], capture_output=True,
                         text=True, check=True, cwd=REPO, timeout=30)
    assert out.stdout.rstrip().endswith(url)
    png = tmp_path / "terminal.png"
    terminal_qr_to_png(out.stdout.rsplit("\n", 2)[0], png)
    assert zbar_decode(png) == [url]
    _assert_landing(url)


@pytest.mark.parametrize("draw", [qr_text, qr_ansi])
def test_terminal_drawings_decode(draw, tmp_path):
    url = "http://198.51.100.7:8000/"
    png = tmp_path / "t.png"
    terminal_qr_to_png(draw(url), png)
    assert zbar_decode(png) == [url]


def test_kiosk_qr_wifi_and_svg(tmp_path):
    env_args = ["--wifi-ssid", "Room 4", "--wifi-password", "a;b"]
    out = subprocess.run([sys.executable, "-m", "kiosk", "qr", "--wifi", *env_args],
                         capture_output=True, text=True, check=True, cwd=REPO, timeout=30)
    png = tmp_path / "wifi.png"
    terminal_qr_to_png(out.stdout, png)
    assert zbar_decode(png) == ["WIFI:T:WPA;S:Room 4;P:a\\;b;;"]
    svg = subprocess.run([sys.executable, "-m", "kiosk", "qr", "--svg", "http://x/"],
                         capture_output=True, text=True, check=True, cwd=REPO, timeout=30)
    assert svg.stdout.startswith("<svg")


def test_kiosk_qr_needs_a_port_or_url():
    out = subprocess.run([sys.executable, "-m", "kiosk", "qr", "--port", "0"],
                         capture_output=True, text=True, cwd=REPO, timeout=30, check=False)
    assert out.returncode == 2
    assert "give the URL" in out.stderr

