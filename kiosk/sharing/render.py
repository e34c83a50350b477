"""Notebook → safe HTML: nbconvert's exporter, then an allowlist sanitiser, cached.

Rendering runs in worker processes (:mod:`kiosk.sharing.render_worker`), one lane for
small notebooks and one for the rest, each render with a time limit after which its
worker is killed; a notebook with too many cells, or whose render fails or overruns,
gets a plain-text page instead. Results are kept per (share id, version) in a bounded
LRU, and concurrent requests for the same version wait for a single render.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import functools
import html
import json
import logging
import re
import sys
from collections import OrderedDict
from typing import Any

import bleach  # type: ignore[import-untyped]
from bs4 import BeautifulSoup

from kiosk.sharing.store import Share

_LOGGER = logging.getLogger(__name__)

# Elements removed together with everything inside them.
_DROP_WITH_CONTENT = ("script", "style", "iframe", "frame", "frameset", "object", "embed",
                      "applet", "noscript", "template", "svg", "math", "form", "link", "meta",
                      "base", "head", "title", "textarea", "select", "button", "input")

_ALLOWED_TAGS = frozenset((
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code",
    "col", "colgroup", "dd", "del", "details", "div", "dl", "dt", "em", "figcaption", "figure",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p",
    "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "u", "ul", "var",
))

_GLOBAL_ATTRS = frozenset({"class", "id", "title", "lang", "dir"})
_TAG_ATTRS = {
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "ol": {"start"},
    "col": {"span"},
    "colgroup": {"span"},
}
_IMAGE_DATA = re.compile(r"data:image/(png|jpeg|gif|webp|svg\+xml);base64,", re.IGNORECASE)
_SAFE_URL = re.compile(r"(https?:|mailto:|#|/|\./|\.\./|[^:/?#]*([/?#]|$))", re.IGNORECASE)


def _allow_attribute(tag: str, name: str, value: str) -> bool:
    if name in _GLOBAL_ATTRS or name in _TAG_ATTRS.get(tag, ()):
        if tag == "img" and name == "src":
            return bool(_IMAGE_DATA.match(value)) or not value.lower().startswith("data:")
        if tag == "a" and name == "href":
            return bool(_SAFE_URL.match(value.strip()))
        return True
    return False


_CLEANER = bleach.Cleaner(
    tags=_ALLOWED_TAGS, attributes=_allow_attribute,
    protocols=frozenset({"http", "https", "mailto", "data"}), strip=True,
    strip_comments=True,
)


def sanitize(fragment: str) -> str:
    """Make exporter output safe to show: no script, no handlers, no frames; images stay."""
    soup = BeautifulSoup(fragment, "html.parser")
    for element in soup.find_all(_DROP_WITH_CONTENT):
        element.decompose()
    return str(_CLEANER.clean(str(soup)))


def _prepare(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of the notebook ready to export: SVG outputs become <img>, JS dropped."""
    nb = copy.deepcopy(data)
    metadata = nb.setdefault("metadata", {})
    info = metadata.get("language_info")
    if not isinstance(info, dict):
        info = metadata["language_info"] = {"name": "python"}
    # The IPython lexer needs IPython, which the kiosk does not ship; Python is close.
    if str(info.get("pygments_lexer", "ipython3")).startswith("ipython"):
        info["pygments_lexer"] = "python3"
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) if isinstance(cell, dict) else []:
            bundle = output.get("data") if isinstance(output, dict) else None
            if not isinstance(bundle, dict):
                continue
            for key in [k for k in bundle if "javascript" in k or "widget" in k]:
                del bundle[key]
            svg = bundle.pop("image/svg+xml", None)  # may still be a list of lines
            if svg is not None:
                text = "".join(svg) if isinstance(svg, list) else str(svg)
                encoded = base64.b64encode(text.encode()).decode()
                bundle.setdefault("text/html",
                                  f'<img alt="" src="data:image/svg+xml;base64,{encoded}">')
    return nb


@functools.cache
def _exporter() -> Any:
    from nbconvert import HTMLExporter

    return HTMLExporter(  # type: ignore[no-untyped-call]
        template_name="basic", exclude_input_prompt=True, exclude_output_prompt=True)


def render_html(content: str) -> str:
    """Notebook JSON text → sanitized HTML (blocking, slow: run in a render worker)."""
    import nbformat
    from nbformat.v4.rwbase import rejoin_lines

    node = rejoin_lines(nbformat.from_dict(  # type: ignore[no-untyped-call]
        _prepare(json.loads(content))))
    body, _ = _exporter().from_notebook_node(node)
    return sanitize(body)

