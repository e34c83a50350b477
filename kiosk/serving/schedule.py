"""Class-start scheduling: the kiosk decides in what order the classroom link carries files.

When thirty students open JupyterLite at once, a static server shares the Wi-Fi fairly
and every student finishes near the end. The kiosk instead *paces* what it sends to a
rate just under the link's (``link_mbit``), so that the bottleneck queue stays in the
kiosk, and lets through, among the responses waiting to send, the one with the
smallest key

    (not app shell, arrival rank of the student, class of the file, order of the request)

Class 0 is the app shell (HTML, JupyterLab's build, extensions, configs), class 1 the
Python runtime (``pyodide.asm.wasm``, ``python_stdlib.zip``, ``pyodide.*js``, the
lock file), class 2 the package wheels. So everyone sees the notebook first; then
the rest goes student by student in the order they arrived, each one's runtime
before her wheels. (Sending everyone's runtime before anyone's wheels was measured
too: it delays every student's kernel, which needs wheels as well, and left the median
student of 30 at 0.66x nginx's median instead of 0.60x; see docs/performance.md.) A *student*
is a client address; its rank is the order in which the kiosk first saw it (renewed,
to the back of the line, after every :data:`RANK_BUDGET_BYTES` sent to it, so that an
early arrival who keeps downloading cannot hold the link), and it is forgotten (in
memory only) after :data:`FORGET_AFTER_S` without a request. One exception to
"shells first": a student who started on an idle link, :data:`HEAD_START_S` or
more before a newcomer, keeps :data:`HEAD_SHARE` of the link while the newcomer's
shell loads (:meth:`Pacer._choose`), as she would under a static server, where her
connections are up to speed and the newcomer's are not.

The pacer is a virtual clock: each grant of ``n`` bytes moves the earliest start of
the next grant by ``n / rate``; a short burst allowance lets an idle link start at
once. It counts link bytes: the payload with its TCP/IP and Ethernet framing
(:data:`WIRE_PER_PAYLOAD`) and each response's real head (:func:`head_bytes`; the
kiosk's security headers are about 1 kB), since counting less sent more than the
link carries and let the Wi-Fi's queue decide the order again. When only one
student is loading anything, grants are immediate (a lone student is never slowed
by pacing), but still counted, so that a newcomer's shell waits only for what is
really queued ahead of it. Large files go out with ``sendfile``, one granted chunk
at a time (:func:`send_paced`), and a connection takes its next chunk only when
the kernel holds less than its queue limit for it
(``TIOCOUTQ``): so what a lone student has queued when others arrive is small, and
the pacer's order is the order on the link. Chunk and queue limit are measured in
time, not bytes: about :data:`CHUNK_S` and :data:`QUEUE_S` at the rate this
connection has delivered since the transfer began (``TCP_INFO`` bytes acknowledged
over time, :class:`_RateMeter`), never below
:data:`CHUNK_BYTES` and :data:`SOCKET_QUEUE_BYTES`. On a classroom Wi-Fi that is
64 and 128 KiB; on a fast wired link, or a lone student on the kiosk's own machine,
the chunks grow so that pacing costs no speed there.

Everything here runs on the event loop and never blocks: a grant is a future woken
by one timer.
"""

from __future__ import annotations

import asyncio
import fcntl
import heapq
import itertools
import math
import socket
import struct
import termios
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

from aiohttp import web

SHELL, RUNTIME, WHEELS = 0, 1, 2

