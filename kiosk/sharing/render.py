"""Notebook → safe HTML: nbconvert's exporter, then an allowlist sanitiser, cached.

Rendering runs on one worker thread (the exporter is reused, and is not shared
between threads); results are kept per (share id, version) in a bounded LRU, and
concurrent requests for the same version wait for a single render.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import re
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import bleach  # type: ignore[import-untyped]
from bs4 import BeautifulSoup

from kiosk.sharing.store import Share

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


class NotebookRenderer:
    """Renders notebooks on one thread and caches the result per (share id, version)."""

    def __init__(self, *, max_cache_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_cache_bytes = max_cache_bytes
        self._cache: OrderedDict[tuple[str, int], str] = OrderedDict()
        self._cache_bytes = 0
        self._latest: dict[str, int] = {}  # share id -> the version cached for it
        self._pending: dict[tuple[str, int], asyncio.Future[str]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._exporter: Any = None
        self._css: str | None = None
        self.renders = 0

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
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="share-render")
            body = await loop.run_in_executor(self._executor, self._render_sync, share.content)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters get it, nobody else must
            raise
        finally:
            del self._pending[key]
        future.set_result(body)
        self._store(key, body)
        return body

    async def css(self) -> str:
        """The syntax-highlighting style sheet (computed once, off the loop)."""
        if self._css is None:
            self._css = await asyncio.to_thread(_pygments_css)
        return self._css

    async def close(self) -> None:
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.to_thread(executor.shutdown, wait=True)

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

    def _render_sync(self, content: str) -> str:
        import nbformat
        from nbconvert import HTMLExporter
        from nbformat.v4.rwbase import rejoin_lines

        if self._exporter is None:
            self._exporter = HTMLExporter(  # type: ignore[no-untyped-call]
                template_name="basic", exclude_input_prompt=True, exclude_output_prompt=True)
        node = rejoin_lines(nbformat.from_dict(  # type: ignore[no-untyped-call]
            _prepare(json.loads(content))))
        body, _ = self._exporter.from_notebook_node(node)
        self.renders += 1
        return sanitize(body)


def _pygments_css() -> str:
    from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]

    return str(HtmlFormatter(style="default").get_style_defs(".highlight"))
