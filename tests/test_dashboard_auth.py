"""/admin: sign-in with the admin secret, cookie flags, forged forms, brute-force limit."""

from __future__ import annotations

import re

from kiosk.app import create_app
from kiosk.dashboard.auth import COOKIE_NAME, Sessions
from kiosk.dashboard.keys import SESSIONS
from kiosk.sharing.keys import SHARING, STORE
from tests.sharing_helpers import dumps, make_notebook

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


async def sign_in(client) -> str:
    """Sign in through the form; return the page's CSRF token."""
    secret = client.app[SHARING].admin_secret
    resp = await client.post("/admin/login", data={"secret": secret}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    page = await (await client.get("/admin")).text()
    match = CSRF_RE.search(page)
    assert match, page
    return match.group(1)


async def add_share(client, title: str = "Homework") -> str:
    result = await client.app[STORE].create(dumps(make_notebook(title=title)),
                                            owner_session="s1", name=f"{title}.ipynb")
    return result.share.id


async def test_admin_without_session_shows_only_the_login_form(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config()))
    await add_share(client, "SecretTitle")
    resp = await client.get("/admin")
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert "script-src 'none'" in resp.headers["Content-Security-Policy"]  # no script at all
    page = await resp.text()
    assert 'action="/admin/login"' in page and 'type="password"' in page
    for leak in ("SecretTitle", "shares-total", "students-seen", "csrf", "Health"):
        assert leak not in page
    assert client.app[SHARING].admin_secret not in page


async def test_wrong_secret_is_refused_without_cookie(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config()))
    for typed in ("wrong", "", client.app[SHARING].admin_secret[:-1]):
        resp = await client.post("/admin/login", data={"secret": typed},
                                 allow_redirects=False)
        assert resp.status == 401
        assert COOKIE_NAME not in resp.cookies
        assert "Set-Cookie" not in resp.headers
        assert "not the admin secret" in await resp.text()
    assert "shares-total" not in await (await client.get("/admin")).text()


async def test_right_secret_sets_a_strict_httponly_cookie(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config()))
    resp = await client.post("/admin/login", data={"secret": client.app[SHARING].admin_secret},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/admin"
    header = resp.headers["Set-Cookie"]
    assert header.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in header
    assert "SameSite=Strict" in header
    assert "Path=/admin" in header
    assert "Secure" not in header  # plain HTTP here; Secure is set when served over HTTPS
    page = await (await client.get("/admin")).text()
    assert 'id="shares-total"' in page and 'id="students-seen"' in page
    # The cookie value is random and is not the secret.
    assert client.app[SHARING].admin_secret not in header


async def test_forged_forms_get_403_and_change_nothing(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config()))
    share_id = await add_share(client)
    token = await sign_in(client)
    store = client.app[STORE]
    url = f"/admin/shares/{share_id}/delete"
    # No token, a wrong token, and the right token from another origin.
    for data, headers in [
        ({}, {}),
        ({"csrf": "forged"}, {}),
        ({"csrf": token}, {"Origin": "http://evil.example"}),
        ({"csrf": token}, {"Referer": "http://evil.example/page"}),
    ]:
        resp = await client.post(url, data=data, headers=headers, allow_redirects=False)
        assert resp.status == 403, (data, headers)
    clear = await client.post("/admin/shares/clear", data={"confirm": "CLEAR"},
                              allow_redirects=False)
    assert clear.status == 403
    assert await store.count() == 1
    # Without a session at all (another site's form carries no SameSite=Strict cookie).
    client.session.cookie_jar.clear()
    resp = await client.post(url, data={"csrf": token}, allow_redirects=False)
    assert resp.status == 403
    assert await store.count() == 1


async def test_cross_origin_login_is_refused(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config()))
    resp = await client.post("/admin/login", data={"secret": client.app[SHARING].admin_secret},
                             headers={"Origin": "http://evil.example"}, allow_redirects=False)
    assert resp.status == 403
    assert "Set-Cookie" not in resp.headers


async def test_logout_ends_the_session(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config()))
    token = await sign_in(client)
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/admin"))[COOKIE_NAME]
    resp = await client.post("/admin/logout", data={"csrf": token}, allow_redirects=False)
    assert resp.status == 303
    assert len(client.app[SESSIONS]) == 0
    # The old cookie no longer opens the dashboard.
    client.session.cookie_jar.update_cookies({COOKIE_NAME: cookie.value},
                                             client.make_url("/admin"))
    assert "shares-total" not in await (await client.get("/admin")).text()


async def test_sign_in_attempts_are_limited(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config()))
    statuses = []
    for _ in range(12):
        resp = await client.post("/admin/login", data={"secret": "guess"},
                                 allow_redirects=False)
        statuses.append(resp.status)
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    assert "Retry-After" in resp.headers


def test_sessions_expire():
    now = [1000.0]
    sessions = Sessions(lifetime=10, clock=lambda: now[0])
    s = sessions.create()
    assert sessions.get(s.id) is s
    now[0] += 11
    assert sessions.get(s.id) is None
    assert sessions.get(None) is None and sessions.get("") is None
