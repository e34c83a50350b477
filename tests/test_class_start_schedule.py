"""Class-start scheduling (kiosk/serving/schedule.py): who gets the link first.

The shaped test runs real kiosk processes in a network namespace, behind a veth pair
limited by ``tc tbf`` to 20 Mbit/s, and six simulated students (``bench/students.py``,
each from her own address, one arriving every 0.05 s) replaying a JupyterLite-shaped
request list: app shell, Python runtime, wheels. With scheduling the first student
has everything before the last one receives a byte of any wheel, and every student's
shell came before that. (The same kiosk without scheduling shares the link and the
last student's wheels usually start before the first is done, but not always: TCP
on a filled queue favours whoever started first, so that control is not asserted.)
Needs root (fails, never skips, when it cannot run). Order is checked, not speed:
speed is bench/class_start.py's job.

The pacer's own tests run on the event loop alone: they check the grant order and
the bookkeeping, not timings.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.class_start import SERVER_IP, classroom, run_students
from bench.servers import servers
from kiosk.bundle.active import set_current
from kiosk.bundle.manifest import Manifest, describe_files, write_manifest
from kiosk.serving import schedule
from kiosk.serving.schedule import RUNTIME, SHELL, WHEELS, Pacer, file_class

RATE_MBIT = 20.0
STUDENTS = 6
ARRIVAL_EVERY_S = 0.05


def test_file_classes() -> None:
    assert file_class("lab/index.html") == SHELL
    assert file_class("build/jlab_core.8f86ffc.js") == SHELL
    assert file_class("extensions/@jupyterlite/pyodide-kernel-extension/static/"
                      "pypi/all.json") == SHELL
    assert file_class("static/pyodide/pyodide.asm.wasm") == RUNTIME
    assert file_class("static/pyodide/python_stdlib.zip") == RUNTIME
    assert file_class("static/pyodide/pyodide-lock.json") == RUNTIME
    assert file_class("static/pyodide/pyodide.mjs") == RUNTIME
    assert file_class("static/pyodide/numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl") \
        == WHEELS
    assert file_class("static/pyodide/openssl-1.1.1w.zip") == WHEELS
    assert file_class("extensions/x/static/pypi/piplite-0.6.1-py3-none-any.whl") == WHEELS


async def _grant_order(pacer: Pacer, opens: list[tuple[str, str]]) -> list[int]:
    """Open transfers in this order, all wanting a grant at once; the order they get it."""
    order: list[int] = []
    # A lone first student is never held back: make the link busy with a third party.
    with pacer.open("192.0.2.250", "build/busy.js") as busy:
        await busy.permit(int(pacer.rate_bytes * (schedule.BURST_S + 0.05)))
        transfers = [pacer.open(client, path) for client, path in opens]

        async def wait(i: int) -> None:
            await transfers[i].permit(1000)
            order.append(i)

        await asyncio.gather(*[wait(i) for i in range(len(transfers))])
        for t in transfers:
            t.__exit__(None, None, None)
    return order


async def test_pacer_orders_shells_then_students_by_arrival() -> None:
    pacer = Pacer(1e6)
    # Student A arrives first (rank 0 after the third party), then B.
    with pacer.open("192.0.2.1", "lab/index.html"), pacer.open("192.0.2.2", "lab/index.html"):
        pass
    order = await _grant_order(pacer, [
        ("192.0.2.2", "static/pyodide/numpy.whl"),        # 0: B wheel
        ("192.0.2.1", "static/pyodide/pandas.whl"),       # 1: A wheel
        ("192.0.2.2", "static/pyodide/pyodide.asm.wasm"),  # 2: B runtime
        ("192.0.2.2", "build/chunk.js"),                  # 3: B shell
        ("192.0.2.1", "static/pyodide/pyodide.asm.wasm"),  # 4: A runtime
        ("192.0.2.1", "static/pyodide/numpy.whl"),        # 5: A wheel, asked later than 1
    ])
    # Every shell first; then A's runtime and wheels (in request order), then B's.
    assert order == [3, 4, 1, 5, 2, 0]


async def test_heavy_early_student_goes_to_the_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Arriving first is no licence to keep the link: past its budget a student's rank
    is renewed behind everyone who arrived meanwhile."""
    monkeypatch.setattr(schedule, "RANK_BUDGET_BYTES", 10_000)
    pacer = Pacer(1e6)
    with pacer.open("192.0.2.1", "a.whl") as a, pacer.open("192.0.2.2", "b.whl") as b:
        assert a.rank < b.rank
        await a.permit(20_000)  # over the budget
        assert a.rank > b.rank
        later = pacer.open("192.0.2.1", "c.whl")
        assert later.key > b.key
        later.__exit__(None, None, None)


