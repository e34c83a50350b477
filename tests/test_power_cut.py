"""Power cuts: a real ``kiosk serve`` on a file system that forgets what was not synced.

The kiosk's data directory (and, for the bundle switch, its bundles directory) lives on
``tests/lazyfs.py``, a FUSE pass-through that keeps, apart from what programs see, what
a disk would hold after a power cut: data only once fsynced, names only once their
directory is fsynced (``tests/test_power_cut_lazyfs.py`` shows it really drops the rest).
Each cut: the kiosk is SIGKILLed, everything not synced is dropped, the file system is
unmounted and mounted again; then, on what is left:

* ``PRAGMA integrity_check`` is ``ok`` on the database;
* the secrets (token key, admin secret) are the ones from before, byte for byte;
* the kiosk starts, and every share it acknowledged (201/200) before the cut reads back
  through the API with that content (or with an update cut off in flight, which may have
  committed), and a token issued before the cut still updates its share.

Cuts come at seeded random moments during a stream of shares, at seeded random
operations of the very first start (while the secrets and the database are created),
and at every operation of ``kiosk bundle use``.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from kiosk.bundle.active import current_bundle
from kiosk.bundle.manifest import read_manifest
from tests.conftest import REPO, KioskProcess, start_kiosk
from tests.lazyfs import LazyMount
from tests.sharing_helpers import make_notebook
from tests.test_bundle_switch_restart import NAMES, make_variant, wait_serving

pytestmark = pytest.mark.slow

ROUNDS = 6
WRITERS = 4
LATER_CUTS = 2
SECRETS = ("sharing-signing.key", "admin-secret")
SEED = 16


def kiosk_args(mnt: Path, *extra: str) -> list[str]:
    return ["--host", "127.0.0.1", "--port", "0", "--data-dir", str(mnt / "data"),
            "--no-mdns-enabled", "--name", "cutkiosk", "--rate-issue-per-minute", "100000",
            "--rate-post-per-minute", "100000", "--min-free-disk-mib", "0", *extra]


def kill(kp: KioskProcess) -> None:
    kp.proc.send_signal(signal.SIGKILL)
    kp.stop(timeout=10)


def database_ok(data_dir: Path, scratch: Path) -> None:
    """``integrity_check`` on a copy of what the cut left (SQLite recovers its WAL there;
    the kiosk recovers its own copy when it starts)."""
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(data_dir, scratch)
    dbs = sorted(scratch.glob("*.sqlite3"))
    assert dbs, f"no database left in {sorted(p.name for p in data_dir.iterdir())}"
    for db in dbs:
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", db.name


@dataclass
class Share:
    """A share as the kiosk acknowledged it, and an update sent but not answered."""

    token: str
    content: dict
    inflight: dict | None = None


async def pour(url: str, shares: dict[str, Share], stop: asyncio.Event, seed: int) -> None:
    """Post and update shares until the kiosk dies; record what it acknowledged."""
    rnd = random.Random(seed)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
            async with session.post(f"{url}/api/v1/auth/issue") as resp:
                token = (await resp.json())["token"]
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            mine: list[str] = []
            while not stop.is_set():
                content = make_notebook(f"n = {rnd.random()!r}", pad_bytes=rnd.randrange(20_000))
                if mine and rnd.random() < 0.4:
                    share_id = rnd.choice(mine)
                    share = shares[share_id]
                    share.inflight = content
                    async with session.put(f"{url}/api/v1/notebooks/{share_id}",
                                           headers=headers, data=json.dumps(content)) as resp:
                        assert resp.status == 200, await resp.text()
                        share.content, share.inflight = content, None
                    continue
                async with session.post(f"{url}/api/v1/notebooks", headers=headers,
                                        data=json.dumps({"notebook": content})) as resp:
                    assert resp.status == 201, await resp.text()
                    share_id = (await resp.json())["notebook"]["id"]
                shares[share_id] = Share(token, content)
                mine.append(share_id)
    except (TimeoutError, aiohttp.ClientError, ConnectionError):
        pass  # the kiosk was killed mid-request: that request was never acknowledged


async def check_shares(url: str, shares: dict[str, Share]) -> None:
    """Every acknowledged share reads back as acknowledged (or as its in-flight update,
    which then becomes the truth); one token per writer still updates its share."""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/api/v1/auth/issue") as resp:
            reader = {"Authorization": f"Bearer {(await resp.json())['token']}"}
        lost = []
        for share_id, share in shares.items():
            async with session.get(f"{url}/api/v1/notebooks/{share_id}", headers=reader) as resp:
                if resp.status != 200:
                    lost.append(f"{share_id}: HTTP {resp.status}")
                    continue
                stored = (await resp.json())["content"]
            if stored == share.inflight:
                share.content = stored
            elif stored != share.content:
                lost.append(f"{share_id}: not the acknowledged content")
            share.inflight = None
        assert not lost, f"{len(lost)} of {len(shares)} acknowledged shares lost: {lost[:5]}"
        by_token = {s.token: (k, s) for k, s in shares.items()}
        for share_id, share in by_token.values():
            content = make_notebook(f"after the cut {share_id}")
            async with session.put(f"{url}/api/v1/notebooks/{share_id}", data=json.dumps(content),
                                   headers={"Authorization": f"Bearer {share.token}",
                                            "Content-Type": "application/json"}) as resp:
                assert resp.status == 200, f"a token from before the cut: HTTP {resp.status}"
            share.content = content


async def test_power_cuts_during_a_stream_of_shares(lazy, tmp_path):
    data = lazy.mountpoint / "data"
    rnd = random.Random(SEED)
    kp = await asyncio.to_thread(start_kiosk, kiosk_args(lazy.mountpoint))
    shares: dict[str, Share] = {}
    dropped_pages = checked = 0
    try:
        secrets = {name: (data / name).read_bytes() for name in SECRETS}
        for cycle in range(ROUNDS):
            before = len(shares)
            stop = asyncio.Event()
            writers = [asyncio.create_task(pour(kp.url(), shares, stop, cycle * 100 + i))
                       for i in range(WRITERS)]
            flowing = time.monotonic() + 15
            while len(shares) == before and time.monotonic() < flowing:
                await asyncio.sleep(0.01)
            await asyncio.sleep(rnd.uniform(0.05, 1.0))
            await asyncio.to_thread(kill, kp)
            stop.set()
            await asyncio.gather(*writers)
            assert len(shares) > before, "no share got through in this round"
            lazy.cut()
            dropped_pages += lazy.stats()["dropped_pages"]
            lazy.unmount()
            database_ok(lazy.backing / "data", tmp_path / "copy")
            for name, value in secrets.items():
                assert (lazy.backing / "data" / name).read_bytes() == value, name
            lazy.mount()
            kp = await asyncio.to_thread(start_kiosk, kiosk_args(lazy.mountpoint))
            await check_shares(kp.url(), shares)
            checked += len(shares)
    finally:
        kp.stop()
    assert dropped_pages > 0, "no cut dropped anything: the cuts test nothing"
    print(f"{ROUNDS} power cuts during a stream of shares: {len(shares)} acknowledged shares "
          f"all intact after every cut ({checked} checks; {dropped_pages} unsynced pages "
          "dropped), secrets unchanged, tokens still valid")


def first_start_trace(lazy: LazyMount, trace: Path) -> list[str]:
    """The changing operations of a first start, up to the moment it listens."""
    lazy.unmount()
    lazy.mount(trace=trace)
    kp = start_kiosk(kiosk_args(lazy.mountpoint))
    ops = trace.read_text().splitlines()
    kill(kp)
    return ops


def test_power_cut_during_the_first_start(lazy, tmp_path):
    """A cut at an operation of the first start, while the secrets and the database are
    being created: the next start works, and its secrets then stay."""
    trace = tmp_path / "trace"
    ops = first_start_trace(lazy, trace)
    # Every operation up to the last one of the secrets' creation (the data directory,
    # both secrets), and a few random ones after (the database's creation).
    last_secret_op = max(i for i, op in enumerate(ops, 1) if any(s in op for s in SECRETS))
    assert ops[last_secret_op].endswith("fsyncdir /data"), ops[:20]  # it is synced in place
    last_secret_op += 1
    rnd = random.Random(SEED)
    points = [*range(1, last_secret_op + 1),
              *sorted(rnd.sample(range(last_secret_op + 1, len(ops) + 1), LATER_CUTS))]
    landed: list[str] = []
    for point in points:
        lazy.unmount()
        shutil.rmtree(lazy.backing)
        trace.unlink(missing_ok=True)
        lazy.mount(trace=trace)
        lazy.cut_after(point)
        # The kiosk starts; once the power is off it is killed (it may have stopped on
        # its own at the first EIO, or be waiting on a failed task: either way).
        proc = subprocess.Popen([sys.executable, "-m", "kiosk", "serve",
                                 *kiosk_args(lazy.mountpoint)], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not lazy.stats()["off"] and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.kill()
        proc.wait(10)
        cut = [line for line in trace.read_text().splitlines() if line.endswith(" CUT")]
        assert len(cut) == 1, f"the cut at operation {point} never came"
        landed.append(cut[0].split(" ", 1)[1].removesuffix(" CUT"))
        lazy.unmount()
        lazy.mount()
        kp = start_kiosk(kiosk_args(lazy.mountpoint))
        try:
            secrets = {name: (lazy.mountpoint / "data" / name).read_bytes() for name in SECRETS}
        finally:
            kill(kp)  # from now on these secrets are in use: they must survive a cut
        lazy.cut()
        lazy.unmount()
        database_ok(lazy.backing / "data", tmp_path / "copy")
        for name, value in secrets.items():
            assert (lazy.backing / "data" / name).read_bytes() == value, name
        lazy.mount()
    print(f"{len(points)} cuts during a first start (of {len(ops)} changing operations), "
          f"at: {'; '.join(landed)}")


def bundle_use(bundles_dir: Path, name: str) -> int:
    done = subprocess.run([sys.executable, "-m", "kiosk", "bundle", "use", name,
                           "--bundles-dir", str(bundles_dir)], capture_output=True, text=True,
                          check=False, timeout=60)
    return done.returncode


async def test_power_cut_during_a_bundle_switch(lazy, tmp_path):
    """A cut at every changing operation of ``kiosk bundle use`` (and right after it
    returned): the pointer names the old bundle or the new one, the new one if the
    command said it switched; the kiosk starts and serves it; the shares stay."""
    lazy.unmount()
    bundles = lazy.backing / "bundles"
    for name in NAMES:
        make_variant(bundles, name)
    (bundles / "current").write_text("alpha\n")
    manifests = {n: read_manifest(bundles / n).files for n in NAMES}
    trace = tmp_path / "trace"
    lazy.mount(trace=trace)
    mnt_bundles = lazy.mountpoint / "bundles"
    args = kiosk_args(lazy.mountpoint, "--bundles-dir", str(mnt_bundles))
    kp = await asyncio.to_thread(start_kiosk, args)
    outcomes = []
    try:
        shares: dict[str, Share] = {}
        stop = asyncio.Event()
        writer = asyncio.create_task(pour(kp.url(), shares, stop, SEED))
        flowing = time.monotonic() + 30
        while len(shares) < 3 and not writer.done():
            assert time.monotonic() < flowing, "no share got through"
            await asyncio.sleep(0.05)
        stop.set()
        await writer
        assert len(shares) >= 3
        for share in shares.values():
            assert share.inflight is None
        # How many changing operations a switch makes, on an idle kiosk.
        before = len(trace.read_text().splitlines())
        assert await asyncio.to_thread(bundle_use, mnt_bundles, "beta") == 0
        switch_ops = [op for op in trace.read_text().splitlines()[before:]
                      if " /bundles/" in op or op.endswith(" /bundles")]
        await wait_serving(kp.url(), "beta", manifests)
        assert switch_ops, "bundle use changed nothing"
        for point in range(1, len(switch_ops) + 2):
            active = current_bundle(mnt_bundles).name
            target = "beta" if active == "alpha" else "alpha"
            if point <= len(switch_ops):
                lazy.cut_after(point, "/bundles")
            code = await asyncio.to_thread(bundle_use, mnt_bundles, target)
            await asyncio.to_thread(kill, kp)
            if point > len(switch_ops):
                assert code == 0
                lazy.cut()  # the cut comes after the command said it switched
            assert lazy.stats()["off"] == 1, f"the cut at operation {point} never came"
            lazy.unmount()
            pointer = (lazy.backing / "bundles" / "current").read_text().strip()
            assert pointer in NAMES, f"cut at operation {point}: current holds {pointer!r}"
            if code == 0:
                assert pointer == target, (
                    f"cut at operation {point}: 'bundle use {target}' succeeded, "
                    f"but after the cut {pointer} is active")
            outcomes.append(f"op {point}: exit {code}, {pointer} active")
            database_ok(lazy.backing / "data", tmp_path / "copy")
            lazy.mount(trace=trace)
            kp = await asyncio.to_thread(start_kiosk, args)
            await wait_serving(kp.url(), pointer, manifests)
            await check_shares(kp.url(), shares)
    finally:
        kp.stop()
    print(f"{len(outcomes)} cuts during 'kiosk bundle use' ({len(switch_ops)} changing "
          f"operations): {'; '.join(outcomes)}")
