"""Static serving of the bundle over real sockets: encodings, caching, ranges, types, paths."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import re
from pathlib import Path

import brotli
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from kiosk.app import create_app
from kiosk.csp import script_hash
from kiosk.serving.pages import POLYFILL_TAG
from tests.fakebundle import make_bundle

JS = "/build/main.0123456789abcdef0123.js"
WASM = "/static/pyodide/pyodide.asm.wasm"


@pytest.fixture
def bundle_root(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret outside the bundle")
    return make_bundle(tmp_path / "bundles", outside=secret)


@pytest.fixture
async def client(aiohttp_client, make_config, bundle_root: Path) -> TestClient:
    config = make_config(bundles_dir=bundle_root.parent)
    return await aiohttp_client(create_app(config), auto_decompress=False)


async def get(client: TestClient, path: str, **headers: str):
    resp = await client.get(path, headers=headers, allow_redirects=False)
    body = await resp.read()
    return resp, body


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        ("br, gzip", "br"),
        ("gzip, deflate, br;q=0.5", "gzip"),
        ("gzip", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("br;q=0, gzip;q=0", None),
        ("identity", None),
        ("", None),
        ("*", "br"),
        ("*;q=0, identity", None),
        ("deflate", None),
        ("BR", "br"),
    ],
)
async def test_encoding_negotiation(client, bundle_root, accept, encoding):
    resp, body = await get(client, JS, **{"Accept-Encoding": accept})
    assert resp.status == 200
    assert resp.headers.get("Content-Encoding") == encoding
    assert resp.headers["Vary"] == "Accept-Encoding"
    original = (bundle_root / JS[1:]).read_bytes()
    decoded = {"br": brotli.decompress, "gzip": gzip.decompress, None: lambda b: b}[encoding](body)
    assert decoded == original
    assert int(resp.headers["Content-Length"]) == len(body)


async def test_missing_accept_encoding_gets_identity(client, bundle_root):
    resp = await client.get(JS, skip_auto_headers=["Accept-Encoding"])
    body = await resp.read()
    assert "Accept-Encoding" not in resp.request_info.headers
    assert resp.headers.get("Content-Encoding") is None
    assert body == (bundle_root / JS[1:]).read_bytes()


async def test_refusing_every_encoding_is_406(client):
    resp, _ = await get(client, JS, **{"Accept-Encoding": "identity;q=0, *;q=0"})
    assert resp.status == 406


async def test_hashed_asset_is_immutable_and_html_is_no_cache(client):
    resp, _ = await get(client, JS)
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    resp, _ = await get(client, "/lab/index.html")
    assert resp.headers["Cache-Control"] == "no-cache"
    resp, _ = await get(client, WASM)
    assert resp.headers["Cache-Control"] == "no-cache"
    resp, _ = await get(client, "/jupyter-lite.json")
    assert resp.headers["Cache-Control"] == "no-cache"


async def test_strong_etag_and_304(client, bundle_root):
    resp, _ = await get(client, WASM, **{"Accept-Encoding": "identity"})
    etag = resp.headers["ETag"]
    sha = hashlib.sha256((bundle_root / WASM[1:]).read_bytes()).hexdigest()
    assert etag == f'"{sha[:32]}"'
    assert not etag.startswith("W/")
    resp, body = await get(client, WASM, **{"If-None-Match": etag,
                                            "Accept-Encoding": "identity"})
    assert resp.status == 304 and body == b""
    assert resp.headers["ETag"] == etag
    # The br form has its own ETag; the identity ETag does not validate it.
    resp_br, _ = await get(client, WASM, **{"Accept-Encoding": "br"})
    assert resp_br.headers["ETag"] != etag
    resp, _ = await get(client, WASM, **{"If-None-Match": etag, "Accept-Encoding": "br"})
    assert resp.status == 200
    resp, _ = await get(client, WASM, **{"If-None-Match": f'"x", W/{resp_br.headers["ETag"]}',
                                         "Accept-Encoding": "br"})
    assert resp.status == 304
    resp, _ = await get(client, WASM, **{"If-Modified-Since": resp_br.headers["Last-Modified"]})
    assert resp.status == 304
    resp, _ = await get(client, WASM, **{"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert resp.status == 200


async def test_ranges_on_identity(client, bundle_root):
    data = (bundle_root / WASM[1:]).read_bytes()
    resp, body = await get(client, WASM, Range="bytes=10-19", **{"Accept-Encoding": "br"})
    assert resp.status == 206
    assert resp.headers.get("Content-Encoding") is None
    assert resp.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert body == data[10:20]
    resp, body = await get(client, WASM, Range="bytes=-5")
    assert resp.status == 206 and body == data[-5:]
    resp, body = await get(client, WASM, Range=f"bytes={len(data) - 3}-")
    assert resp.status == 206 and body == data[-3:]
    resp, body = await get(client, WASM, Range=f"bytes={len(data)}-")
    assert resp.status == 416
    assert resp.headers["Content-Range"] == f"bytes */{len(data)}"
    resp, body = await get(client, WASM, Range="bytes=0-1,5-6")
    assert resp.status == 200 and body == data
    resp, body = await get(client, WASM, Range="bytes=0-3", **{"If-Range": '"stale"'})
    assert resp.status == 200 and len(body) == len(data)


async def test_head_sends_headers_only(client, bundle_root):
    resp = await client.head(WASM, headers={"Accept-Encoding": "identity"})
    assert resp.status == 200
    assert int(resp.headers["Content-Length"]) == (bundle_root / WASM[1:]).stat().st_size
    assert await resp.read() == b""


@pytest.mark.parametrize(
    ("path", "ctype"),
    [
        (WASM, "application/wasm"),
        ("/static/pyodide/pyodide.mjs", "text/javascript; charset=utf-8"),
        (JS, "text/javascript; charset=utf-8"),
        ("/static/pyodide/numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl", "application/zip"),
        ("/static/pyodide/python_stdlib.zip", "application/zip"),
        ("/jupyter-lite.json", "application/json"),
        ("/files/welcome.ipynb", "application/x-ipynb+json"),
        ("/build/fonts/font.woff2", "font/woff2"),
        ("/build/icon.svg", "image/svg+xml"),
        ("/build/style.css", "text/css; charset=utf-8"),
        ("/lab/index.html", "text/html; charset=utf-8"),
        ("/files/data.csv", "text/csv; charset=utf-8"),
    ],
)
async def test_mime_types(client, path, ctype):
    resp, _ = await get(client, path)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == ctype


async def test_security_headers_everywhere(client):
    for path in ["/", JS, "/lab/index.html", "/nope"]:
        resp, _ = await get(client, path)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
    resp, _ = await get(client, "/lab/index.html")
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
    # No other origin anywhere; scripts only from the bundle's script folders and the
    # bridge, never from all of 'self' (which would include /api/fetch).
    own = f"http://{resp.url.raw_authority}"
    assert set(re.findall(r"https?://[^/\s;]+", csp)) == {own}
    scripts = csp.split("script-src", 1)[1].split(";")[0].split()
    assert "'self'" not in scripts and f"{own}/_kiosk/bridge.js" in scripts
    assert not [s for s in scripts if "/api/" in s]


async def test_directory_index_and_no_listing(client):
    resp, body = await get(client, "/lab/", **{"Accept-Encoding": "identity"})
    assert resp.status == 200 and b"JupyterLite" in body
    resp, _ = await get(client, "/lab?x=1")
    assert resp.status == 301 and resp.headers["Location"] == "/lab/?x=1"
    for path in ["/build/", "/static/pyodide/", "/files/"]:
        resp, _ = await get(client, path)
        assert resp.status == 404, path


async def raw_request(client: TestClient, target: bytes) -> tuple[int, bytes]:
    """Send a request line exactly as given (no client-side normalisation)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(b"GET " + target + b" HTTP/1.1\r\nHost: kiosk.test\r\nConnection: close\r\n\r\n")
    await writer.drain()
    data = await reader.read()
    writer.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data


