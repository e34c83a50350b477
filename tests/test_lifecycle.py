"""Three lives on one data directory: start, SIGTERM, start, SIGKILL, start.

For the default settings (mDNS on, so in a private network namespace) and for each
optional capability switched on (sync, relay, fetch, TLS, the hotspot after a dry-run
``hotspot on``), every start must serve ``/``, the sharing API and the shares made in
earlier lives; the token a student got in the first life still updates her share; the
secrets and the kiosk's identity are the ones of the first start. These are the tests
that would have caught the 12-character ``kiosk-id`` that stopped every second start.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import http.server
import json
import signal
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import load_config
from kiosk.hotspot import control
from kiosk.hotspot.control import CommandResult
from tests.conftest import KioskProcess, serve_csv, start_kiosk
from tests.fakebundle import make_bundle
from tests.lifecycle_net import Namespace, private_network, request
from tests.sharing_helpers import make_notebook
from tests.test_tls import make_certificate

pytestmark = pytest.mark.slow

LOOPBACK = ["--host", "127.0.0.1", "--port", "0", "--no-mdns-enabled", "--name", "testkiosk"]
SECRET_FILES = ("sharing-signing.key", "admin-secret")


@dataclass
class Client:
    """Blocking HTTP to one kiosk, from inside its network namespace if it has one."""

    base: str
    ns: Namespace | None = None
    context: ssl.SSLContext | None = None

    def call(self, method: str, path: str, payload: Any = None,
             token: str | None = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = json.dumps(payload).encode() if payload is not None else None
        args = (method, self.base + path)
        kwargs = {"body": body, "headers": headers, "context": self.context}
        if self.ns is None:
            status, raw = request(*args, **kwargs)
        else:
            status, raw = self.ns.run(lambda: request(*args, **kwargs))
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def token(self) -> str:
        status, body = self.call("POST", "/api/v1/auth/issue")
        assert status == 200, body
        return str(body["token"])

    def create(self, token: str, nb: dict[str, Any]) -> str:
        status, body = self.call("POST", "/api/v1/notebooks", {"notebook": nb}, token)
        assert status == 201, body
        return str(body["notebook"]["id"])

    def content(self, share_id: str) -> dict[str, Any]:
        status, body = self.call("GET", f"/api/v1/notebooks/{share_id}", token=self.token())
        assert status == 200, body
        return dict(body["content"])


@dataclass
class Variant:
    """How to start the kiosk of one capability, and what else to check in each life."""

    args: list[str]
    ns: Namespace | None = None
    context: ssl.SSLContext | None = None
    env: dict[str, str] = field(default_factory=dict)
    check: Callable[[Client, int], None] | None = None
    finish: Callable[[Client], None] | None = None


def tagged(tag: str) -> dict[str, Any]:
    nb = make_notebook(f"print({tag!r})", title=tag)
    nb["metadata"]["lifecycle"] = tag
    return nb


def three_lives(variant: Variant, data: Path) -> list[KioskProcess]:
    """Run the start/SIGTERM/start/SIGKILL/start cycle; return the processes."""
    lives: list[KioskProcess] = []

    def start() -> Client:
        prefix = variant.ns.prefix if variant.ns else None
        kp = start_kiosk(["--data-dir", str(data), *variant.args], env=variant.env,
                         prefix=prefix)
        lives.append(kp)
        return Client(kp.url(), variant.ns, variant.context)

    def serves(client: Client, life: int) -> None:
        status, page = client.call("GET", "/")
        assert status == 200, page
        status, health = client.call("GET", "/api/v1/health")
        assert status == 200, health
        if variant.check is not None:
            variant.check(client, life)

    try:
        client = start()
        serves(client, 1)
        first_token = client.token()
        a = client.create(first_token, tagged("a1"))
        assert client.content(a)["metadata"]["lifecycle"] == "a1"
        secrets = {name: (data / name).read_text() for name in SECRET_FILES}
        identity = sorted(p.name for p in data.iterdir())
        assert lives[-1].stop(signal.SIGTERM) == 0, "\n".join(lives[-1].log)

        client = start()
        serves(client, 2)
        assert client.content(a)["metadata"]["lifecycle"] == "a1"
        # The token of the first life still updates the share it made.
        status, body = client.call("PUT", f"/api/v1/notebooks/{a}", tagged("a2"), first_token)
        assert status == 200, body
        b = client.create(client.token(), tagged("b1"))
        lives[-1].stop(signal.SIGKILL)

        client = start()
        serves(client, 3)
        assert client.content(a)["metadata"]["lifecycle"] == "a2"
        assert client.content(b)["metadata"]["lifecycle"] == "b1"
        assert {name: (data / name).read_text() for name in SECRET_FILES} == secrets
        # Nothing the first start made was replaced (kiosk-id, hotspot files, ...).
        assert set(identity) <= {p.name for p in data.iterdir()}
        if variant.finish is not None:
            variant.finish(client)
        assert lives[-1].stop(signal.SIGTERM) == 0, "\n".join(lives[-1].log)
        return lives
    finally:
        for kp in lives:
            kp.stop(signal.SIGKILL)


def test_defaults_with_mdns_in_a_private_network(tmp_path: Path):
    """Nothing but the data directory given: port 8000 on every interface, mDNS on."""
    data = tmp_path / "data"
    make_bundle(data / "bundles")
    ids: list[str] = []

    def same_identity(client: Client, life: int) -> None:
        ids.append((data / "kiosk-id").read_text())
        status, body = client.call("GET", "/api/kiosk/status")
        assert status == 200 and body["name"] == "kiosk"

    with private_network() as ns:
        lives = three_lives(Variant([], ns=ns, check=same_identity), data)
    assert all(kp.port == 8000 for kp in lives)
    assert len(ids) == 3 and len(set(ids)) == 1
    assert not any("Traceback" in line for kp in lives for line in kp.log)


def test_sync_to_a_hub(kiosk_process, tmp_path: Path):
    """Shares made in every life reach the hub exactly once."""
    hub = kiosk_process("--data-dir", str(tmp_path / "hub"), "--name", "hub")
    make_bundle(tmp_path / "bundles")
    args = [*LOOPBACK, "--bundles-dir", str(tmp_path / "bundles"), "--sync-enabled",
            "--upstream-url", f"{hub.url()}/api/v1", "--sync-interval", "0.3",
            "--sync-backoff-base", "0.1", "--sync-backoff-max", "1"]

    def drained(client: Client) -> None:
        deadline = time.monotonic() + 30
        sync: dict[str, Any] = {}
        while time.monotonic() < deadline:
            sync = client.call("GET", "/api/kiosk/status")[1]["sync"]
            if sync["queued"] == 0 and sync["in_flight"] == 0:
                break
            time.sleep(0.2)
        assert sync["queued"] == 0, sync
        secret = (tmp_path / "hub" / "admin-secret").read_text().strip()
        hub_client = Client(hub.url())
        status, listing = hub_client.call("GET", "/api/admin/shares?limit=50", token=secret)
        assert status == 200, listing
        tags = sorted(hub_client.content(s["id"])["metadata"]["lifecycle"]
                      for s in listing["shares"])
        assert tags == ["a2", "b1"]

    three_lives(Variant(args, finish=drained), tmp_path / "data")


def test_relay(tmp_path: Path):
    make_bundle(tmp_path / "bundles")
    args = [*LOOPBACK, "--bundles-dir", str(tmp_path / "bundles"), "--relay-enabled"]

    def relay_answers(client: Client, life: int) -> None:
        status, script = client.call("GET", "/_kiosk/bridge.js")
        assert status == 200 and b"WebSocket" in script
        status, _ = client.call("GET", "/api/service-worker-heartbeat")
        assert status == 200

    three_lives(Variant(args, check=relay_answers), tmp_path / "data")


def test_fetch_cache_survives(tmp_path: Path):
    """A file fetched in the first life is served from the cache in the next two, with the
    origin gone (the school's line is down)."""
    body = b"x,y\n" + b"1,2\n" * 100

    origin = serve_csv(body)
    url = f"http://127.0.0.1:{origin.port}/data.csv"
    make_bundle(tmp_path / "bundles")
    args = [*LOOPBACK, "--bundles-dir", str(tmp_path / "bundles"), "--fetch-enabled",
            "--fetch-allow-private"]

    def cached(client: Client, life: int) -> None:
        status, got = client.call("GET", f"/api/fetch?url={url}")
        assert status == 200 and got == body, (status, got[:200])
        if life == 1:
            origin.stop()

    try:
        three_lives(Variant(args, check=cached), tmp_path / "data")
    finally:
        origin.stop()


def test_tls(tmp_path: Path):
    cert, key = make_certificate(tmp_path)
    make_bundle(tmp_path / "bundles")
    args = [*LOOPBACK, "--bundles-dir", str(tmp_path / "bundles"), "--tls-cert", str(cert),
            "--tls-key", str(key)]
    context = ssl.create_default_context(cafile=str(cert))
    lives = three_lives(Variant(args, context=context), tmp_path / "data")
    assert all(kp.scheme == "https" for kp in lives)


class RecordingRunner:
    """Stands in for nmcli and raspi-config (the dry run): records, succeeds."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []

    async def __call__(self, args: Any) -> CommandResult:
        self.commands.append(list(args))
        return CommandResult(0, "", "")


@pytest.fixture
def hotspot_data(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    config = load_config(env={}, overrides={"data_dir": data, "name": "testkiosk",
                                            "hotspot_ssid": "trip-wifi"})
    runner = RecordingRunner()
    report = asyncio.run(control.hotspot_on(config, runner=runner, conf_dir=tmp_path / "nm"))
    assert runner.commands and report.spec.ssid == "trip-wifi"
    yield data


def test_hotspot_after_a_dry_run_on(hotspot_data: Path, tmp_path: Path):
    make_bundle(tmp_path / "bundles")
    passphrase = (hotspot_data / "hotspot-passphrase").read_text()
    args = [*LOOPBACK, "--bundles-dir", str(tmp_path / "bundles"), "--hotspot-ssid", "trip-wifi"]

    def hotspot_known(client: Client, life: int) -> None:
        status, body = client.call("GET", "/api/kiosk/status")
        assert status == 200 and body["hotspot"]["ssid"] == "trip-wifi", body
        assert (hotspot_data / "hotspot-passphrase").read_text() == passphrase

    three_lives(Variant(args, check=hotspot_known), hotspot_data)


MORNINGS = 20


def late_share(client: Client, token: str) -> None:
    """A save that may be cut off by the power going (its answer does not matter)."""
    with contextlib.suppress(OSError, http.client.HTTPException):
        client.call("POST", "/api/v1/notebooks", {"notebook": tagged("late")}, token)


def test_a_month_of_mornings(tmp_path: Path):
    """Twenty starts with the defaults (mDNS on), alternately stopped by SIGTERM and by
    SIGKILL while a student is saving; every acknowledged share is there the next day."""
    data = tmp_path / "data"
    make_bundle(data / "bundles")
    acknowledged: list[str] = []
    with private_network() as ns:
        for day in range(MORNINGS):
            kp = start_kiosk(["--data-dir", str(data)], prefix=ns.prefix)
            try:
                client = Client(kp.url(), ns)
                assert client.call("GET", "/")[0] == 200
                token = client.token()
                for share_id in acknowledged:
                    status, _ = client.call("GET", f"/api/v1/notebooks/{share_id}", token=token)
                    assert status == 200, f"day {day}: {share_id} lost"
                acknowledged.append(client.create(token, tagged(f"day {day}")))
                if day % 2:
                    # Unplugged while a share is on its way: acknowledged or not, never half.
                    pending = threading.Thread(target=late_share, args=(client, token))
                    pending.start()
                    kp.stop(signal.SIGKILL)
                    pending.join()
                else:
                    assert kp.stop(signal.SIGTERM) == 0, "\n".join(kp.log)
            finally:
                kp.stop(signal.SIGKILL)
    assert len(acknowledged) == MORNINGS
