"""Issue #17 (9): API and dashboard paths answer only for the kiosk's own names.

Any ``Host`` was accepted, so a website a student visits could rebind its name to the
kiosk's address and drive the kiosk's API from her browser. Now other names get 421.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from kiosk.app import create_app

GUARDED = ["/api/kiosk/status", "/api/v1/health", "/admin", "/s/brave-sunny-otter-4821",
           "/_kiosk/bridge.js", "/api/fetch?url=http://example.com/", "/api/sleep?seconds=0"]


@pytest.fixture
async def client(aiohttp_client, make_config):
    config = await asyncio.to_thread(make_config, host_aliases="python.school.example",
                                     hotspot_alias="py")
    return await aiohttp_client(create_app(config))


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "testkiosk.evil.example",
                                  "localhost.evil.example", "xn--e1afmkfd.example", ""])
async def test_foreign_names_get_421(client, host):
    for path in GUARDED:
        resp = await client.get(path, headers={"Host": host})
        assert resp.status == 421, (host, path, resp.status)
        if path.startswith("/api/"):
            assert (await resp.json())["error_code"] == "misdirected_request"
    resp = await client.post("/api/v1/auth/issue", headers={"Host": host})
    assert resp.status == 421


@pytest.mark.parametrize("host", [
    "127.0.0.1", "127.0.0.1:8000", "[::1]:8000", "[fe80::1%25eth0]:8000", "10.42.0.1",
    "localhost:8000", "testkiosk",
    "testkiosk.local", "TestKiosk.Local.", "testkiosk.lan", "py.lan", "python.school.example",
    socket.gethostname(),
])
async def test_own_names_and_addresses_answer(client, host):
    resp = await client.get("/api/kiosk/status", headers={"Host": host})
    assert resp.status == 200, host
    resp = await client.get("/api/v1/health", headers={"Host": host})
    assert resp.status == 200, host


async def test_pages_without_secrets_stay_open(client):
    """The start page and the captive-portal probes answer any name (phones send theirs)."""
    resp = await client.get("/", headers={"Host": "captive.apple.com"})
    assert resp.status == 200


async def test_a_request_without_host_is_refused_on_guarded_paths(client):
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(b"GET /api/kiosk/status HTTP/1.0\r\n\r\n")
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    assert b" 421 " in status_line
