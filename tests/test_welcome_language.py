""""Start coding" opens the Welcome lesson in the student's language (issue 23).

The kiosk picks the lesson per request, with the same language choice as its pages
(student's choice on the start page, teacher's pin, browser), from the translations the
bundle names in ``kioskLessonTranslations``; the teacher's lesson of the day wins, and a
language the bundle has no file for gets the bundle's own lesson.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from kiosk.app import create_app
from kiosk.i18n import COOKIE, PIN_FILE
from kiosk.serving.lesson import LESSON_FILE
from kiosk.sharing.keys import STORE
from tests.fakebundle import ROOT_LITE
from tests.fakebundle import make_bundle as make_fake_bundle
from tests.sharing_helpers import dumps, make_notebook
from tests.test_dashboard_auth import sign_in

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
TRANSLATIONS = {"fr": "Bienvenue.ipynb", "es": "Bienvenida.ipynb", "de": "Willkommen.ipynb",
                "ar": "مرحبا.ipynb", "pt_BR": "../outside.ipynb"}


def make_bundle(bundles_dir, name: str = "fake-1"):
    """A bundle whose lesson has French, German and Arabic files (Spanish is named but
    missing, Portuguese names a path outside the content)."""
    root_lite = json.loads(json.dumps(ROOT_LITE))
    root_lite["jupyter-config-data"].update(
        {"kioskLesson": "Welcome.ipynb", "kioskLessonTranslations": TRANSLATIONS})
    extra = {"jupyter-lite.json": json.dumps(root_lite), "files/Welcome.ipynb": NOTEBOOK,
             "files/Bienvenue.ipynb": NOTEBOOK, "files/Willkommen.ipynb": NOTEBOOK,
             "files/مرحبا.ipynb": NOTEBOOK, "files/Fractions.ipynb": NOTEBOOK}
    return make_fake_bundle(bundles_dir, name, extra=extra)


async def lesson(client, accept: str | None = None, *, path: str = "/jupyter-lite.json",
                 cookies: dict[str, str] | None = None) -> str | None:
    headers = {"Accept-Language": accept} if accept else {}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    resp = await client.get(path, headers=headers)
    assert resp.status == 200
    assert "Accept-Language" in resp.headers["Vary"] and "Cookie" in resp.headers["Vary"]
    return (await resp.json())["jupyter-config-data"].get("kioskLesson")


async def test_a_french_browser_gets_the_french_lesson(aiohttp_client, make_config):
    config = make_config()
    make_bundle(config.bundles_path)
    client = await aiohttp_client(create_app(config))
    assert await lesson(client, "fr-FR,fr;q=0.9,en;q=0.8") == "Bienvenue.ipynb"
    assert await lesson(client, "fr-CA", path="/lab/jupyter-lite.json") == "Bienvenue.ipynb"
    assert await lesson(client, "de-AT,de;q=0.9") == "Willkommen.ipynb"
    assert await lesson(client, "ar-EG") == "مرحبا.ipynb"
    # English, a language the kiosk lacks, or none: the bundle's own lesson.
    for accept in ("en-US", "ja", None):
        assert await lesson(client, accept) == "Welcome.ipynb", accept
    # The page the extension then opens is there, under its (encoded) name.
    resp = await client.get("/files/" + quote("مرحبا.ipynb"))
    assert resp.status == 200 and (await resp.json())["nbformat"] == 4


async def test_missing_or_odd_translations_fall_back_to_english(aiohttp_client, make_config):
    config = make_config()
    make_bundle(config.bundles_path)
    client = await aiohttp_client(create_app(config))
    assert await lesson(client, "es-ES") == "Welcome.ipynb"  # named, not in the bundle
    assert await lesson(client, "pt-BR") == "Welcome.ipynb"  # a path outside the content


async def test_the_students_choice_and_the_pin_pick_the_language(aiohttp_client, make_config):
    """The lesson follows the same choice as the pages: the student's pick on the start
    page, then the teacher's pin, then the browser."""
    config = make_config()
    make_bundle(config.bundles_path)
    client = await aiohttp_client(create_app(config))
    assert await lesson(client, "fr", cookies={COOKIE: "ar"}) == "مرحبا.ipynb"
    await client.close()
    (config.data_path / PIN_FILE).write_text("de")
    client = await aiohttp_client(create_app(config))
    assert await lesson(client, "fr") == "Willkommen.ipynb"
    assert await lesson(client, "fr", cookies={COOKIE: "fr"}) == "Bienvenue.ipynb"
    page = await (await client.get("/", headers={"Accept-Language": "fr"})).text()
    assert 'lang="de"' in page  # the pages made the same choice


async def test_the_teachers_lesson_of_the_day_wins(aiohttp_client, make_config):
    config = make_config()
    make_bundle(config.bundles_path)
    (config.data_path / LESSON_FILE).write_text("Fractions.ipynb")
    client = await aiohttp_client(create_app(config))
    for accept in ("fr", "ar", "en"):
        assert await lesson(client, accept) == "Fractions.ipynb"


async def test_the_dashboard_counts_the_translations_copies(aiohttp_client, make_config):
    config = make_config()
    make_bundle(config.bundles_path)
    client = await aiohttp_client(create_app(config))
    store = client.app[STORE]
    made = {}
    for name, student in (("Welcome.ipynb", "Ann"), ("Bienvenue.ipynb", "Zoé"),
                          ("مرحبا.ipynb", "Sami"), ("Fractions.ipynb", "Bea")):
        result = await store.create(dumps(make_notebook(title=name)), owner_session=student,
                                    name=name, student_name=student)
        made[student] = result.share.readable_id
    await sign_in(client)
    page = await (await client.get("/admin")).text()
    assert re.search(r"shared copies: 3</h3>", page)
    copies = page.split('<ul class="copies" id="copies"')[1].split("</ul>")[0]
    for student in ("Ann", "Zoé", "Sami"):
        assert made[student] in copies
    assert made["Bea"] not in copies
    note = page.split('id="lesson-translations">')[1].split("</p>")[0]
    assert "Bienvenue.ipynb" in note and "Willkommen.ipynb" in note
    assert "Bienvenida.ipynb" not in note  # not in the bundle
