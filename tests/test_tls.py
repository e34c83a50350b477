"""HTTPS with a school's own certificate: the full-browser-feature mode."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import urllib.request

from tests.fakebundle import make_bundle


def make_certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=kiosk.test",
                    "-addext", "subjectAltName=DNS:kiosk.test,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_https_serves_and_points_the_api_at_https(kiosk_process, tmp_path):
    cert, key = make_certificate(tmp_path)
    make_bundle(tmp_path / "bundles")
    kiosk = kiosk_process("--bundles-dir", str(tmp_path / "bundles"),
                          "--host-aliases", "kiosk.test", "--tls-cert", str(cert),
                          "--tls-key", str(key))
    assert kiosk.scheme == "https"
    context = ssl.create_default_context(cafile=str(cert))
    with urllib.request.urlopen(f"https://127.0.0.1:{kiosk.port}/jupyter-lite.json",
                                context=context, timeout=10) as resp:
        data = json.loads(resp.read())
    api = data["jupyter-config-data"]["sharing_service_api_url"]
    assert api == f"https://127.0.0.1:{kiosk.port}/api/v1"


def test_bad_certificate_stops_the_start(tmp_path):
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate")
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk", "serve", "--port", "0", "--host", "127.0.0.1",
         "--data-dir", str(tmp_path / "d"), "--no-mdns-enabled",
         "--tls-cert", str(bogus), "--tls-key", str(bogus)],
        capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "cannot load tls_cert/tls_key" in proc.stderr