async def test_pacer_paces_to_its_rate() -> None:
    pacer = Pacer(200_000)  # 200 kB/s: 10 grants of 10 kB take about 0.5 s, not 0
    loop = asyncio.get_running_loop()
    with pacer.open("192.0.2.1", "a.whl") as a, pacer.open("192.0.2.2", "b.whl") as b:
        start = loop.time()
        await asyncio.gather(*[t.permit(10_000) for t in (a, b) * 5])
        elapsed = loop.time() - start
    # The burst allowance lets BURST_S worth go at once; the last grant starts when the
    # clock has counted the other 90 kB.
    assert elapsed >= (90_000 / 200_000) - schedule.BURST_S - 0.01


async def test_lone_student_is_not_held_back() -> None:
    pacer = Pacer(1000)  # 1 kB/s: pacing 1 MB would take 1000 s
    with pacer.open("192.0.2.1", "static/pyodide/numpy.whl") as t:
        await asyncio.wait_for(asyncio.gather(*[t.permit(100_000) for _ in range(10)]), 5)


async def test_cancelled_waiter_does_not_block_the_queue() -> None:
    pacer = Pacer(100_000)
    with pacer.open("192.0.2.1", "a.js") as a, pacer.open("192.0.2.2", "b.whl") as b:
        await a.permit(50_000)  # the link is now busy for a while
        first = asyncio.ensure_future(a.permit(1000))
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.wait_for(b.permit(1000), 5)


async def test_idle_students_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schedule, "FORGET_AFTER_S", 0.0)
    pacer = Pacer(1e6)
    with pacer.open("192.0.2.1", "a.js"):
        pass
    await asyncio.sleep(0.01)
    with pacer.open("192.0.2.2", "a.js"):
        assert pacer.students == 1  # 192.0.2.1 is gone; 192.0.2.2 is busy, so it stays
    assert pacer.students == 1


def test_chunk_limits_scale_with_the_measured_rate() -> None:
    # Unknown rate or a classroom Wi-Fi (50 Mbit/s: 6.25 MB/s): the minimums.
    assert schedule.chunk_limits(0.0) == (schedule.CHUNK_BYTES, schedule.SOCKET_QUEUE_BYTES)
    assert schedule.chunk_limits(6.25e6) == (schedule.CHUNK_BYTES, schedule.SOCKET_QUEUE_BYTES)
    # A gigabit link: 10 ms and 20 ms of it.
    assert schedule.chunk_limits(125e6) == (1_250_000, 2_500_000)
    # Loopback: the chunk is capped, the queue limit follows the rate.
    chunk, queue = schedule.chunk_limits(16e9)
    assert chunk == schedule.MAX_CHUNK_BYTES and queue == 320_000_000


