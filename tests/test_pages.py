"""The kiosk's own pages, made from templates: escaping, the stylesheet, each page's CSP,
the page a mistyped share code gets, and a notebook that cannot be shown."""

from __future__ import annotations

import re

import pytest

from kiosk.app import create_app
from kiosk.csp import inline_script_hashes
from kiosk.sharing.keys import SHARING
from kiosk.templating import TEMPLATE_DIR, Templates
from tests.sharing_helpers import make_notebook
from tests.test_sharing_view import share

HTML = {"Accept": "text/html"}


@pytest.fixture
async def client(aiohttp_client, make_config):
    return await aiohttp_client(create_app(make_config(data_note="Lab <b>&</b>")))


def _script_src(csp: str) -> str:
    return re.search(r"script-src ([^;]*)", csp).group(1)


async def test_every_template_compiles_and_values_are_escaped():
    templates = Templates().load()
    names = {p.relative_to(TEMPLATE_DIR).as_posix() for p in TEMPLATE_DIR.rglob("*")
             if p.is_file()}
    assert {"base.html", "landing.html", "join.html", "poster.svg", "share.html",
            "share_missing.html", "error.html", "portal.html", "dashboard/index.html",
            "dashboard/login.html", "dashboard/datasets.html"} <= names
    page = templates.render("error.html", status_code=404, message="<script>x</script>")
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>" not in page


async def test_stylesheet_is_content_addressed_and_cached_for_a_year(client):
    page = await (await client.get("/")).text()
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', page).group(1)
    assert re.fullmatch(r"/_kiosk/static/kiosk\.[0-9a-f]{16}\.css", href)
    resp = await client.get(href)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/css")
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert ".share header" in await resp.text()
    again = await client.get(href, headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status == 304
    # Another digest is another file: not served (no stale content under a new name).
    assert (await client.get("/_kiosk/static/kiosk.0000000000000000.css")).status == 404


async def test_no_kiosk_page_allows_a_script_path(client):
    _, saved = await share(client, make_notebook("x = 1"))
    pages = {
        "/": 200, "/join": 200, "/admin": 200, "/open?code=%3F%3F": 400,
        f"/s/{saved['readable_id']}": 200, "/s/no-such-shark-1": 404,
        "/api/v1/nothing-here": None,
    }
    for path, status in pages.items():
        resp = await client.get(path, headers=HTML)
        if status is None:  # an API path answers JSON: no page, no page CSP
            assert resp.headers["Content-Type"].startswith("application/json")
            continue
        assert resp.status == status, path
        page = await resp.text()
        assert "<b>&</b>" not in page, path
        if path == "/":
            assert "Lab &lt;b&gt;&amp;&lt;/b&gt;" in page  # the teacher's note, escaped
        scripts = _script_src(resp.headers["Content-Security-Policy"])
        hashes = inline_script_hashes(page)
        assert scripts == (" ".join(hashes) or "'none'"), path
        assert "'self'" not in scripts and "/" not in scripts.replace("sha256-", ""), path
    # Only /join has a script, and its CSP was computed from the page it rendered.
    join = await client.get("/join")
    assert len(inline_script_hashes(await join.text())) == 1


async def test_a_mistyped_code_gets_a_page_about_codes_with_the_box(client):
    resp = await client.get("/s/calm-blue-oter-42", headers=HTML)
    assert resp.status == 404
    page = await resp.text()
    assert "No notebook with this code" in page
    assert "calm-blue-oter-42" in page and "Check the spelling of the link" not in page
    assert re.search(r'<form action="/open" method="get">', page)
    assert 'name="code" value="calm-blue-oter-42"' in page
    # An API client still gets the kiosk's JSON error.
    api = await client.get("/s/calm-blue-oter-42", headers={"Accept": "application/json"})
    assert api.status == 404 and (await api.json())["error_code"] == "not_found"


async def test_a_notebook_that_cannot_be_shown_gets_one_sentence(client):
    """The renderer is replaced by one that fails, as hostile input makes it fail (the
    isolated renderer refuses a notebook too big or too damaged to convert)."""
    _, saved = await share(client, make_notebook("x = 1"))

    async def refuse(_share):
        raise ValueError("not a notebook nbconvert can read")

    client.app[SHARING].renderer.render = refuse
    resp = await client.get(f"/s/{saved['readable_id']}")
    assert resp.status == 200
    page = await resp.text()
    assert ("This notebook is damaged or too big to show here; open it in JupyterLite "
            "instead.") in page
    assert f"/lab/index.html?notebook={saved['readable_id']}" in page
