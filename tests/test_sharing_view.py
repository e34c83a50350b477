"""The read-only share page /s/<readable id>: rendered, sanitized, cached, scriptless."""

from __future__ import annotations

import base64
import json

import pytest

from kiosk.app import create_app
from kiosk.sharing.keys import SHARING
from kiosk.sharing.render import sanitize
from tests.sharing_helpers import make_notebook

API = "/api/v1"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 20).decode()

EVIL_MARKDOWN = (
    "# Evil <img src=x onerror=alert(1)>\n\n"
    "<script>alert('md')</script>\n\n"
    "[click](javascript:alert(2)) <a href='data:text/html,<script>x</script>'>d</a>\n\n"
    "<iframe src='http://evil'></iframe><svg onload=alert(3)><circle/></svg>\n\n"
    "<div onclick='alert(4)' style='x'>div</div> <form action=/x><input></form>"
)


def evil_notebook():
    nb = make_notebook("print('hi')")
    nb["cells"].append({"cell_type": "markdown", "id": "md2", "metadata": {},
                        "source": EVIL_MARKDOWN})
    nb["cells"].append({
        "cell_type": "code", "id": "c2", "metadata": {}, "execution_count": 2,
        "source": "display()", "outputs": [
            {"output_type": "display_data", "metadata": {}, "data": {
                "text/html": "<b onmouseover='alert(5)'>bold</b><script>alert(6)</script>"
                             "<object data=x></object><embed src=y>",
                "application/javascript": "alert(7)",
                "text/plain": "fallback"}},
            {"output_type": "display_data", "metadata": {},
             "data": {"image/png": PNG, "text/plain": "<Figure>"}},
            {"output_type": "display_data", "metadata": {},
             "data": {"image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg'>"
                                       "<script>alert(8)</script><rect/></svg>"}},
        ]})
    return nb


@pytest.fixture
async def client(aiohttp_client, config):
    return await aiohttp_client(create_app(config))


async def share(client, nb):
    token = (await (await client.post(f"{API}/auth/issue")).json())["token"]
    resp = await client.post(f"{API}/notebooks", data=json.dumps({"notebook": nb}),
                             headers={"Authorization": f"Bearer {token}",
                                      "Content-Type": "application/json"})
    assert resp.status == 201
    return token, (await resp.json())["notebook"]


async def test_share_page_renders_safely(client):
    _, saved = await share(client, evil_notebook())
    rid = saved["readable_id"]
    resp = await client.get(f"/s/{rid}")
    assert resp.status == 200
    page = await resp.text()
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'none'" in csp and "default-src 'none'" in csp
    lowered = page.lower()
    for bad in ("<script", "onerror", "onclick", "onload", "onmouseover", "javascript:",
                "<iframe", "<object", "<embed", "<form", "data:text/html", "alert(7)"):
        assert bad not in lowered, bad
    assert "print" in page and "Evil" in page and "bold" in page
    assert f"data:image/png;base64,{PNG}" in page       # images stay
    assert "data:image/svg+xml;base64," in page          # SVG shown as an inert <img>
    assert f'href="/lab/index.html?notebook={rid}"' in page
    assert "<svg" in page  # the page's own QR code
    # Cached per version: the second view does not render again.
    renders = client.app[SHARING].renderer.renders
    resp = await client.get(f"/s/{rid.upper()}.ipynb")
    assert resp.status == 200
    assert client.app[SHARING].renderer.renders == renders


async def test_share_page_follows_updates(client):
    token, saved = await share(client, make_notebook("first_version()"))
    assert "first_version" in await (await client.get(f"/s/{saved['readable_id']}")).text()
    resp = await client.put(f"{API}/notebooks/{saved['id']}",
                            data=json.dumps(make_notebook("second_version()")),
                            headers={"Authorization": f"Bearer {token}",
                                     "Content-Type": "application/json"})
    assert resp.status == 200
    page = await (await client.get(f"/s/{saved['readable_id']}")).text()
    assert "second_version" in page and "first_version" not in page


async def test_share_page_missing_is_404_html(client):
    resp = await client.get("/s/no-such-shark-123", headers={"Accept": "text/html"})
    assert resp.status == 404
    assert "text/html" in resp.headers["Content-Type"]


async def test_concurrent_views_render_once(client):
    import asyncio
    _, saved = await share(client, make_notebook("x = 1"))
    renderer = client.app[SHARING].renderer
    before = renderer.renders
    pages = await asyncio.gather(*(client.get(f"/s/{saved['readable_id']}")
                                   for _ in range(10)))
    assert all(p.status == 200 for p in pages)
    assert renderer.renders == before + 1


def test_sanitize_allowlist():
    out = sanitize('<p style="color:red" onclick="x">a<a href="javascript:alert(1)">b</a>'
                   '<a href="https://x.org/">c</a><img src="data:image/gif;base64,R0l"'
                   ' onerror="y"><img src="data:text/html;base64,PHM="></p>')
    assert "onclick" not in out and "style" not in out and "javascript" not in out
    assert 'href="https://x.org/"' in out
    assert 'src="data:image/gif;base64,R0l"' in out
    assert "data:text/html" not in out
