"""End of term: every share as a zip of notebooks named by title (and student), then clear.

Real SQLite stores, real zips unpacked with the standard library, the real ``kiosk``
command in a subprocess and the dashboard's POST through a real aiohttp server.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kiosk.app import create_app
from kiosk.dashboard.views import export_file_name
from kiosk.sharing.export import (
    NAME_MAX,
    EntryNames,
    delete_exported,
    export_shares,
    heading_of,
    notebook_title,
    safe_name,
)
from kiosk.sharing.keys import STORE
from kiosk.sharing.store import ShareStore, UpdateGrant
from tests.sharing_helpers import dumps, make_notebook
from tests.test_dashboard_auth import sign_in


def notebook_with(*sources: str, cell_type: str = "markdown") -> dict:
    nb = make_notebook(title=None)
    nb["cells"] = [{"cell_type": cell_type, "id": f"c{i}", "metadata": {}, "source": src}
                   for i, src in enumerate(sources)] + nb["cells"]
    return nb


def test_title_is_the_first_markdown_heading() -> None:
    assert heading_of(make_notebook(title="Rainfall in May")) == "Rainfall in May"
    assert heading_of(notebook_with("Intro text\n\n## **Lesson** 3: `lists` ##\n")) == \
        "Lesson 3: lists"
    assert heading_of(notebook_with("no heading", "#hashtag is not one", "### Third")) == \
        "Third"
    # A code cell's comment is not a heading; neither is a heading-less notebook.
    assert heading_of(notebook_with("# just a comment", cell_type="code")) is None
    assert heading_of({"cells": "nonsense"}) is None
    assert heading_of(["not", "a", "notebook"]) is None
    long = "x" * 300
    assert len(heading_of(notebook_with(f"# {long}")) or "") == 80


def test_title_falls_back_to_the_file_name_then_the_code() -> None:
    no_heading = dumps(make_notebook(title=None))
    assert notebook_title(no_heading, "Week 3.ipynb") == "Week 3"
    assert notebook_title(no_heading, None, fallback="abc-def") == "abc-def"
    assert notebook_title("{not json", "Broken.ipynb") == "Broken"


@pytest.mark.parametrize(("raw", "expected"), [
    ("../../etc/passwd", "etc passwd"),
    ("..", "notebook"),
    ("a/b\\c:d*e?f\"g<h>i|j", "a b c d e f g h i j"),
    ("tab\tnew\nline\x00nul", "tab new line nul"),
    ("  .hidden.  ", "hidden"),
    ("CON", "_CON"),
    ("lpt1.txt", "_lpt1.txt"),
    ("Élève Noël", "Élève Noël"),
    ("", "notebook"),
])
def test_safe_name(raw: str, expected: str) -> None:
    assert safe_name(raw) == expected


def test_entry_names_are_distinct_case_insensitively_and_bounded() -> None:
    names = EntryNames()
    assert names.name("Lesson 1") == "Lesson 1.ipynb"
    assert names.name("lesson 1") == "lesson 1 (2).ipynb"
    assert names.name("Lesson 1") == "Lesson 1 (3).ipynb"
    assert names.name("Lesson 1", "Ada") == "Lesson 1 - Ada.ipynb"
    assert names.name("Lesson 1", "../Ada") == "Lesson 1 - Ada (2).ipynb"
    huge = names.name("T" * 500, "S" * 500)
    assert len(huge) <= NAME_MAX + len(".ipynb") and "/" not in huge


async def _store(tmp_path: Path) -> ShareStore:
    store = ShareStore.in_data_dir(tmp_path / "data")
    await store.start()
    return store


async def _export(store: ShareStore) -> tuple[bytes, list]:
    out = bytearray()

    async def write(chunk: bytes) -> None:
        out.extend(chunk)

    exported = await export_shares(store, write)
    return bytes(out), exported


def _unpack_safely(blob: bytes, into: Path) -> dict[str, str]:
    """Unpack as a teacher's unzip would, checking every member stays inside ``into``."""
    files = {}
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        assert zf.testzip() is None
        for info in zf.infolist():
            target = (into / info.filename).resolve()
            assert target.parent == into.resolve(), info.filename
            assert not info.is_dir()
            files[info.filename] = zf.read(info).decode("utf-8")
    return files