@pytest.mark.parametrize(
    "target",
    [
        b"/../secret.txt", b"/files/../../secret.txt", b"/%2e%2e/secret.txt",
        b"/%2E%2E/%2E%2E/secret.txt", b"/files/%2e%2e%2f%2e%2e%2fsecret.txt",
        b"/files/..%2f..%2fsecret.txt", b"/files/..%5c..%5csecret.txt",
        b"/files\\..\\..\\secret.txt", b"/files/%00/../x", b"/files/data.csv%00.html",
        b"/%252e%252e/secret.txt", b"/files/%252e%252e%252fsecret.txt",
        b"/files/escape.txt", b"//etc/passwd", b"/./files/data.csv", b"/files//data.csv",
        b"/kiosk-bundle.json/../../secret.txt", b"/~root", b"/files/data.csv/",
        b"/..%c0%af../secret.txt", b"/%c0%ae%c0%ae/secret.txt",
    ],
)
async def test_path_traversal_is_404(client, target):
    status, data = await raw_request(client, target)
    assert status in {400, 404}, (target, data[:200])
    assert b"top secret" not in data


async def test_traversal_catalogue_reads_nothing_outside(client, bundle_root, monkeypatch):
    """No traversal spelling makes the server open a file outside the bundle."""
    opened: list[Path] = []
    real_open = Path.open

    def spy(self: Path, *args, **kwargs):
        opened.append(self.resolve())
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", spy)
    for target in [b"/../secret.txt", b"/%2e%2e/secret.txt", b"/files/escape.txt",
                   b"/files/%2e%2e%2f%2e%2e%2fsecret.txt"]:
        await raw_request(client, target)
    resp, _ = await get(client, WASM)  # a legitimate read is seen by the spy
    assert resp.status == 200
    assert opened, "the spy saw no open at all"
    assert all(p.is_relative_to(bundle_root.resolve()) for p in opened)


