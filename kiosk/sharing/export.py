"""End of term: every share as one zip of ``.ipynb`` files, named by title and student.

A notebook's title is its first Markdown heading (``# Rainfall in May``), else its file
name without ``.ipynb``. Each entry of the zip is called ``<title>.ipynb`` or, when the
student typed a name in the Share dialog, ``<title> - <name>.ipynb``. Names are made
safe for every file system a teacher may unzip on (no folders, no ``..``, none of
``<>:"/\\|?*``, no control characters, no Windows device names, at most
:data:`NAME_MAX` characters) and numbered when two are the same (``Title (2).ipynb``,
compared case-insensitively, as macOS and Windows do). Nothing in a name can leave
the folder the zip is unpacked into.

:func:`export_shares` streams the zip: it reads one share at a time from the store,
compresses it in a thread (never on the event loop) and hands the bytes produced so
far to an async ``write`` callback, so a class of notebooks never sits in memory at
once. It returns what it exported, so that the caller may then delete exactly those
shares (:func:`delete_exported`), never one saved or changed after the export.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import re
import unicodedata
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kiosk.sharing.store import Share, ShareStore, ShareSummary

#: longest entry name, without the ``.ipynb`` and the `` (n)`` of a duplicate
NAME_MAX = 100
#: longest title taken from a heading
TITLE_MAX = 80
_PAGE = 200
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]+')
_MARKUP = re.compile(r"[*_`]+|<[^>]{0,200}>")
_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
            *(f"lpt{i}" for i in range(10))}


def _cell_source(cell: Any) -> str:
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(source, list):
        return "".join(part for part in source if isinstance(part, str))
    return source if isinstance(source, str) else ""


def heading_of(notebook: Any) -> str | None:
    """The text of the first Markdown heading of a notebook (parsed JSON), or None."""
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return None
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "markdown":
            continue
        for line in _cell_source(cell).splitlines():
            match = _HEADING.match(line)
            if match:
                text = " ".join(_MARKUP.sub("", match.group(1)).split())
                if text:
                    return text[:TITLE_MAX].rstrip()
    return None


def _stem(file_name: str | None) -> str | None:
    if not file_name:
        return None
    base = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    if base.lower().endswith(".ipynb"):
        base = base[:-6]
    return base.strip() or None


def notebook_title(content: str, file_name: str | None, fallback: str = "notebook") -> str:
    """The title shown and exported: first heading, else file name, else ``fallback``.

    Blocking (parses JSON that may be megabytes): call it in a thread.
    """
    try:
        heading = heading_of(json.loads(content))
    except ValueError:
        heading = None
    return heading or _stem(file_name) or fallback


def student_name(share: Share | ShareSummary) -> str | None:
    """The name the student typed in the Share dialog, when the store keeps one."""
    value = getattr(share, "student_name", None)
    return (value.strip() or None) if isinstance(value, str) else None


def safe_name(text: str, *, limit: int = NAME_MAX) -> str:
    """``text`` as one file name that is valid everywhere and names no folder."""
    text = unicodedata.normalize("NFC", text)
    text = _UNSAFE.sub(" ", text)
    text = " ".join(text.split())
    text = text.strip(" .")[:limit].rstrip(" .")
    if not text:
        return "notebook"
    if text.split(".", 1)[0].lower() in _DEVICES:
        text = "_" + text
    return text


class EntryNames:
    """Gives each notebook a distinct, safe ``.ipynb`` name in the zip."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def name(self, title: str, student: str | None = None) -> str:
        base = safe_name(title, limit=NAME_MAX // 2 if student else NAME_MAX)
        if student:
            base = safe_name(f"{base} - {safe_name(student, limit=NAME_MAX // 2)}")
        candidate, number = f"{base}.ipynb", 1
        while candidate.casefold() in self._taken:
            number += 1
            candidate = f"{base} ({number}).ipynb"
        self._taken.add(candidate.casefold())
        return candidate


class _Sink(io.RawIOBase):
    """A write-only, unseekable file that collects what ``zipfile`` writes into it."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        return len(chunk)

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


class ZipWriter:
    """A zip written piece by piece; each call returns the bytes it produced (blocking)."""

    def __init__(self) -> None:
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, "w", compression=zipfile.ZIP_DEFLATED,
                                    compresslevel=6)
        self.names = EntryNames()

    def add(self, share: Share) -> tuple[str, bytes]:
        """Add one share; return its entry name and the zip bytes written so far."""
        title = notebook_title(share.content, share.name, fallback=share.readable_id)
        name = self.names.name(title, student_name(share))
        # zip dates run from 1980 to 2107
        when = dt.datetime.fromtimestamp(min(max(share.updated_at, 315532800.0), 4102444800.0))
        info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        self._zip.writestr(info, share.content.encode("utf-8"))
        return name, self._sink.take()

    def close(self) -> bytes:
        """Write the zip's directory; return the last bytes."""
        self._zip.close()
        return self._sink.take()


@dataclass(frozen=True, slots=True)
class Exported:
    """One share in the zip: which version of it, under which name."""

    id: str
    version: int
    entry: str


async def all_summaries(store: ShareStore) -> list[ShareSummary]:
    """Every share (without content), each once, even if the list shifts meanwhile."""
    seen: dict[str, ShareSummary] = {}
    offset = 0
    while True:
        page = await store.list(limit=_PAGE, offset=offset)
        for summary in page:
            seen.setdefault(summary.id, summary)
        if len(page) < _PAGE:
            return list(seen.values())
        offset += _PAGE


async def export_shares(store: ShareStore,
                        write: Callable[[bytes], Awaitable[None]]) -> list[Exported]:
    """Stream a zip of every share to ``write``; return what it holds.

    A share deleted while the export runs is left out; one changed meanwhile is
    exported as it is when its turn comes (the returned version says which).
    """
    writer = ZipWriter()
    exported: list[Exported] = []
    for summary in await all_summaries(store):
        share = await store.get(summary.id)
        if share is None:
            continue
        entry, chunk = await asyncio.to_thread(writer.add, share)
        exported.append(Exported(share.id, share.version, entry))
        if chunk:
            await write(chunk)
    await write(await asyncio.to_thread(writer.close))
    return exported


async def delete_exported(store: ShareStore, exported: list[Exported]) -> tuple[int, int]:
    """Delete the exported shares not changed since; return (deleted, kept because newer)."""
    deleted = kept = 0
    for item in exported:
        current = await store.get(item.id)
        if current is None:
            continue
        if current.version != item.version:
            kept += 1
            continue
        if await store.delete(item.id):
            deleted += 1
    return deleted, kept
