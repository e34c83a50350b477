"""The lesson of the day: picked on the dashboard, carried by every jupyter-lite.json,
kept across restarts, and the class's shared copies of it grouped under it."""

from __future__ import annotations

import json
import re

import pytest

from kiosk.app import create_app
from kiosk.serving.lesson import LESSON_FILE, is_content_path
from kiosk.sharing.keys import STORE
from tests.fakebundle import make_bundle
from tests.sharing_helpers import dumps, make_notebook
from tests.test_dashboard_auth import sign_in

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
LESSONS = {"files/units/Rainfall.ipynb": NOTEBOOK, "files/Fractions.ipynb": NOTEBOOK}


async def lite_lesson(client, path: str = "/jupyter-lite.json") -> str | None:
    resp = await client.get(path)
    assert resp.status == 200
    return (await resp.json())["jupyter-config-data"].get("kioskLesson")


async def pick(client, token: str, lesson: str):
    return await client.post("/admin/lesson", data={"csrf": token, "lesson": lesson},
                             allow_redirects=False)


async def test_pick_carry_keep_and_reset(aiohttp_client, make_config):
    config = make_config()
    make_bundle(config.bundles_path, extra=LESSONS)
    client = await aiohttp_client(create_app(config))
    assert await lite_lesson(client) is None  # the bundle's own lesson
    token = await sign_in(client)
    page = await (await client.get("/admin")).text()
    assert 'id="lesson-name" data-value="Welcome.ipynb"' in page
    # The choices are the bundle's content notebooks, nothing else (no data.csv).
    options = re.findall(r'<option value="([^"]*)"', page.split('id="lesson-select"')[1]
                         .split("</select>")[0])
    assert options == ["", "Fractions.ipynb", "units/Rainfall.ipynb", "welcome.ipynb"]

    resp = await pick(client, token, "units/Rainfall.ipynb")
    assert resp.status == 303 and resp.headers["Location"].startswith("/admin?msg=lesson")
    assert await lite_lesson(client) == "units/Rainfall.ipynb"
    assert await lite_lesson(client, "/lab/jupyter-lite.json") == "units/Rainfall.ipynb"
    assert (config.data_path / LESSON_FILE).read_text() == "units/Rainfall.ipynb"
    page = await (await client.get("/admin?msg=lesson")).text()
    assert 'data-value="units/Rainfall.ipynb"' in page and "Start coding" in page
    await client.close()

    # A restart keeps the choice.
    client = await aiohttp_client(create_app(config))
    assert await lite_lesson(client) == "units/Rainfall.ipynb"
    token = await sign_in(client)
    assert (await pick(client, token, "")).status == 303
    assert await lite_lesson(client) is None


@pytest.mark.parametrize("choice", ["../../etc/passwd.ipynb", "data.csv", "Missing.ipynb",
                                    "/files/Fractions.ipynb"])
async def test_only_the_bundles_notebooks_can_be_picked(aiohttp_client, make_config, choice):
    config = make_config()
    make_bundle(config.bundles_path, extra=LESSONS)
    client = await aiohttp_client(create_app(config))
    token = await sign_in(client)
    assert (await pick(client, token, "Fractions.ipynb")).status == 303
    resp = await pick(client, token, choice)
    assert resp.status == 400
    assert "Pick a lesson from the list" in await resp.text()
    assert await lite_lesson(client) == "Fractions.ipynb"  # unchanged


async def test_picking_needs_a_session_and_the_csrf_token(aiohttp_client, make_config):
    config = make_config()
    make_bundle(config.bundles_path, extra=LESSONS)
    client = await aiohttp_client(create_app(config))
    resp = await pick(client, "whatever", "Fractions.ipynb")
    assert resp.status == 403
    await sign_in(client)
    resp = await pick(client, "not-the-token", "Fractions.ipynb")
    assert resp.status == 403
    assert await lite_lesson(client) is None
    assert not (config.data_path / LESSON_FILE).exists()


async def test_a_pick_the_new_bundle_lacks_is_ignored_not_lost(aiohttp_client, make_config):
    config = make_config()
    make_bundle(config.bundles_path, extra=LESSONS)
    (config.data_path / LESSON_FILE).write_text("units/Rainfall.ipynb")
    client = await aiohttp_client(create_app(config))
    assert await lite_lesson(client) == "units/Rainfall.ipynb"
    await client.close()
    make_bundle(config.bundles_path, "fake-2")  # no Rainfall in it
    client = await aiohttp_client(create_app(config))
    assert await lite_lesson(client) is None
    assert (config.data_path / LESSON_FILE).read_text() == "units/Rainfall.ipynb"


async def test_the_class_copies_are_grouped_under_the_lesson(aiohttp_client, make_config):
    config = make_config()
    make_bundle(config.bundles_path, extra=LESSONS)
    client = await aiohttp_client(create_app(config))
    store = client.app[STORE]
    codes = {}
    for student in ("Zoé", "adam", None):
        result = await store.create(dumps(make_notebook(title="Rainfall in Lyon")),
                                    owner_session=f"s-{student}", name="Rainfall.ipynb",
                                    student_name=student)
        codes[student] = result.share.readable_id
    other = await store.create(dumps(make_notebook(title="Other")), owner_session="x",
                               name="Untitled.ipynb", student_name="Bea")
    token = await sign_in(client)
    page = await (await client.get("/admin")).text()
    # Before the pick the lesson is the bundle's Welcome.ipynb: nobody shared that.
    assert "No student has shared a copy of it yet." in page
    await pick(client, token, "units/Rainfall.ipynb")
    page = await (await client.get("/admin")).text()
    copies = page.split('<ul class="copies" id="copies"')[1].split("</ul>")[0]
    links = re.findall(r'<a href="/s/([^"]+)">([^<]+)</a>', copies)
    # One card per copy, by student name (nameless last), each opening /s/<code>.
    assert [code for code, _ in links] == [codes["adam"], codes["Zoé"], codes[None]]
    assert links[0][1] == "adam" and links[1][1] == "Zoé"
    assert "Rainfall in Lyon" in copies  # each copy's title
    assert other.share.readable_id not in copies  # another notebook is not grouped
    assert re.search(r"shared copies: 3</h3>", page)
    view = await client.get(f"/s/{codes['Zoé']}")
    assert view.status == 200


def test_content_paths() -> None:
    assert is_content_path("Welcome.ipynb") and is_content_path("units/a b.ipynb")
    for bad in ("", "../x.ipynb", "a/../x.ipynb", ".hidden.ipynb", "a//b.ipynb",
                "x.csv", "a\nb.ipynb", "x" * 300 + ".ipynb"):
        assert not is_content_path(bad), bad