#: Notebooks at most this large (and with at most SMALL_CELLS cells) render in their own
#: lane, so a large hostile notebook never delays a classmate's small share page.
SMALL_BYTES = 256 * 1024
SMALL_CELLS = 300
#: A small notebook that takes longer than this to render is hostile: its lane must stay
#: quick for everyone else.
SMALL_TIMEOUT = 3.0
#: Outputs a rendered notebook may have, per allowed cell.
OUTPUTS_PER_CELL = 4
#: Plain pages show at most this many cells and this much text of each.
PLAIN_MAX_CELLS = 2000
PLAIN_MAX_CHARS = 20_000


def _source_text(value: Any) -> str:
    return "".join(str(v) for v in value) if isinstance(value, list) else str(value or "")


def plain_html(content: str, reason: str) -> str:
    """A cheap, safe page body: every cell's source (and text outputs) as escaped text.

    Used when a notebook is too big to render or its render failed or took too long;
    it costs one pass over the text, whatever the notebook holds.
    """
    try:
        data = json.loads(content)
        cells = data.get("cells", []) if isinstance(data, dict) else []
    except (ValueError, RecursionError):
        cells = []
    if not isinstance(cells, list):
        cells = []
    parts = [f'<p class="plain-note">{html.escape(reason)} It is shown as plain text.</p>']
    for cell in cells[:PLAIN_MAX_CELLS]:
        if not isinstance(cell, dict):
            continue
        source = _source_text(cell.get("source"))[:PLAIN_MAX_CHARS]
        parts.append(f'<div class="cell"><pre>{html.escape(source)}</pre>')
        for output in cell.get("outputs", [])[:20] if isinstance(cell.get("outputs"), list) \
                else []:
            if not isinstance(output, dict):
                continue
            text = output.get("text")
            bundle = output.get("data")
            if text is None and isinstance(bundle, dict):
                text = bundle.get("text/plain")
            if text is not None:
                shown = _source_text(text)[:PLAIN_MAX_CHARS]
                parts.append(f"<pre>{html.escape(shown)}</pre>")
        parts.append("</div>")
    if len(cells) > PLAIN_MAX_CELLS:
        parts.append(f"<p>{len(cells) - PLAIN_MAX_CELLS} more cells are not shown.</p>")
    return "\n".join(parts)


def _cell_count(content: str) -> int:
    # Cheap and enough for a limit: every cell has exactly one "cell_type" key.
    return content.count('"cell_type"')


