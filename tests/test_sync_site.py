"""Take-home links open the upstream's public site, not its API's origin.

The public Jupyter Everywhere service serves its API and its site from different
origins; its site's share links are ``<site>/lab/index.html?notebook=<readable id>``.
A self-hosted JE gets no take-home link until ``upstream_site_url`` is set, and the
sync status (``/api/kiosk/status``, the dashboard, ``kiosk sync status``) says so.

Real sockets on loopback, a real SQLite file, the JE-faithful stand-in
(tests/je_standin.py). The real public service cannot be reached from a test, so its
API origin is mapped onto the stand-in's (``KNOWN_SITES``) where a test needs a sync
to "the public service"; the mapping itself is checked against the real origins.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import html
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from kiosk.app import create_app
from kiosk.cli.sync import run_status
from kiosk.config import KioskConfig
from kiosk.errors import ConfigError
from kiosk.sharing.keys import STORE
from kiosk.sync import site as site_module
from kiosk.sync.keys import SYNC_WORKER
from kiosk.sync.site import JE_API_ORIGIN, JE_SITE_URL, origin, site_notice, take_home_site
from tests.je_standin import JEStandIn
from tests.sharing_helpers import make_notebook
from tests.test_dashboard_auth import sign_in


def test_the_public_je_service_links_to_its_site_not_its_api() -> None:
    api = "https://jupytereverywhere.coursekata.org/api/v1"
    assert origin(api) == JE_API_ORIGIN
    assert JE_SITE_URL == "https://jupytereverywhere.org"
    for base in (api, "https://JupyterEverywhere.CourseKata.org:443/api/v1/"):
        for kind in ("je", None, "kiosk"):
            assert take_home_site(base, kind, None) == JE_SITE_URL
    # The teacher's setting wins, without a trailing slash.
    assert take_home_site(api, "je", "https://mirror.example/je/") == "https://mirror.example/je"


def test_a_hub_links_to_its_own_origin_and_a_self_hosted_je_to_nothing() -> None:
    assert take_home_site("http://hub.school:8080/api/v1", "kiosk", None) == \
        "http://hub.school:8080"
    # A JE service at another address: its site could be anywhere. No guess.
    assert take_home_site("https://je.school.example/api/v1", "je", None) is None
    assert take_home_site("https://je.school.example/api/v1", None, None) is None
    assert take_home_site("https://je.school.example/api/v1", "je",
                          "https://notebooks.school.example") == \
        "https://notebooks.school.example"
    # Another port of the public host is not the public service.
    assert take_home_site("https://jupytereverywhere.coursekata.org:8443/api/v1", "je",
                          None) is None
    assert "https://je.school.example" in site_notice("https://u:p@je.school.example/api/v1")
    assert "u:p" not in site_notice("https://u:p@je.school.example/api/v1")


def test_a_bad_site_url_is_refused_with_its_name(make_config: Callable[..., KioskConfig]) -> None:
    with pytest.raises(ConfigError, match="upstream_site_url"):
        make_config(upstream_site_url="jupytereverywhere.org")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Classroom:
    def __init__(self, client: TestClient, je: JEStandIn, config: KioskConfig) -> None:
        self.client, self.je, self.config = client, je, config

    async def shared_and_synced(self) -> tuple[str, dict[str, Any]]:
        """One share, sent upstream; its ``/upstream`` answer."""
        share = (await self.client.app[STORE].create(json.dumps(make_notebook()),
                                                     owner_session="s")).share
        worker = self.client.app[SYNC_WORKER]
        worker.sync_now()
        await worker.run_round()
        answer = await (await self.client.get(f"/api/kiosk/shares/{share.id}/upstream")).json()
        assert answer["state"] == "synced", answer
        return share.readable_id, answer


@pytest.fixture
async def classroom(make_config: Callable[..., KioskConfig], request: pytest.FixtureRequest
                    ) -> AsyncIterator[Classroom]:
    """A kiosk app on a known port (so ``kiosk sync status`` finds it) syncing to JE."""
    je = JEStandIn(now=time.time())
    upstream = TestServer(je.app(), host="127.0.0.1")
    await upstream.start_server()
    params: dict[str, Any] = getattr(request, "param", {})
    config = make_config(port=_free_port(), upstream_url=f"http://127.0.0.1:{upstream.port}"
                         "/api/v1", sync_enabled=True, sync_interval=3600, **params)
    client = TestClient(TestServer(create_app(config), host="127.0.0.1", port=config.port))
    await client.start_server()
    try:
        yield Classroom(client, je, config)
    finally:
        await client.close()
        await upstream.close()


async def test_a_self_hosted_je_gets_no_wrong_link_and_the_teacher_is_told(
        classroom: Classroom, capsys: pytest.CaptureFixture[str]) -> None:
    readable_id, answer = await classroom.shared_and_synced()
    # Synced, but no link built from the API's origin.
    assert answer["synced"] is True and answer["site_unknown"] is True
    assert "url" not in answer and "qr_svg" not in answer
    status = (await (await classroom.client.get("/api/kiosk/status")).json())["sync"]
    assert status["kind"] == "je" and status["take_home_site"] is None
    assert status["site_notice"] == site_notice(classroom.config.upstream_url or "")
    assert "upstream_site_url" in status["site_notice"]
    # The share page has no take-home block.
    page = await (await classroom.client.get(f"/s/{readable_id}")).text()
    assert origin(classroom.config.upstream_url or "") + "/lab/" not in page
    assert "To take home" not in page and 'class="upstream"' not in page
    # The dashboard: the notice in the sync section, and the shares table says why.
    await sign_in(classroom.client)
    page = html.unescape(await (await classroom.client.get("/admin")).text())
    assert status["site_notice"] in page
    row = next(r for r in re.findall(r"<tr>.*?</tr>", page, flags=re.S)
               if f'href="/s/{readable_id}"' in r)
    assert "no take-home link until upstream_site_url is set" in row
    assert "take-home-link" not in row and "not sent" not in row
    # `kiosk sync status` asks the running kiosk and prints the notice.
    await asyncio.to_thread(run_status, argparse.Namespace(json=False), classroom.config)
    out = capsys.readouterr().out
    assert "(running kiosk)" in out
    assert f"take-home:     {status['site_notice']}" in out
    # With no kiosk answering, from the store: its copies were made for a JE service.
    offline = dataclasses.replace(classroom.config, port=0)
    await asyncio.to_thread(run_status, argparse.Namespace(json=True), offline)
    stored = json.loads(capsys.readouterr().out)
    assert stored["source"].startswith("share store")
    assert stored["site_notice"] == status["site_notice"]


@pytest.mark.parametrize("classroom", [{"upstream_site_url": "https://notebooks.example/"}],
                         indirect=True)
async def test_a_self_hosted_je_with_its_site_set(classroom: Classroom) -> None:
    _, answer = await classroom.shared_and_synced()
    rid = answer["upstream_readable_id"]
    assert answer["url"] == f"https://notebooks.example/lab/index.html?notebook={rid}"
    status = classroom.client.app[SYNC_WORKER].status()
    assert status.take_home_site == "https://notebooks.example" and status.site_notice is None


async def test_the_public_je_service_gets_its_site_by_default(
        classroom: Classroom, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # The stand-in plays the public service (see the module docstring).
    upstream = classroom.config.upstream_url or ""
    monkeypatch.setitem(site_module.KNOWN_SITES, origin(upstream), JE_SITE_URL)
    readable_id, answer = await classroom.shared_and_synced()
    rid = answer["upstream_readable_id"]
    assert answer["url"] == f"{JE_SITE_URL}/lab/index.html?notebook={rid}"
    assert "site_unknown" not in answer and answer["qr_svg"].startswith("<svg")
    status = classroom.client.app[SYNC_WORKER].status()
    assert status.take_home_site == JE_SITE_URL and status.site_notice is None
    page = await (await classroom.client.get(f"/s/{readable_id}")).text()
    assert html.escape(answer["url"]) in page
    await sign_in(classroom.client)
    page = await (await classroom.client.get("/admin")).text()
    assert f'href="{html.escape(answer["url"])}"' in page
    await asyncio.to_thread(run_status, argparse.Namespace(json=False), classroom.config)
    assert f"take-home:     {JE_SITE_URL}/lab/index.html?notebook=<code>" in \
        capsys.readouterr().out


async def test_the_store_status_says_it_without_a_running_kiosk(
        make_config: Callable[..., KioskConfig], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """No kiosk answers (port 0): ``kiosk sync status`` reads the settings and the store."""
    for url, kind, expected in (
            ("https://je.school.example/api/v1", "je", None),
            ("https://jupytereverywhere.coursekata.org/api/v1", "auto", JE_SITE_URL)):
        config = make_config(data_dir=tmp_path / kind, upstream_url=url, sync_enabled=True,
                             upstream_kind=kind)
        await asyncio.to_thread(run_status, argparse.Namespace(json=True), config)
        status = json.loads(capsys.readouterr().out)
        assert status["source"].startswith("share store")
        assert status["take_home_site"] == expected
        assert (status["site_notice"] == site_notice(url)) is (expected is None)