async def test_export_holds_every_share_byte_for_byte(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    try:
        contents = {}
        nameless = ""
        for title, file_name in [("Rainfall", "a.ipynb"), ("Rainfall", "b.ipynb"),
                                 ("../../../evil", "c.ipynb"), (None, "Untitled.ipynb"),
                                 (None, None)]:
            content = dumps(make_notebook(title=title, pad_bytes=2000))
            result = await store.create(content, owner_session="s1", name=file_name)
            contents[result.share.id] = content
            nameless = result.share.readable_id
        blob, exported = await _export(store)
        files = _unpack_safely(blob, tmp_path / "unzipped")
        assert len(files) == len(exported) == 5
        # Titles first, then file names, then the share's code for the nameless one.
        assert set(files) == {"Rainfall.ipynb", "Rainfall (2).ipynb", "evil.ipynb",
                              "Untitled.ipynb", f"{nameless}.ipynb"}
        # Every notebook is in the zip exactly as it was shared.
        for item in exported:
            assert files[item.entry] == contents[item.id]
        # Exporting changes nothing.
        assert await store.count() == 5
    finally:
        await store.close()


async def test_an_empty_store_gives_a_valid_empty_zip(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    try:
        blob, exported = await _export(store)
        assert exported == []
        assert zipfile.ZipFile(io.BytesIO(blob)).namelist() == []
    finally:
        await store.close()


async def test_clearing_after_export_keeps_a_share_changed_since(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    try:
        kept = await store.create(dumps(make_notebook(title="Changing")), owner_session="s1",
                                  name="x.ipynb")
        await store.create(dumps(make_notebook(title="Done")), owner_session="s2",
                           name="y.ipynb")
        _, exported = await _export(store)
        await store.update(kept.share.id, dumps(make_notebook(title="Changed later")),
                           grant=UpdateGrant("s1"))
        late = await store.create(dumps(make_notebook(title="Late")), owner_session="s3")
        deleted, newer = await delete_exported(store, exported)
        assert (deleted, newer) == (1, 1)
        left = {s.id for s in await store.list()}
        assert left == {kept.share.id, late.share.id}
    finally:
        await store.close()


def _kiosk(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args, "--data-dir", str(data)],
                          check=False, capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items()
                               if not k.startswith("KIOSK_")})


def test_cli_export_then_clear(tmp_path: Path) -> None:
    data = tmp_path / "data"

    async def fill() -> None:
        store = ShareStore.in_data_dir(data)
        await store.start()
        try:
            for title in ("Lesson 1", "Lesson 2", "Lesson 2"):
                await store.create(dumps(make_notebook(title=title)), owner_session="s")
        finally:
            await store.close()

    asyncio.run(fill())
    target = tmp_path / "end of term.zip"
    done = _kiosk("shares", "export", str(target), data=data)
    assert done.returncode == 0, done.stderr
    assert "wrote 3 notebooks" in done.stdout
    assert sorted(zipfile.ZipFile(target).namelist()) == [
        "Lesson 1.ipynb", "Lesson 2 (2).ipynb", "Lesson 2.ipynb"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
    # An existing file is never overwritten.
    again = _kiosk("shares", "export", str(target), "--clear", data=data)
    assert again.returncode == 2 and "exists already" in again.stderr
    listed = _kiosk("shares", "list", "--json", data=data)
    assert len(listed.stdout.splitlines()) == 3
    second = tmp_path / "second.zip"
    cleared = _kiosk("shares", "export", str(second), "--clear", data=data)
    assert cleared.returncode == 0, cleared.stderr
    assert "deleted 3 shares" in cleared.stdout
    assert len(zipfile.ZipFile(second).namelist()) == 3
    assert _kiosk("shares", "list", "--json", data=data).stdout == ""


def test_export_file_name_is_plain_ascii() -> None:
    import datetime

    day = datetime.date(2026, 6, 30)
    assert export_file_name("Salle 12 \"B\"", day) == "Salle-12-B-shares-2026-06-30.zip"
    assert export_file_name("Élève", day) == "Eleve-shares-2026-06-30.zip"
    assert export_file_name("???", day) == "kiosk-shares-2026-06-30.zip"


async def test_dashboard_export_streams_the_zip_and_deletes_nothing(aiohttp_client,
                                                                   make_config) -> None:
    client = await aiohttp_client(create_app(make_config()))
    store = client.app[STORE]
    for title in ("Photosynthesis", "Photosynthesis", "Cells"):
        await store.create(dumps(make_notebook(title=title)), owner_session="s",
                           name="Welcome.ipynb")
    token = await sign_in(client)
    page = await (await client.get("/admin")).text()
    assert 'action="/admin/shares/export"' in page
    # The list shows titles, not three "Welcome.ipynb".
    assert page.count(">Photosynthesis<br>") == 2 and ">Cells<br>" in page
    # No token, no zip.
    forged = await client.post("/admin/shares/export", data={})
    assert forged.status == 403
    resp = await client.post("/admin/shares/export", data={"csrf": token})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/zip"
    assert re.fullmatch(r'attachment; filename="testkiosk-shares-\d{4}-\d\d-\d\d\.zip"',
                        resp.headers["Content-Disposition"])
    assert resp.headers["Cache-Control"] == "no-store"
    names = zipfile.ZipFile(io.BytesIO(await resp.read())).namelist()
    assert sorted(names) == ["Cells.ipynb", "Photosynthesis (2).ipynb",
                             "Photosynthesis.ipynb"]
    assert await store.count() == 3