async def test_lite_config_rewritten_per_host(client):
    for host, expected in [
        ("10.42.0.1", "http://10.42.0.1/api/v1"),
        ("classroom.local:8000", "http://classroom.local:8000/api/v1"),
        ("localhost:8123", "http://localhost:8123/api/v1"),
        ("[fd00::1]:8000", "http://[fd00::1]:8000/api/v1"),
    ]:
        for path in ["/jupyter-lite.json", "/lab/jupyter-lite.json"]:
            resp, body = await get(client, path, Host=host)
            assert resp.status == 200, (host, body)
            data = json.loads(body)
            assert data["jupyter-config-data"]["sharing_service_api_url"] == expected
            assert resp.headers["Cache-Control"] == "no-cache"
    resp, body = await get(client, "/jupyter-lite.json", Host="10.42.0.1")
    data = json.loads(body)
    # Nothing else changes but JupyterLab's language (English for a browser that asks
    # for none).
    assert data["jupyter-config-data"]["appVersion"] == "0.6.4"
    assert data["jupyter-lite-schema-version"] == 0
    assert data["jupyter-config-data"]["settingsOverrides"][
        "@jupyterlab/translation-extension:plugin"] == {"locale": "en"}


async def test_lite_config_sets_jupyterlab_language_per_request(client):
    """JupyterLab's menus follow the kiosk's language choice: the student's pick (cookie)
    before the browser's languages; each answer varies with them."""
    def locale(body: bytes) -> str:
        data = json.loads(body)["jupyter-config-data"]
        return str(data["settingsOverrides"]["@jupyterlab/translation-extension:plugin"]
                   ["locale"])

    for headers, expected in [
        ({"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}, "fr_FR"),
        ({"Accept-Language": "pt-BR"}, "pt_BR"),
        ({"Accept-Language": "ar"}, "ar_SA"),
        ({"Accept-Language": "fr", "Cookie": "kiosk_lang=de"}, "de_DE"),
        ({"Accept-Language": "zz"}, "en"),
    ]:
        resp, body = await get(client, "/lab/jupyter-lite.json", Host="10.42.0.1", **headers)
        assert resp.status == 200
        assert locale(body) == expected, headers
        assert "Accept-Language" in resp.headers["Vary"] and "Cookie" in resp.headers["Vary"]


@pytest.mark.parametrize("host", [
    "evil.com/path", "a b", "javascript:alert(1)", "x:99999", "[zz::1]", "host%0d%0aX-Evil:1",
    "host\tx", "user@host", "",
])
async def test_bad_host_header_is_refused(client, host):
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(b"GET /jupyter-lite.json HTTP/1.1\r\nHost: " + host.encode() +
                 b"\r\nConnection: close\r\n\r\n")
    await writer.drain()
    data = await reader.read()
    writer.close()
    status = int(data.split(b" ", 2)[1])
    assert status == 400, (host, data[:300])
    assert b"sharing_service_api_url" not in data


async def test_polyfill_first_and_allowed_by_hash(client):
    resp, body = await get(client, "/lab/index.html", **{"Accept-Encoding": "identity"})
    html = body.decode()
    first_script = html.index("<script")
    assert html[first_script:].startswith(POLYFILL_TAG)
    csp = resp.headers["Content-Security-Policy"]
    polyfill_js = POLYFILL_TAG.removeprefix("<script>").removesuffix("</script>")
    assert script_hash(polyfill_js) in csp
    inline = "window.__inlineRan = (window.__inlineRan || 0) + 1;"
    assert script_hash(inline) in csp
    # The compressed forms hold the same page.
    resp, body = await get(client, "/lab/index.html", **{"Accept-Encoding": "br"})
    assert resp.headers["Content-Encoding"] == "br"
    assert brotli.decompress(body).decode() == html


async def test_landing_page(client):
    resp, body = await get(client, "/")
    text = body.decode()
    assert resp.status == 200
    assert "testkiosk" in text and "Start coding" in text
    assert 'href="/lab/index.html"' in text
    assert "<svg" in text and "<script" not in text
    assert f"http://127.0.0.1:{client.port}/" in text


@pytest.mark.parametrize(("code", "target"), [
    ("  Calm-Blue-Otter-42.ipynb ", "/s/calm-blue-otter-42"),
    ("calm blue otter 42", "/s/calm-blue-otter-42"),
    ("http://10.0.0.1:8000/lab/index.html?notebook=calm-blue-otter-42", "/s/calm-blue-otter-42"),
    ("http://10.0.0.1/s/shy-red-crab-7", "/s/shy-red-crab-7"),
])
async def test_open_by_code_redirects(client, code, target):
    resp = await client.get("/open", params={"code": code}, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == target


async def test_open_bad_code_says_why(client):
    resp = await client.get("/open", params={"code": "<script>"}, allow_redirects=False)
    assert resp.status == 400
    assert "does not look like a notebook code" in await resp.text()


async def test_no_bundle_still_serves_landing(aiohttp_client, make_config, tmp_path):
    app = create_app(make_config(bundles_dir=tmp_path / "empty"))
    client = await aiohttp_client(app)
    resp = await client.get("/")
    assert resp.status == 200
    assert "not installed" in await resp.text()
    resp = await client.get("/lab/index.html")
    assert resp.status == 503
    assert "make bundle" in await resp.text()


async def test_invalid_bundle_refuses_to_start(make_config, bundle_root):
    (bundle_root / "build/style.css").write_text("tampered")
    app = create_app(make_config(bundles_dir=bundle_root.parent))
    runner = web.AppRunner(app)
    with pytest.raises(Exception, match=r"build/style.css: content differs"):
        await runner.setup()
    await runner.cleanup()


async def test_bundle_switch_is_atomic(client, bundle_root, monkeypatch):
    from kiosk.bundle.active import set_current
    from kiosk.serving.state import BUNDLE_STATE

    state = client.app[BUNDLE_STATE]
    old = state.index
    new_root = make_bundle(bundle_root.parent, "fake-2", activate=False)
    (new_root / "files" / "data.csv").write_text("changed after the manifest")
    set_current(bundle_root.parent, "fake-2")
    await state.load(strict=False)
    assert state.index is old, "a bundle failing verification must not be switched in"
    assert "fake-2" in (state.error or "")
    make_bundle(bundle_root.parent, "fake-3", activate=True)
    await state.load(strict=False)
    assert state.index is not None and state.index.name == "fake-3"
    resp, _ = await get(client, "/files/data.csv")
    assert resp.status == 200


async def test_landing_says_where_work_is_kept(aiohttp_client, make_config, bundle_root):
    note = "Shared work is kept on this USB stick <in data/>."
    app = create_app(make_config(bundles_dir=bundle_root.parent, data_note=note))
    client = await aiohttp_client(app)
    text = await (await client.get("/")).text()
    assert "Shared work is kept on this USB stick &lt;in data/&gt;." in text


@pytest.mark.parametrize(("name", "immutable"), [
    ("build/1031.b91a70b.js", True),
    ("extensions/x/static/remoteEntry.5cbb9d2323598fbda535.js", True),
    ("build/style.css", False), ("bootstrap.js", False), ("config-utils.js", False),
    ("static/pyodide/numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl", True),
    ("static/pyodide/pyodide.asm.wasm", False), ("lab/index.html", False),
    ("files/data.csv", False),
])
def test_cache_policy_by_name(name, immutable):
    from kiosk.serving.index import is_immutable

    assert is_immutable(name) is immutable