# Bytes of one sendfile chunk granted at a time, at least (about 10 ms at 50 Mbit/s).
CHUNK_BYTES = 64 * 1024
# A chunk holds about this many seconds of the connection's measured delivery rate ...
CHUNK_S = 0.01
# ... and never more than this.
MAX_CHUNK_BYTES = 4 * 1024 * 1024
# Bytes a response's status line and the headers added when it is sent (Date, Server)
# cost beyond the headers it already holds.
HEADER_EXTRA_BYTES = 96
# What a byte of TCP payload costs on the link: a full segment of 1448 bytes (MSS with
# timestamps) goes out as a 1514-byte Ethernet frame (the pacer counts link bytes).
WIRE_PER_PAYLOAD = 1514 / 1448
# The share of the configured link rate, in link bytes, the kiosk sends at ("just
# under" the link, so that the queue stays in the kiosk).
LINK_SHARE = 0.99
# An idle pacer may grant this many seconds' worth of bytes at once.
BURST_S = 0.02
# Bytes sent by a lone student without waiting count for at most this long of queue.
BACKLOG_S = 0.5
# A connection sends its next chunk only when the kernel holds less than this for it
# (unsent plus unacknowledged): what a lone student queues on the link stays small.
SOCKET_QUEUE_BYTES = 128 * 1024
# ... or than this many seconds at the connection's measured delivery rate, if more.
QUEUE_S = 0.02
# A connection over that limit looks again when the excess should have drained at its
# measured rate, but no sooner than this (and after QUEUE_POLL_S while the rate is
# unknown) ... (Each look is a timer on the event loop: with a hundred connections
# waiting, looking every 0.5 ms saturated the loop and spoiled the order.)
MIN_QUEUE_POLL_S = 0.0005
QUEUE_POLL_S = 0.002
# ... and no later than this.
MAX_QUEUE_POLL_S = 0.02
# A student sent this much more goes to the back of the line (a new rank): an early
# arrival who keeps downloading cannot hold the link against everyone after her.
RANK_BUDGET_BYTES = 64 * 1024 * 1024
# A student (client address) not seen for this long is forgotten: a new arrival next time.
FORGET_AFTER_S = 900.0
# A student who arrived at least this long before a newcomer ...
HEAD_START_S = 1.0
# ... keeps at least this share of the link against the newcomer's app shell.
HEAD_SHARE = 0.8

_RUNTIME_NAMES = ("pyodide.asm.wasm", "pyodide.asm.js", "pyodide.js", "pyodide.mjs",
                  "pyodide-lock.json", "python_stdlib.zip", "repodata.json")


def file_class(rel_path: str) -> int:
    """The scheduling class of a bundle file: SHELL, RUNTIME or WHEELS."""
    directory, _, name = rel_path.rpartition("/")
    if name in _RUNTIME_NAMES:
        return RUNTIME
    if name.endswith((".whl", ".tar", ".tar.gz", ".zip")):
        return WHEELS
    if directory.endswith("pyodide") and not name.endswith((".html", ".json")):
        # Shared libraries and other packages next to the runtime (openssl-*.zip, *.so).
        return WHEELS
    return SHELL


@dataclass(slots=True)
class _Student:
    rank: int
    last_seen: float
    arrived: float  # when the rank was given
    alone: bool  # she arrived while nobody else was loading
    active: int = 0
    sent: int = 0  # bytes granted since the rank was given


# A waiting grant: the transfer's key, a unique id, link bytes, the student, the waiter.
_Waiting = tuple[tuple[int, int, int, int], int, int, _Student, asyncio.Future[None]]


class Transfer:
    """One response's place in the pacer's queue; ask for each chunk with :meth:`permit`."""

    __slots__ = ("_pacer", "_student", "cls", "order")

    def __init__(self, pacer: Pacer, student: _Student, cls: int, order: int) -> None:
        self._pacer = pacer
        self._student = student
        self.cls = cls
        self.order = order

    @property
    def rank(self) -> int:
        return self._student.rank

    @property
    def key(self) -> tuple[int, int, int, int]:
        """Smallest first: everyone's shell, then student by student in order of arrival."""
        return (self.cls != SHELL, self._student.rank, self.cls, self.order)

    async def permit(self, nbytes: int) -> None:
        """Wait until these bytes may go out."""
        await self._pacer._permit(self, nbytes)

    def __enter__(self) -> Transfer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pacer._close(self._student)


