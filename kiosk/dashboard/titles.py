"""Notebook titles for the dashboard's share list, remembered by share version.

A title (:func:`kiosk.sharing.export.notebook_title`: first heading, else file name)
needs the notebook's content, which the share list does not carry: it is read once
per share version, parsed in a thread, and kept in a small in-memory table.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from aiohttp import web

from kiosk.sharing.export import notebook_title
from kiosk.sharing.store import ShareStore, ShareSummary

#: titles remembered (a few classes' worth; the oldest are forgotten first)
MAX_TITLES = 4096


class TitleCache:
    """(share id, version) → title, least recently used forgotten first."""

    def __init__(self, size: int = MAX_TITLES) -> None:
        self.size = size
        self._titles: OrderedDict[tuple[str, int], str] = OrderedDict()

    def get(self, key: tuple[str, int]) -> str | None:
        title = self._titles.get(key)
        if title is not None:
            self._titles.move_to_end(key)
        return title

    def put(self, key: tuple[str, int], title: str) -> None:
        self._titles[key] = title
        self._titles.move_to_end(key)
        while len(self._titles) > self.size:
            self._titles.popitem(last=False)


TITLES = web.AppKey("dashboard_titles", TitleCache)


async def share_titles(cache: TitleCache, store: ShareStore,
                       shares: list[ShareSummary]) -> dict[str, str]:
    """Title of each of ``shares`` by id; contents are read (in one batch) only for
    versions not seen yet."""
    titles: dict[str, str] = {}
    missing: list[str] = []
    for summary in shares:
        known = cache.get((summary.id, summary.version))
        if known is None:
            missing.append(summary.id)
        else:
            titles[summary.id] = known
    if not missing:
        return titles
    found = await store.get_many(missing)

    def compute() -> dict[str, tuple[int, str]]:
        return {sid: (share.version, notebook_title(share.content, share.name,
                                                    share.readable_id))
                for sid, share in found.items()}

    for sid, (version, title) in (await asyncio.to_thread(compute)).items():
        cache.put((sid, version), title)
        titles[sid] = title
    return titles
