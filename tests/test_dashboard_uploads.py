"""/admin/datasets/upload: a CSV/XLSX/JSON file from the teacher's computer, for notebooks.

Through a real kiosk app on a loopback socket: the multipart form as a browser sends
it, then the very request a student's notebook makes (``/api/fetch?url=…``, which is
where ``pd.read_csv(url)`` goes in the kernel) reading the stored file back.
"""

from __future__ import annotations

import html
import io
import json
import re
import zipfile

import aiohttp
import pytest

from kiosk.app import create_app
from kiosk.dashboard.uploads import UPLOAD_BASE, check_dataset, dataset_url
from kiosk.downloads import DOWNLOADER
from kiosk.errors import BadRequest
from tests.test_dashboard_auth import sign_in
from tests.test_dashboard_datasets import alert, saved_files

CSV = b"jour,pluie_mm\nlundi,3\nmardi,0\nmercredi,12\n"


def xlsx_bytes() -> bytes:
    """The smallest zip that has the parts of an Office Open XML workbook."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    return buf.getvalue()


def form(token: str | None, name: str, data: bytes,
         content_type: str = "application/octet-stream") -> aiohttp.FormData:
    body = aiohttp.FormData()
    if token is not None:
        body.add_field("csrf", token)
    body.add_field("file", data, filename=name, content_type=content_type)
    return body


async def test_upload_a_csv_and_a_notebook_reads_it(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config()))
    token = await sign_in(client)
    page = await (await client.get("/admin/datasets")).text()
    assert 'action="/admin/datasets/upload" enctype="multipart/form-data"' in page
    assert 'accept=".csv,.json,.xlsx"' in page

    resp = await client.post("/admin/datasets/upload",
                             data=form(token, "Météo mai 2026.CSV", CSV, "text/csv"),
                             allow_redirects=False)
    assert resp.status == 303, await resp.text()
    assert resp.headers["Location"] == "/admin/datasets?msg=uploaded"
    url = f"{UPLOAD_BASE}Meteo-mai-2026.csv"
    page = await (await client.get(resp.headers["Location"])).text()
    assert "The file was saved on the kiosk" in page
    assert f"<td class=\"mono\">{url}</td><td>text/csv; charset=utf-8</td>" in page

    # What pd.read_csv(url) does in a student's kernel: the kiosk answers from its copy.
    resp = await client.get("/api/fetch", params={"url": url})
    assert resp.status == 200
    assert await resp.read() == CSV
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["X-Kiosk-Download"] == "cached"

    # Uploading a new version under the same name replaces it.
    newer = CSV + b"jeudi,5\n"
    resp = await client.post("/admin/datasets/upload",
                             data=form(token, "Météo mai 2026.csv", newer),
                             allow_redirects=False)
    assert resp.status == 303
    resp = await client.get("/api/fetch", params={"url": url})
    assert await resp.read() == newer
    assert len(client.app[DOWNLOADER].cache.entries()) == 1


@pytest.mark.parametrize(("name", "data", "content_type"), [
    ("class.xlsx", xlsx_bytes(),
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("planets.json", json.dumps({"mars": 2}).encode(), "application/json"),
])
async def test_upload_xlsx_and_json(aiohttp_client, make_config, name, data, content_type):
    client = await aiohttp_client(create_app(make_config()))
    token = await sign_in(client)
    resp = await client.post("/admin/datasets/upload", data=form(token, name, data),
                             allow_redirects=False)
    assert resp.status == 303, await resp.text()
    resp = await client.get("/api/fetch", params={"url": UPLOAD_BASE + name})
    assert resp.status == 200 and await resp.read() == data
    assert resp.headers["Content-Type"] == content_type


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("virus.exe", b"MZ\x90\x00", "is not a CSV, XLSX or JSON file (by its name)"),
    ("notes.txt", b"a,b\n", "is not a CSV, XLSX or JSON file (by its name)"),
    ("noext", b"a,b\n", "is not a CSV, XLSX or JSON file (by its name)"),
    ("empty.csv", b"", "is empty"),
    ("binary.csv", b"a,b\n\x00\x01\x02", "is not a text CSV file"),
    ("excel-1252.csv", "année,été\n".encode("cp1252"), "save it again as"),
    ("broken.json", b"{'not': json}", "is not valid JSON"),
    ("fake.xlsx", b"PK but not a zip", "is not an Excel workbook"),
    ("other.xlsx", None, "is not an Excel workbook"),
])
async def test_wrong_files_are_refused_with_the_reason(aiohttp_client, make_config, name,
                                                       data, reason):
    if data is None:  # a real zip, but no workbook inside
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("readme.txt", "hello")
        data = buf.getvalue()
    client = await aiohttp_client(create_app(make_config()))
    token = await sign_in(client)
    resp = await client.post("/admin/datasets/upload", data=form(token, name, data))
    assert resp.status == 400
    message = html.unescape(alert(await resp.text()))
    assert message.startswith(f"Not uploaded: '{name}' ")
    assert reason in message
    assert saved_files(client) == []


async def test_without_a_file_the_teacher_is_told(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config()))
    token = await sign_in(client)
    body = aiohttp.FormData()
    body.add_field("csrf", token)
    body.add_field("note", "no file here")
    body.add_field("file", b"", filename="", content_type="application/octet-stream")
    resp = await client.post("/admin/datasets/upload", data=body)
    assert resp.status == 400
    assert alert(await resp.text()) == "Not uploaded: choose a file first"


async def test_too_big_is_refused_and_leaves_nothing(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config(fetch_max_mib=0.01)))  # 10 KiB
    token = await sign_in(client)
    limit_note = "larger than the kiosk's download limit of 0.01 MiB (setting fetch_max_mib)"
    at_limit = b"x,y\n" + b"1,2\n" * ((10485 - 4) // 4)
    assert len(at_limit) <= 10485
    resp = await client.post("/admin/datasets/upload", data=form(token, "ok.csv", at_limit),
                             allow_redirects=False)
    assert resp.status == 303
    for size in (10486, 200_000):  # just over: read up to the limit; far over: by its length
        data = b"x,y\n" + b"1" * (size - 4)
        resp = await client.post("/admin/datasets/upload", data=form(token, "big.csv", data))
        assert resp.status == 413
        assert limit_note in html.unescape(alert(await resp.text()))
    assert [e.url for e in client.app[DOWNLOADER].cache.entries()] == [UPLOAD_BASE + "ok.csv"]
    assert not [n for n in saved_files(client) if n.startswith(".part")]


async def test_needs_a_session_the_token_and_the_own_origin(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config()))
    resp = await client.post("/admin/datasets/upload", data=form(None, "a.csv", CSV))
    assert resp.status == 403
    token = await sign_in(client)
    for forged in (None, "guess"):
        resp = await client.post("/admin/datasets/upload", data=form(forged, "a.csv", CSV))
        assert resp.status == 403
    resp = await client.post("/admin/datasets/upload", data=form(token, "a.csv", CSV),
                             headers={"Origin": "http://evil.example"})
    assert resp.status == 403
    assert saved_files(client) == []


async def test_with_downloads_off_there_is_no_upload(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config(fetch_enabled=False)))
    token = await sign_in(client)
    page = await (await client.get("/admin/datasets")).text()
    assert 'action="/admin/datasets/upload"' not in page
    resp = await client.post("/admin/datasets/upload", data=form(token, "a.csv", CSV))
    assert resp.status == 409
    assert "downloads are off on this kiosk" in alert(await resp.text())
    assert saved_files(client) == []


def test_dataset_url_is_plain_and_stays_in_its_folder():
    assert dataset_url("Météo mai.CSV") == UPLOAD_BASE + "Meteo-mai.csv"
    assert dataset_url("C:\\Users\\prof\\notes de classe.xlsx") == \
        UPLOAD_BASE + "notes-de-classe.xlsx"
    assert dataset_url("../../etc/passwd.json") == UPLOAD_BASE + "passwd.json"
    assert dataset_url("???.csv") == UPLOAD_BASE + "dataset.csv"
    assert re.fullmatch(r"https://kiosk\.invalid/datasets/[A-Za-z0-9_.-]+",
                        dataset_url("a b/c?d#e%f.json"))


def test_check_dataset_accepts_utf8_with_bom_and_names_the_type():
    assert check_dataset("a.csv", b"\xef\xbb\xbfa,b\n1,2\n") == "text/csv; charset=utf-8"
    with pytest.raises(BadRequest):
        check_dataset("a.json", b"\xff\xfe")


async def test_an_old_upload_is_served_without_any_lookup(aiohttp_client, make_config,
                                                           monkeypatch):
    """Past the freshness limit an upload is still answered from the kiosk: its `.invalid`
    name is never resolved (no DNS query leaves for the school's resolver)."""
    from kiosk.downloads import fetcher

    client = await aiohttp_client(create_app(make_config()))
    token = await sign_in(client)
    resp = await client.post("/admin/datasets/upload", data=form(token, "rain.csv", CSV),
                             allow_redirects=False)
    assert resp.status == 303
    downloader = client.app[DOWNLOADER]
    downloader.fresh_seconds = 0  # every copy is "old"
    looked_up: list[str] = []

    async def no_lookup(host: str, **_: object) -> None:
        looked_up.append(host)
        raise AssertionError("an upload's name was looked up")

    monkeypatch.setattr(fetcher, "check_host", no_lookup)
    resp = await client.get("/api/fetch", params={"url": UPLOAD_BASE + "rain.csv"})
    assert resp.status == 200 and await resp.read() == CSV
    missing = await client.get("/api/fetch", params={"url": UPLOAD_BASE + "none.csv"})
    assert missing.status == 404
    assert looked_up == []