class Pacer:
    """Sends at ``rate_bytes`` per second, in (class, student rank, request order) order.

    One per app; it needs no start or stop (timers are scheduled only while someone waits).
    """

    def __init__(self, rate_bytes: float) -> None:
        if rate_bytes <= 0:
            raise ValueError("the pacing rate must be positive")
        self.rate_bytes = rate_bytes
        self._students: dict[str, _Student] = {}
        self._ranks = itertools.count()
        self._orders = itertools.count()
        self._ids = itertools.count()
        self._active_students = 0
        self._shells: list[_Waiting] = []  # app-shell grants waiting
        self._rest: list[_Waiting] = []  # runtime and wheel grants waiting
        self._head_credit = 0.0  # link bytes newcomers' shells may still take from the head
        self._next = 0.0
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def for_link(cls, link_mbit: float) -> Pacer:
        """A pacer for a link of ``link_mbit`` Mbit/s, sending just under it."""
        return cls(link_mbit * 1e6 / 8 * LINK_SHARE)

    @property
    def students(self) -> int:
        """How many client addresses the pacer currently remembers."""
        return len(self._students)

    def open(self, client: str, rel_path: str) -> Transfer:
        """Start one response for ``client`` (its address) sending ``rel_path``."""
        now = asyncio.get_running_loop().time()
        student = self._students.get(client)
        if student is None:
            self._forget_idle(now)
            student = self._students[client] = _Student(
                next(self._ranks), now, now, alone=self._active_students == 0)
        student.last_seen = now
        if student.active == 0:
            self._active_students += 1
        student.active += 1
        return Transfer(self, student, file_class(rel_path), next(self._orders))

    def _close(self, student: _Student) -> None:
        student.active -= 1
        student.last_seen = asyncio.get_running_loop().time()
        if student.active == 0:
            self._active_students -= 1

    def _forget_idle(self, now: float) -> None:
        stale = [addr for addr, s in self._students.items()
                 if s.active == 0 and now - s.last_seen > FORGET_AFTER_S]
        for addr in stale:
            del self._students[addr]

    async def _permit(self, transfer: Transfer, payload: int) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        nbytes = math.ceil(payload * WIRE_PER_PAYLOAD)
        student = transfer._student
        student.sent += nbytes
        if student.sent > RANK_BUDGET_BYTES:
            student.rank, student.sent, student.arrived = next(self._ranks), 0, now
            student.alone = False
        if self._active_students <= 1 and not self._shells and not self._rest:
            # Nobody to order against: send now, but count it as queued on the link.
            start = max(self._next, now - BURST_S)
            self._next = min(start + nbytes / self.rate_bytes, now + BACKLOG_S)
            return
        future: asyncio.Future[None] = loop.create_future()
        queue = self._shells if transfer.cls == SHELL else self._rest
        heapq.heappush(queue, (transfer.key, next(self._ids), nbytes, student, future))
        self._dispatch()
        await future  # a cancelled waiter is skipped when it reaches the top

    def _dispatch(self) -> None:
        if self._timer is not None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        while True:
            for queue in (self._shells, self._rest):
                while queue and queue[0][-1].done():
                    heapq.heappop(queue)
            if not self._shells and not self._rest:
                return
            start = max(self._next, now - BURST_S)
            if start > now:
                self._timer = loop.call_at(start, self._wake)
                return
            _, _, nbytes, _, future = heapq.heappop(self._choose())
            self._next = start + nbytes / self.rate_bytes
            future.set_result(None)

    def _choose(self) -> list[_Waiting]:
        """The queue whose first grant goes next: shells first, but see below.

        A newcomer's app shell goes before the runtime and wheels of students who came
        before her, except that a *head* student (the first in line for the runtime and
        wheels) who started on an idle link, :data:`HEAD_START_S` or more before the
        newcomer, keeps :data:`HEAD_SHARE` of the link while both wait. On an idle link
        a static server lets the first student keep most of the link against newcomers
        (their connections start small, hers are up to speed); without this rule every
        newcomer's shell would hold her up. Students arriving together, or into a busy
        class, get every shell first.
        """
        if not self._rest:
            return self._shells
        if not self._shells:
            return self._rest
        _, _, shell_bytes, newcomer, _ = self._shells[0]
        _, _, head_grant, head, _ = self._rest[0]
        if not head.alone or head.arrived + HEAD_START_S > newcomer.arrived:
            return self._shells
        if self._head_credit >= shell_bytes:
            self._head_credit -= shell_bytes
            return self._shells
        self._head_credit += head_grant * (1 - HEAD_SHARE) / HEAD_SHARE
        return self._rest

    def _wake(self) -> None:
        self._timer = None
        self._dispatch()


async def send_paced(transport: asyncio.Transport, fobj: IO[bytes], offset: int, count: int,
                     transfer: Transfer, *, header_bytes: int = 0) -> None:
    """``loop.sendfile`` of a file slice, one chunk per grant of the pacer.

    ``header_bytes``: what the response's head cost (already sent), counted with the
    first chunk.
    """
    loop = asyncio.get_running_loop()
    sock = transport.get_extra_info("socket")
    fd = sock.fileno() if sock is not None else -1
    end = offset + count
    first = True
    meter = _RateMeter(sock)
    while offset < end:
        rate = meter.rate()
        chunk, queue_limit = chunk_limits(rate)
        size = min(chunk, end - offset)
        # The kernel signals no event for "queue below N bytes": look again when the
        # excess should have drained.
        while fd >= 0 and not transport.is_closing():
            excess = _queued(fd) - queue_limit
            if excess <= 0:
                break
            await asyncio.sleep(poll_interval(excess, rate))
        await transfer.permit(size + (header_bytes if first else 0))
        first = False
        if transport.is_closing():
            raise ConnectionResetError("connection lost")
        await loop.sendfile(transport, fobj, offset, size)
        offset += size