async def test_a_fast_connection_gets_large_chunks(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Over loopback a connection delivers gigabytes per second: after the first chunks,
    send_paced sends megabytes per sendfile call instead of 64 KiB (a lone student on
    a fast link is not slowed by the chunking), and every byte arrives in order."""
    data = os.urandom(24 * 1024 * 1024)
    (tmp_path / "big.whl").write_bytes(data)
    received = bytearray()
    done = asyncio.Event()

    class Sink(asyncio.Protocol):
        def data_received(self, chunk: bytes) -> None:
            received.extend(chunk)
            if len(received) >= len(data):
                done.set()

    loop = asyncio.get_running_loop()
    server = await loop.create_server(Sink, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    sizes: list[int] = []
    real_sendfile = loop.sendfile

    async def counting_sendfile(tr: asyncio.WriteTransport, f: object, offset: int,
                                count: int) -> int:
        sizes.append(count)
        return await real_sendfile(tr, f, offset, count)  # type: ignore[arg-type]

    monkeypatch.setattr(loop, "sendfile", counting_sendfile)
    pacer = Pacer(1e12)
    try:
        with (tmp_path / "big.whl").open("rb") as fobj, \
                pacer.open("127.0.0.1", "static/pyodide/big.whl") as transfer:
            await schedule.send_paced(transport, fobj, 0, len(data), transfer)
        await asyncio.wait_for(done.wait(), 30)
    finally:
        transport.close()
        server.close()
        await server.wait_closed()
    assert bytes(received) == data
    assert sum(sizes) == len(data)
    assert max(sizes) > schedule.CHUNK_BYTES, sizes[:20]
    # 24 MiB in 64 KiB chunks would be 384 calls.
    assert len(sizes) < 384 / 2, len(sizes)


# --- the shaped run ---------------------------------------------------------------------

SHELL_FILES = [f"build/{i}.0123abc{i}.js" for i in range(8)]
RUNTIME_FILES = ["static/pyodide/pyodide.asm.wasm", "static/pyodide/python_stdlib.zip"]
WHEEL_FILES = [f"static/pyodide/pkg{i}-1.0-py3-none-any.whl" for i in range(10)]


def _class_bundle(bundles_dir: Path) -> Path:
    """A bundle shaped like JupyterLite's cold start: 320 kB shell, 600 kB runtime,
    6 MB of wheels (random bytes: nothing compresses)."""
    root = bundles_dir / "class-1"
    sizes = {"lab/index.html": None, **{p: 40_000 for p in SHELL_FILES},
             RUNTIME_FILES[0]: 400_000, RUNTIME_FILES[1]: 200_000,
             **{p: 600_000 for p in WHEEL_FILES}}
    for rel, size in sizes.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if size is None:
            path.write_text("<!doctype html><html><head><title>Lab</title></head>"
                            "<body></body></html>")
        else:
            path.write_bytes(os.urandom(size))
    write_manifest(root, Manifest(profile="class", built_at="2026-12-05T00:00:00Z",
                                  versions={}, files=describe_files(root)))
    set_current(bundles_dir, root.name)
    return root


def _request_list(path: Path) -> Path:
    paths = ["lab/index.html", *SHELL_FILES, *RUNTIME_FILES, *WHEEL_FILES]
    path.write_text(json.dumps({"requests": [
        {"path": "/" + p, "accept_encoding": "gzip, deflate"} for p in paths]}))
    return path


def _require_root_tools() -> None:
    missing = [t for t in ("ip", "tc") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"the class-start test needs {', '.join(missing)} (apt-get install "
                    "iproute2)")
    if os.geteuid() != 0:
        pytest.fail("the class-start test needs root (network namespaces, tc); CI runs it "
                    "as root; run it with sudo or deselect with -m 'not netns'")
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                           check=False)
    if probe.returncode != 0:
        pytest.fail(f"'ip netns' is unusable here: {probe.stderr.strip()}")


def _run_class(bundle: Path, requests: Path, link_mbit: float) -> list[dict[str, object]]:
    name = "kiosk-sched" if link_mbit > 0 else "kiosk"
    with (classroom(RATE_MBIT, STUDENTS) as (srv, cli),
          servers(bundle, host=SERVER_IP, prefix=["ip", "netns", "exec", srv],
                  only=[name], link_mbit=link_mbit) as running):
        base = f"http://{SERVER_IP}:{running[name].port}"
        result = run_students(cli, base, requests, STUDENTS, 60, every_s=ARRIVAL_EVERY_S)
    assert result["errors"] == 0, result
    students: list[dict[str, object]] = result["per_student"]
    assert [s["source_ip"] for s in students] == [f"10.200.7.{10 + i}"
                                                   for i in range(STUDENTS)]
    return students


@pytest.mark.netns
@pytest.mark.slow
def test_first_student_done_before_last_starts_her_wheels(tmp_path: Path) -> None:
    _require_root_tools()
    bundle = _class_bundle(tmp_path / "bundles")
    requests = _request_list(tmp_path / "requests.json")

    scheduled = _run_class(bundle, requests, RATE_MBIT)
    first, last = scheduled[0], scheduled[-1]
    assert isinstance(first["done_s"], float) and isinstance(last["first_wheel_byte_s"], float)
    assert first["done_s"] < last["first_wheel_byte_s"], scheduled
    # Everyone's shell came before anyone's wheels had all gone out.
    shells = [s["shell_done_s"] for s in scheduled]
    assert all(isinstance(t, float) and t < first["done_s"] for t in shells), scheduled



_CHUNK_SENDER = r"""
import asyncio, json, sys, tempfile
from kiosk.serving import schedule

async def main() -> None:
    sizes = []
    loop = asyncio.get_running_loop()
    real = loop.sendfile

    async def counting(tr, f, offset, count):
        sizes.append(count)
        return await real(tr, f, offset, count)

    loop.sendfile = counting
    done = asyncio.Event()

    async def serve(reader, writer):
        with tempfile.TemporaryFile() as f:
            f.write(b"x" * 3_000_000)
            f.flush()
            pacer = schedule.Pacer(1e12)
            with pacer.open("peer", "static/pyodide/big.whl") as transfer:
                await schedule.send_paced(writer.transport, f, 0, 3_000_000, transfer)
        writer.close()
        done.set()

    server = await asyncio.start_server(serve, sys.argv[1], 9556)
    print("ready", flush=True)
    await asyncio.wait_for(done.wait(), 60)
    server.close()
    print(json.dumps(sizes), flush=True)

asyncio.run(main())
"""

_CHUNK_RECEIVER = (
    "import socket, time\n"
    "for _ in range(100):\n"
    "    try:\n"
    "        c = socket.create_connection((%r, 9556)); break\n"
    "    except OSError: time.sleep(0.1)\n"
    "while c.recv(1 << 20): pass\n")


@pytest.mark.netns
def test_chunks_on_a_shaped_link_stay_small() -> None:
    """On a 20 Mbit/s link, 10 ms of the connection's rate is less than the minimum
    chunk: every chunk is the minimum, even at the start, when the kernel's latest
    delivery-rate sample reads far above the link (the shaper's burst passes at once)."""
    _require_root_tools()
    with classroom(RATE_MBIT, 1) as (srv, cli):
        sender = subprocess.Popen(
            ["ip", "netns", "exec", srv, sys.executable, "-c", _CHUNK_SENDER, SERVER_IP],
            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
        try:
            assert sender.stdout is not None and sender.stdout.readline().strip() == "ready"
            subprocess.run(["ip", "netns", "exec", cli, sys.executable, "-c",
                            _CHUNK_RECEIVER % SERVER_IP], check=True, timeout=60)
            out, _ = sender.communicate(timeout=60)
        finally:
            sender.kill()
    sizes = json.loads(out.strip().splitlines()[-1])
    assert sum(sizes) == 3_000_000
    assert max(sizes) == schedule.CHUNK_BYTES, sizes


def test_a_full_socket_looks_again_when_its_excess_has_drained() -> None:
    # Unknown rate: the default interval.
    assert schedule.poll_interval(64_000, 0.0) == schedule.QUEUE_POLL_S
    # 64 kB over at 2.5 MB/s (20 Mbit/s): 25.6 ms to drain, capped at the maximum.
    assert schedule.poll_interval(64_000, 2.5e6) == schedule.MAX_QUEUE_POLL_S
    # 10 kB over at 2.5 MB/s: 4 ms; on loopback: the minimum, never a busy loop.
    assert schedule.poll_interval(10_000, 2.5e6) == pytest.approx(0.004)
    assert schedule.poll_interval(10_000, 16e9) == schedule.MIN_QUEUE_POLL_S


async def test_the_pacer_counts_what_goes_on_the_wire(monkeypatch: pytest.MonkeyPatch) -> None:
    """An in-memory body is granted with the head the middlewares gave it (a JavaScript
    file's Content-Security-Policy is about 1 kB, as much as a small chunk's body), and
    the pacer counts link bytes: TCP/IP and Ethernet framing on top of the payload."""
    from aiohttp import ClientSession, web

    granted: list[int] = []
    real_permit = schedule.Pacer._permit

    async def recording(self: Pacer, transfer: schedule.Transfer, payload: int) -> None:
        granted.append(payload)
        await real_permit(self, transfer, payload)

    monkeypatch.setattr(schedule.Pacer, "_permit", recording)
    pacer = Pacer(1e9)
    big = "x" * 1000

    @web.middleware
    async def add_policy(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        response.headers["Content-Security-Policy"] = big
        return response

    async def handler(request: web.Request) -> web.StreamResponse:
        return schedule.PacedResponse(pacer=pacer, rel_path="build/a.js", body=b"y" * 2000)

    app = web.Application(middlewares=[add_policy])
    app.router.add_get("/a.js", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with ClientSession() as session, \
                session.get(f"http://127.0.0.1:{port}/a.js") as resp:
            assert await resp.read() == b"y" * 2000
            assert resp.headers["Content-Security-Policy"] == big
    finally:
        await runner.cleanup()
    assert len(granted) == 1
    assert granted[0] >= 2000 + len("Content-Security-Policy") + len(big)
    assert schedule.WIRE_PER_PAYLOAD > 1.04  # 1514 link bytes per 1448 of payload


async def _head_against_shell(pacer: Pacer, busy: schedule.Transfer,
                              head: schedule.Transfer, shell: schedule.Transfer,
                              heads: int) -> list[str]:
    """With the link made busy, ``heads`` wheel grants of the head student and four of
    the newcomer's shell all wait at once: the order they are granted in."""
    await busy.permit(int(pacer.rate_bytes * (schedule.BURST_S + 0.05)))
    order: list[str] = []

    async def wait(t: schedule.Transfer, name: str) -> None:
        await t.permit(1000)
        order.append(name)

    await asyncio.gather(*[wait(head, "head") for _ in range(heads)],
                         *[wait(shell, "shell") for _ in range(4)])
    return order


async def test_a_student_who_came_first_keeps_most_of_the_link(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A newcomer's shell goes before earlier students' wheels, but a student who was
    loading well before the newcomer came keeps HEAD_SHARE of the link meanwhile."""
    monkeypatch.setattr(schedule, "HEAD_START_S", 0.05)
    pacer = Pacer(1e6)
    with pacer.open("192.0.2.1", "static/pyodide/numpy.whl") as head:  # on an idle link
        await asyncio.sleep(0.06)  # the newcomers come later
        with pacer.open("192.0.2.250", "build/busy.js") as busy, \
                pacer.open("192.0.2.2", "build/chunk.js") as shell:
            order = await _head_against_shell(pacer, busy, head, shell, heads=20)
    assert order.count("shell") == 4
    # The head kept about 80 % of the grants: a shell after every four or five of
    # hers, never two shells in a row (without the rule: all four shells first).
    assert order[0] == "head", order
    assert 2 <= order[:15].count("shell") <= 3, order
    assert all(order[i:i + 2] != ["shell", "shell"] for i in range(len(order) - 1)), order


async def test_a_student_who_came_into_a_busy_class_gets_no_head_share(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a student who started on an idle link keeps the head share: one who came
    while others were loading lets every later shell go first."""
    monkeypatch.setattr(schedule, "HEAD_START_S", 0.05)
    pacer = Pacer(1e6)
    with pacer.open("192.0.2.250", "build/busy.js") as busy, \
            pacer.open("192.0.2.1", "static/pyodide/numpy.whl") as head:
        await asyncio.sleep(0.06)
        with pacer.open("192.0.2.2", "build/chunk.js") as shell:
            order = await _head_against_shell(pacer, busy, head, shell, heads=5)
    assert order == ["shell"] * 4 + ["head"] * 5


async def test_students_arriving_together_get_every_shell_first() -> None:
    pacer = Pacer(1e6)
    with pacer.open("192.0.2.250", "build/busy.js") as busy, \
            pacer.open("192.0.2.1", "static/pyodide/numpy.whl") as head, \
            pacer.open("192.0.2.2", "build/chunk.js") as shell:
        order = await _head_against_shell(pacer, busy, head, shell, heads=5)
    assert order == ["shell"] * 4 + ["head"] * 5
