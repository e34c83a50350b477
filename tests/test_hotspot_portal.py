"""Captive-portal answers over real sockets on loopback.

The app listens twice: on 127.0.0.1, standing in for the hotspot address, and on
127.0.0.2, standing in for the kiosk's address on an ordinary school network. Requests
carry the probe host in their Host header, as a phone's would after the kiosk's DNS
pointed that host at the kiosk.
"""

from __future__ import annotations

import itertools

import aiohttp
import pytest
from aiohttp import web

from kiosk.app import create_app
from kiosk.hotspot import HOTSPOT_BOOK
from kiosk.hotspot.portal import ClientBook
from kiosk.hotspot.probes import PROBES, online_answer

HOTSPOT = "127.0.0.1"
SCHOOL = "127.0.0.2"

CASES = [(probe.platform, host, path) for probe in PROBES
         for host, path in itertools.product(probe.hosts[:1], probe.paths)]


@pytest.fixture
async def kiosk(make_config):
    """The app on both addresses; yields {address: port} and the app."""
    app = create_app(make_config(hotspot_address=HOTSPOT, host=HOTSPOT))
    runner = web.AppRunner(app)
    await runner.setup()
    ports = {}
    for address in (HOTSPOT, SCHOOL):
        site = web.TCPSite(runner, address, 0)
        await site.start()
        ports[address] = site._server.sockets[0].getsockname()[1]
    yield ports, app
    await runner.cleanup()


async def fetch(ports, address, host, path, method="GET"):
    url = f"http://{address}:{ports[address]}{path}"
    async with aiohttp.ClientSession() as session, session.request(
            method, url, headers={"Host": host}, allow_redirects=False) as resp:
        return resp.status, await resp.text(), resp.headers


@pytest.mark.parametrize(("platform", "host", "path"), CASES)
async def test_probe_shows_the_sign_in_page_once_then_online(kiosk, platform, host, path):
    ports, _app = kiosk
    status, _body, headers = await fetch(ports, HOTSPOT, host, path)
    assert status == 302, platform
    welcome = f"http://{HOTSPOT}:{ports[HOTSPOT]}/hotspot/welcome"
    assert headers["Location"] == welcome
    assert headers["Cache-Control"] == "no-store"
    # The sheet opens the welcome page: the kiosk's URL, names and QR code.
    status, page, _ = await fetch(ports, HOTSPOT, f"{HOTSPOT}:{ports[HOTSPOT]}",
                                  "/hotspot/welcome")
    assert status == 200
    assert f"http://{HOTSPOT}:{ports[HOTSPOT]}/" in page
    assert "testkiosk.lan/" in page and "python.lan/" in page
    assert "<svg" in page and "open the kiosk in your browser" in page.lower()
    # Still captive until the student taps Done.
    assert (await fetch(ports, HOTSPOT, host, path))[0] == 302
    status, _, headers = await fetch(ports, HOTSPOT, f"{HOTSPOT}:{ports[HOTSPOT]}",
                                     "/hotspot/accept", method="POST")
    assert status == 303 and headers["Location"] == "/hotspot/welcome?done=1"
    expected = online_answer(host, path)
    status, body, headers = await fetch(ports, HOTSPOT, host, path)
    assert (status, body) == (expected.status, expected.body), platform
    if expected.body:
        assert headers["Content-Type"].startswith(expected.content_type)


async def test_exact_online_bodies(kiosk):
    ports, app = kiosk
    app[HOTSPOT_BOOK].accept(HOTSPOT)
    expected = {
        ("connectivitycheck.gstatic.com", "/generate_204"): (204, ""),
        ("clients3.google.com", "/generate_204"): (204, ""),
        ("captive.apple.com", "/hotspot-detect.html"):
            (200, "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>\n"),
        ("www.appleiphonecell.com", "/a1b2/c3d4.html"):
            (200, "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>\n"),
        ("www.msftconnecttest.com", "/connecttest.txt"): (200, "Microsoft Connect Test"),
        ("www.msftncsi.com", "/ncsi.txt"): (200, "Microsoft NCSI"),
        ("detectportal.firefox.com", "/success.txt"): (200, "success\n"),
        ("detectportal.firefox.com", "/canonical.html"): (200, '<meta http-equiv="refresh" '
            'content="0;url=https://support.mozilla.org/kb/captive-portal"/>'),
        ("nmcheck.gnome.org", "/check_network_status.txt"):
            (200, "NetworkManager is online\n"),
        ("connectivity-check.ubuntu.com", "/"): (204, ""),
    }
    for (host, path), answer in expected.items():
        status, body, _ = await fetch(ports, HOTSPOT, host, path)
        assert (status, body) == answer, host


async def test_opening_the_kiosk_itself_counts_as_signed_in(kiosk):
    ports, _app = kiosk
    assert (await fetch(ports, HOTSPOT, "captive.apple.com", "/hotspot-detect.html"))[0] == 302
    await fetch(ports, HOTSPOT, "testkiosk.lan", "/")
    assert (await fetch(ports, HOTSPOT, "captive.apple.com", "/hotspot-detect.html"))[0] == 200


@pytest.mark.parametrize(("host", "path"), [
    ("connectivitycheck.gstatic.com", "/generate_204"), ("captive.apple.com",
     "/hotspot-detect.html"), ("www.msftconnecttest.com", "/connecttest.txt"),
    ("detectportal.firefox.com", "/success.txt"), (SCHOOL, "/hotspot/welcome"),
])
async def test_school_network_clients_get_what_they_got_before(kiosk, host, path):
    ports, app = kiosk
    # Without a bundle the catch-all answers 503, with one 404: either way, the same as
    # any unknown path, never a portal answer.
    baseline, _, _ = await fetch(ports, SCHOOL, SCHOOL, "/no/such/page")
    assert baseline in {404, 503}
    status, _, _ = await fetch(ports, SCHOOL, host, path)
    assert status == (404 if path.startswith("/hotspot/") else baseline)
    status, _, _ = await fetch(ports, SCHOOL, SCHOOL, "/hotspot/accept", method="POST")
    assert status == 404
    assert len(app[HOTSPOT_BOOK]) == 0  # nothing remembered about school clients


async def test_status_section_reports_the_hotspot(kiosk):
    ports, _app = kiosk
    status, body, _ = await fetch(ports, SCHOOL, SCHOOL, "/api/kiosk/status")
    assert status == 200
    import json
    section = json.loads(body)["hotspot"]
    assert section["address"] == HOTSPOT
    assert section["up"] is True  # 127.0.0.1 is on this machine's loopback
    assert section["names"] == ["testkiosk.lan", "python.lan"]
    assert section["level"] == "ok"
    assert "passphrase" not in body and "password" not in body


def test_client_book_grace_ttl_and_bound():
    now = [1000.0]
    book = ClientBook(ttl=100, grace=30, max_clients=3, clock=lambda: now[0])
    assert not book.is_online("a")  # first probe: captive
    now[0] += 10
    assert not book.is_online("a")
    now[0] += 25  # past the grace period: never captive for ever
    assert book.is_online("a")
    now[0] += 101  # the day is over: the sheet shows once more
    assert not book.is_online("a")
    book.accept("b")
    assert book.is_online("b") and book.signed_in() == 1
    for name in "cdefg":
        book.is_online(name)
    assert len(book) == 3