def poll_interval(excess: int, delivery_rate: float) -> float:
    """Seconds until a connection ``excess`` bytes over its queue limit looks again."""
    if delivery_rate <= 0:
        return QUEUE_POLL_S
    return min(MAX_QUEUE_POLL_S, max(MIN_QUEUE_POLL_S, excess / delivery_rate))


def chunk_limits(delivery_rate: float) -> tuple[int, int]:
    """(chunk bytes, socket queue limit) for a connection delivering this many bytes/s.

    An unknown rate (0: a new connection, or no ``TCP_INFO``) gets the minimums.
    """
    chunk = int(min(MAX_CHUNK_BYTES, max(CHUNK_BYTES, delivery_rate * CHUNK_S)))
    return chunk, max(SOCKET_QUEUE_BYTES, int(delivery_rate * QUEUE_S))


# struct tcp_info (linux/tcp.h): tcpi_bytes_acked is the u64 at this offset (Linux 4.1+).
_TCP_INFO_BYTES_ACKED = 120
_TCP_INFO_BYTES = 128


def _bytes_acked(sock: Any) -> int | None:
    """Bytes the peer has acknowledged on a TCP socket so far (None if unknown)."""
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_BYTES)
    except (OSError, AttributeError):
        return None
    if len(raw) < _TCP_INFO_BYTES:
        return None  # a kernel older than the field
    return int(struct.unpack_from("=Q", raw, _TCP_INFO_BYTES_ACKED)[0])


class _RateMeter:
    """A connection's delivery rate over one transfer: bytes acknowledged since it began,
    over the time since. An average over the whole transfer, not the kernel's latest
    sample (``tcpi_delivery_rate``), which right after an idle spell can read a
    gigabyte per second on a 20 Mbit/s link (a shaper's burst passing at once)."""

    __slots__ = ("_acked0", "_sock", "_t0")

    # Below this much time the average says nothing yet.
    MIN_S = 0.02

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._t0 = time.monotonic()
        self._acked0 = _bytes_acked(sock) if sock is not None else None

    def rate(self) -> float:
        """Bytes/s delivered since the transfer began (0 while unknown)."""
        if self._acked0 is None:
            return 0.0
        elapsed = time.monotonic() - self._t0
        acked = _bytes_acked(self._sock)
        if elapsed < self.MIN_S or acked is None:
            return 0.0
        return max(0, acked - self._acked0) / elapsed


def _queued(fd: int) -> int:
    """Bytes the kernel holds for a TCP socket: not yet sent or not yet acknowledged."""
    try:
        raw = fcntl.ioctl(fd, termios.TIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return 0
    return int(struct.unpack("i", raw)[0])


def head_bytes(headers: Mapping[str, str]) -> int:
    """Bytes of a response's head on the wire: status line and headers.

    The kiosk's headers are not small (a JavaScript file's Content-Security-Policy
    alone is about 1 kB, as much as a small file's body): the pacer counts them.
    """
    return HEADER_EXTRA_BYTES + sum(len(k) + len(v) + 4 for k, v in headers.items())


class PacedResponse(web.Response):
    """A response with its body in memory, sent when the pacer grants body and head.

    The grant is awaited in :meth:`prepare`, when the middlewares have added their
    headers, so that what is counted is what is sent.
    """

    def __init__(self, *, pacer: Pacer, rel_path: str, body: bytes, **kwargs: Any) -> None:
        super().__init__(body=body, **kwargs)
        self._pacer = pacer
        self._rel_path = rel_path
        self._body_bytes = len(body)

    async def prepare(self, request: web.BaseRequest) -> Any:
        if request.method != "HEAD" and not self.prepared:
            with self._pacer.open(request.remote or "", self._rel_path) as transfer:
                await transfer.permit(self._body_bytes + head_bytes(self.headers))
        return await super().prepare(request)


PACER = web.AppKey("pacer", Pacer)