class _Worker:
    """One render worker process (see :mod:`kiosk.sharing.render_worker`)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls) -> _Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kiosk.sharing.render_worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        worker = cls(proc)
        await worker._read()  # {"ready": true}: the imports are done
        return worker

    async def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        head = await self.proc.stdout.readexactly(8)
        data = await self.proc.stdout.readexactly(int.from_bytes(head, "big"))
        answer: dict[str, Any] = json.loads(data)
        return answer

    async def render(self, content: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        data = content.encode("utf-8")
        self.proc.stdin.write(len(data).to_bytes(8, "big") + data)
        await self.proc.stdin.drain()
        return await self._read()

    async def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        await self.proc.wait()


class _Lane:
    """Worker processes for one class of notebooks; a render that overruns is killed."""

    def __init__(self, size: int) -> None:
        self._idle: list[_Worker] = []
        self._slots = asyncio.Semaphore(size)
        self._warming: asyncio.Future[_Worker] | None = None

    def warm(self) -> None:
        """Start a worker in the background, for the next render."""
        if not self._idle and self._warming is None:
            self._warming = asyncio.ensure_future(_Worker.start())

    async def _take(self) -> _Worker:
        if self._idle:
            return self._idle.pop()
        warming, self._warming = self._warming, None
        if warming is not None:
            with contextlib.suppress(OSError, EOFError, ValueError):
                return await warming
        return await _Worker.start()

    async def render(self, content: str, limit_s: float) -> dict[str, Any]:
        async with self._slots:
            worker: _Worker | None = None
            try:
                worker = await self._take()
                answer = await asyncio.wait_for(worker.render(content), limit_s)
            except BaseException:
                if worker is not None:
                    await asyncio.shield(worker.kill())
                raise
            self._idle.append(worker)
            return answer

    async def close(self) -> None:
        warming, self._warming = self._warming, None
        if warming is not None:
            with contextlib.suppress(Exception):
                self._idle.append(await warming)
        idle, self._idle = self._idle, []
        for worker in idle:
            await worker.kill()


class NotebookRenderer:
    """Renders notebooks in worker processes and caches the result per (share id, version).

    Bounded per notebook: more than ``max_cells`` cells, or a render that fails or takes
    longer than ``timeout`` seconds (its worker is killed), gives the plain page of
    :func:`plain_html` instead. Small notebooks have a lane of their own.
    """

    def __init__(self, *, max_cache_bytes: int = 32 * 1024 * 1024, max_cells: int = 1000,
                 timeout: float = 10.0) -> None:
        self.max_cache_bytes = max_cache_bytes
        self.max_cells = max_cells
        self.timeout = timeout
        self._cache: OrderedDict[tuple[str, int], str] = OrderedDict()
        self._cache_bytes = 0
        self._latest: dict[str, int] = {}  # share id -> the version cached for it
        self._pending: dict[tuple[str, int], asyncio.Future[str]] = {}
        self._small = _Lane(1)
        self._large = _Lane(1)
        self._css: str | None = None
        self.renders = 0
        self.fallbacks = 0

    async def render(self, share: Share) -> str:
        """The sanitized HTML body of ``share``'s current version."""
        key = (share.id, share.version)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        pending = self._pending.get(key)
        if pending is not None:  # someone is rendering it already: wait for that
            return await asyncio.shield(pending)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        self._pending[key] = future
        try:
            body = await self._render(share.content)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters get it, nobody else must
            raise
        finally:
            del self._pending[key]
        future.set_result(body)
        self._store(key, body)
        return body

    async def _render(self, content: str) -> str:
        cells = _cell_count(content)
        if cells > self.max_cells:
            return await self._plain(content, f"This notebook has {cells} cells, more than "
                                     f"the {self.max_cells} a share page renders.")
        outputs = content.count('"output_type"')
        if outputs > OUTPUTS_PER_CELL * self.max_cells:
            return await self._plain(content, f"This notebook has {outputs} outputs, more "
                                     "than a share page renders.")
        small = len(content) <= SMALL_BYTES and cells <= SMALL_CELLS
        lane = self._small if small else self._large
        limit_s = min(self.timeout, SMALL_TIMEOUT) if small else self.timeout
        try:
            answer = await lane.render(content, limit_s)
        except TimeoutError:
            _LOGGER.warning("a share page took over %.0f s to render; showing it as text",
                            self.timeout)
            return await self._plain(content, "This notebook took too long to render.")
        except (OSError, EOFError, asyncio.IncompleteReadError, ValueError) as exc:
            _LOGGER.warning("a share page's render worker failed: %s", exc)
            return await self._plain(content, "This notebook could not be rendered.")
        if "html" not in answer:
            return await self._plain(content, "This notebook could not be rendered.")
        self.renders += 1
        return str(answer["html"])

    async def _plain(self, content: str, reason: str) -> str:
        self.fallbacks += 1
        return await asyncio.to_thread(plain_html, content, reason)

    async def css(self) -> str:
        """The syntax-highlighting style sheet (computed once, off the loop)."""
        if self._css is None:
            self._css = await asyncio.to_thread(_pygments_css)
        return self._css

    def warm(self) -> None:
        """Start the small lane's worker now (call on the event loop, at start)."""
        self._small.warm()

    async def close(self) -> None:
        await self._small.close()
        await self._large.close()

    def _store(self, key: tuple[str, int], body: str) -> None:
        # A share page always shows the share's current version, so a superseded version
        # is never asked for again: keep one entry per share (without this, a class's
        # autosaves fill the whole budget with dead versions; docs/performance.md, soak).
        share_id, version = key
        latest = self._latest.get(share_id)
        if latest is not None and latest > version:
            return  # an older version rendered late, after a newer one was cached
        if latest is not None:
            self._cache_bytes -= len(self._cache.pop((share_id, latest), ""))
        self._latest[share_id] = version
        self._cache[key] = body
        self._cache_bytes += len(body)
        while self._cache_bytes > self.max_cache_bytes and len(self._cache) > 1:
            (old_id, _), old = self._cache.popitem(last=False)
            self._cache_bytes -= len(old)
            del self._latest[old_id]


def _pygments_css() -> str:
    from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]

    return str(HtmlFormatter(style="default").get_style_defs(".highlight"))
