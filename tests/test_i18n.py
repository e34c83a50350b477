"""The kiosk in the students' language: complete catalogs, no untranslated text in the
templates or in what the command line tells teachers, the language each page picks
(student's choice, teacher's pin, browser), and the command line's (pin, then locale)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from kiosk import config as config_module
from kiosk.app import create_app
from kiosk.i18n import (
    COOKIE,
    LANGUAGES,
    SOURCE_LANGUAGE,
    cli_language,
    from_accept_language,
    known,
)
from kiosk.i18n_catalog import extract, po_path
from kiosk.templating import TEMPLATE_DIR
from tests.catalog_checks import check_translated
from tests.sharing_helpers import make_notebook
from tests.test_sharing_view import share

TRANSLATED = [code for code in LANGUAGES if code != SOURCE_LANGUAGE]
_PLACEHOLDER_RE = re.compile(r"%\((\w+)\)[sd]")
_TAG_RE = re.compile(r"</?([a-z]+)")


def _catalog(code: str):
    with po_path(code).open("rb") as src:
        return read_po(src, locale=code)


def _ids(catalog) -> set:
    return {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}


@pytest.mark.parametrize("code", TRANSLATED)
def test_catalog_has_every_message_translated_with_the_same_placeholders(code):
    wanted = _ids(extract())
    catalog = _catalog(code)
    assert _ids(catalog) == wanted, "run scripts/i18n.py, then translate the new messages"
    check_translated(catalog, code, _PLACEHOLDER_RE, _TAG_RE)


def test_arabic_has_its_six_plural_forms():
    catalog = _catalog("ar")
    assert catalog.num_plurals == 6
    plural = next(m for m in catalog if m.pluralizable)
    assert len(set(plural.string)) == 6


class _TextOutsideMessages(HTMLParser):
    """Collect text and shown attributes of a template with every message cut out."""

    SHOWN_ATTRS = {"title", "alt", "aria-label", "placeholder"}

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in {"script", "style"}:
            self._skip += 1
        for name, value in attrs:
            if name in self.SHOWN_ATTRS and value and re.search(r"[A-Za-z]{2,}", value):
                self.found.append(f"{tag}[{name}]={value}")

    def handle_endtag(self, tag):
        if tag in {"script", "style"}:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and re.search(r"[A-Za-z]{2,}", data):
            self.found.append(data.strip())


# Text that is the same in every language: brand names, codes, commands, units.
_UNTRANSLATABLE = {
    "kiosk",  # the dashboard footer: "kiosk 0.1.0", the program's name
}
_PLACEHOLDER_ATTR = re.compile(r"(calm-blue-otter-42|https://example\.org/data/weather\.csv)")


@pytest.mark.parametrize("path", sorted(p.relative_to(TEMPLATE_DIR).as_posix()
                                        for p in TEMPLATE_DIR.rglob("*") if p.is_file()))
def test_templates_show_no_text_outside_the_catalogs(path):
    """Every word a template shows goes through ``_()`` or ``{% trans %}``."""
    source = (TEMPLATE_DIR / path).read_text()
    stripped = re.sub(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}", " ", source, flags=re.S)
    stripped = re.sub(r"{#.*?#}", " ", stripped, flags=re.S)
    # Blocks that fill in attributes (a page's body class), not text.
    stripped = re.sub(r"{%\s*block (body_class|body_attrs|main_attrs)\s*%}.*?{%\s*endblock\s*%}",
                      " ", stripped, flags=re.S)
    stripped = re.sub(r"{{.*?}}", " ", stripped, flags=re.S)
    stripped = re.sub(r"{%.*?%}", " ", stripped, flags=re.S)
    if path.endswith(".svg"):
        stripped = re.sub(r"<\?xml[^>]*\?>", " ", stripped)
    parser = _TextOutsideMessages()
    parser.feed(stripped)
    leftovers = [t for t in parser.found
                 if t not in _UNTRANSLATABLE and not _PLACEHOLDER_ATTR.search(t)]
    assert leftovers == [], f"{path}: text not in the catalogs: {leftovers}"


def test_accept_language_and_tags():
    assert from_accept_language("fr-FR,fr;q=0.9,en;q=0.8") == "fr"
    assert from_accept_language("en;q=0.5, de;q=0.9") == "de"
    assert from_accept_language("pt-BR") == "pt_BR" and from_accept_language("pt-PT") == "pt_BR"
    assert from_accept_language("ar-EG,ar;q=0.9") == "ar"
    assert from_accept_language("ja, zh;q=0.5") is None
    assert from_accept_language("fr;q=0, es") == "es"
    assert from_accept_language("fr;q=abc, de") == "de"
    assert known("../../etc") is None and known("") is None and known("EN-gb") == "en"
    assert cli_language(None, {"LANG": "de_DE.UTF-8"}) == "de"
    assert cli_language("fr", {"LANG": "de_DE.UTF-8"}) == "fr"
    assert cli_language(None, {"LANG": "C.UTF-8"}) == "en"


def test_the_setting_accepts_exactly_the_catalogs_languages():
    for code in LANGUAGES:
        assert config_module.load_config(env={}, overrides={"language": code}).language == code
    with pytest.raises(config_module.ConfigError):
        config_module.load_config(env={}, overrides={"language": "fr-FR"})


FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}


async def test_a_french_browser_gets_french_pages(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config()))
    _, saved = await share(client, make_notebook("x = 1"))
    expected = {
        "/": "Ouvrir un notebook partagé",
        "/join": "Scanne le grand code pour lancer Python",
        f"/s/{saved['readable_id']}": "Ouvrir dans JupyterLite",
        "/s/calm-blue-oter-42": "Aucun notebook avec ce code",
        "/admin": "Code secret d'administration",
        "/no/such/page": "Retour à la page d'accueil",
    }
    for path, words in expected.items():
        page = await (await client.get(path, headers={**FRENCH, "Accept": "text/html"})).text()
        assert '<html lang="fr" dir="ltr">' in page, path
        assert words in page, path
    poster = await (await client.get("/join/poster.svg", headers=FRENCH)).text()
    assert "Python dans ton navigateur" in poster
    resp = await client.get("/s/calm-blue-oter-42", headers=FRENCH)
    assert resp.headers["Content-Language"] == "fr"
    assert resp.headers["Vary"] == "Accept-Language, Cookie"
    english = await (await client.get("/", headers={"Accept-Language": "en-US"})).text()
    assert "Open a shared notebook" in english and '<html lang="en" dir="ltr">' in english


async def test_arabic_pages_are_right_to_left(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config()))
    page = await (await client.get("/", headers={"Accept-Language": "ar"})).text()
    assert '<html lang="ar" dir="rtl">' in page and "افتح دفترًا مشتركًا" in page
    poster = await (await client.get("/join/poster.svg",
                                     headers={"Accept-Language": "ar"})).text()
    assert 'direction="rtl"' in poster


async def test_a_pinned_language_wins_over_the_browser(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config(language="de")))
    page = await (await client.get("/join", headers=FRENCH)).text()
    assert '<html lang="de" dir="ltr">' in page and "Scanne den großen Code" in page
    # The student's own choice on the start page beats the pin, and is remembered.
    chosen = await client.get("/?lang=es", headers=FRENCH)
    assert "Abrir un cuaderno compartido" in await chosen.text()
    cookie = chosen.cookies[COOKIE]
    assert cookie.value == "es" and cookie["httponly"] and cookie["samesite"] == "Lax"
    later = await (await client.get("/join", headers=FRENCH)).text()
    assert '<html lang="es" dir="ltr">' in later
    # A made-up value is ignored (no cookie, no error).
    odd = await client.get("/?lang=xx", headers=FRENCH)
    assert odd.status == 200 and COOKIE not in odd.cookies


async def test_the_teacher_pins_a_language_on_the_dashboard(aiohttp_client, make_config,
                                                          tmp_path: Path):
    from tests.test_dashboard_actions import sign_in

    config = make_config()
    client = await aiohttp_client(create_app(config))
    token = await sign_in(client)
    page = await (await client.get("/admin")).text()
    assert 'action="/admin/language"' in page and '<option value="auto" selected>' in page
    resp = await client.post("/admin/language", data={"csrf": token, "language": "pt_BR"},
                             allow_redirects=False)
    assert resp.status == 303
    assert (config.data_path / "language").read_text() == "pt_BR"
    landing = await (await client.get("/", headers=FRENCH)).text()
    assert '<html lang="pt-BR" dir="ltr">' in landing
    assert "Abrir um notebook compartilhado" in landing
    bad = await client.post("/admin/language", data={"csrf": token, "language": "xx"})
    assert bad.status == 400
    forged = await client.post("/admin/language", data={"csrf": "nope", "language": "fr"})
    assert forged.status == 403
    assert (config.data_path / "language").read_text() == "pt_BR"
    # The choice survives a restart: a new app on the same data directory.
    again = await aiohttp_client(create_app(config))
    assert "Abrir um notebook" in await (await again.get("/", headers=FRENCH)).text()


def test_the_start_banner_speaks_the_teachers_language(kiosk_process, tmp_path):
    """The terminal's locale picks the banner's language; the class's pin wins."""
    french = kiosk_process(env={"LANG": "fr_FR.UTF-8", "LANGUAGE": ""})
    for _ in range(100):
        if any("Scannez pour ouvrir" in line or "Pour le professeur" in line
               for line in french.log):
            break
        time.sleep(0.1)
    text = "\n".join(french.log)
    assert "Le kiosque « testkiosk » est en service" in text
    assert "tableau de bord : http://" in text
    french.stop()
    pinned = kiosk_process("--language", "de", env={"LANG": "fr_FR.UTF-8", "LANGUAGE": ""})
    for _ in range(100):
        if any("Für die Lehrkraft" in line for line in pinned.log):
            break
        time.sleep(0.1)
    assert any("Kiosk „testkiosk“ läuft" in line for line in pinned.log), pinned.log
    pinned.stop()
    # The language pinned on the dashboard wins over the setting, as for the other commands.
    (tmp_path / "data" / "language").write_text("es")
    dashboard = kiosk_process("--language", "de", env={"LANG": "fr_FR.UTF-8", "LANGUAGE": ""})
    for _ in range(100):
        if any("Para el profesor" in line for line in dashboard.log):
            break
        time.sleep(0.1)
    assert any("El quiosco «testkiosk» está en marcha" in line for line in dashboard.log), (
        dashboard.log)


# ----------------------------------------------------------- the command line's messages

_CLI_DIR = Path(__file__).resolve().parent.parent / "kiosk" / "cli"
_SHOWN_BY = {"print", "say", "KioskError", "BundleError", "ConfigError", "Finding"}
_MARKERS = {"gettext", "ngettext", "N_", "Nn_", "_"}
# Printed as they are, on purpose: shell commands to copy (hotspot config), and the
# interface patterns the 'interfaces' setting defaults to.
_CLI_AS_IS = {("hotspot.py", "_print_plan"), ("qr.py", "eth*, en*, wlan*, wl*, usb*")}


def _called(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else (
        func.attr if isinstance(func, ast.Attribute) else "")


def _sentences(node: ast.AST) -> list[str]:
    """Text of two words or more in ``node`` that no gettext marker wraps."""
    if isinstance(node, ast.Call) and _called(node) in _MARKERS:
        return []
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        words = [w for w in node.value.split() if re.search(r"[A-Za-z]{3,}", w)]
        return [node.value] if len(words) >= 2 else []
    return [text for child in ast.iter_child_nodes(node) for text in _sentences(child)]


def _untranslated(path: Path) -> list[str]:
    """What a command shows the teacher (printed, raised, said) that skips the catalogs."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for func in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
        if (path.name, func.name) in _CLI_AS_IS:
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.Call) and _called(node) in _SHOWN_BY:
                found += [f"{path.name}:{node.lineno}: {text!r}" for arg in node.args
                          for text in _sentences(arg) if (path.name, text) not in _CLI_AS_IS]
    return sorted(set(found))


@pytest.mark.parametrize("path", sorted([*_CLI_DIR.glob("*.py"), _CLI_DIR.parent / "doctor.py"]),
                         ids=lambda p: p.name)
def test_the_command_line_says_nothing_outside_the_catalogs(path):
    """Every sentence a command prints or raises for the teacher goes through gettext."""
    assert _untranslated(path) == []


def test_the_scan_finds_an_untranslated_message(tmp_path):
    """The check above can fail: an English print is caught, a translated one is not."""
    sample = tmp_path / "sample.py"
    sample.write_text('def run(t):\n    print(f"deleted {n} shares")\n'
                      '    print(t.gettext("deleted %(n)d shares") % {"n": n})\n'
                      '    raise KioskError("no such share here")\n')
    assert _untranslated(sample) == ["sample.py:4: 'no such share here'"]
    sample.write_text('def run(n):\n    print(f"deleted {n} shares, kept none")\n')
    assert _untranslated(sample) == ["sample.py:2: ' shares, kept none'"]


def _cli(*args: str, env: dict[str, str], data: Path) -> subprocess.CompletedProcess[str]:
    """``kiosk ARGS`` in a process of its own, with only ``env`` for the locale."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("KIOSK_") and k not in {"LANGUAGE", "LC_ALL", "LC_MESSAGES",
                                                          "LANG"}}
    return subprocess.run([sys.executable, "-m", "kiosk", *args, "--data-dir", str(data)],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**base, **env})


def test_a_french_terminal_gets_french_messages(tmp_path):
    data = tmp_path / "data"
    status = _cli("status", "--bundles-dir", str(tmp_path / "none"), "--port", "9",
                  env={"LANG": "fr_FR.UTF-8"}, data=data)
    assert status.returncode == 0, status.stderr
    assert "écoute sur" in status.stdout and "(arrêté)" in status.stdout
    assert "aucun : aucun paquet n'est actif : lancez 'make bundle'" in status.stdout
    assert "listens on" not in status.stdout
    refused = _cli("shares", "clear", env={"LANG": "fr_FR.UTF-8"}, data=data)
    assert refused.returncode == 2
    assert refused.stderr == ("kiosk: ceci supprime tous les partages ; relancez avec --yes "
                              "pour le faire\n")
    cleared = _cli("shares", "clear", "--yes", env={"LC_ALL": "fr_FR.UTF-8"}, data=data)
    assert cleared.stdout == "0 partage supprimé\n", cleared.stderr
    # Machine output stays as it is.
    json_status = _cli("status", "--json", env={"LANG": "fr_FR.UTF-8"}, data=data)
    assert json.loads(json_status.stdout)["bundle_problem"] == (
        "no bundle is active: run 'make bundle'")


def test_the_cli_language_follows_gettexts_order_and_the_pin(tmp_path):
    data = tmp_path / "data"

    def said(env: dict[str, str]) -> str:
        done = _cli("shares", "clear", env=env, data=data)
        assert done.returncode == 2
        return done.stderr

    assert said({}) == "kiosk: this deletes every share; run again with --yes to do it\n"
    assert said({"LANG": "C.UTF-8"}).startswith("kiosk: this deletes")
    assert said({"LANG": "de_DE.UTF-8"}).startswith("kiosk: das löscht alle Freigaben")
    # LANGUAGE, then LC_ALL, then LC_MESSAGES, then LANG (as gettext reads them).
    assert said({"LANGUAGE": "es:fr", "LC_ALL": "de_DE.UTF-8"}).startswith("kiosk: esto borra")
    assert said({"LC_ALL": "pt_BR.UTF-8", "LANG": "de_DE.UTF-8"}).startswith(
        "kiosk: isto apaga")
    assert said({"LC_MESSAGES": "ar_EG.UTF-8", "LANG": "de_DE.UTF-8"}).startswith(
        "kiosk: هذا يحذف")
    # The class's language, set by the teacher, wins over the terminal's.
    assert said({"LANG": "de_DE.UTF-8", "KIOSK_LANGUAGE": "fr"}).startswith(
        "kiosk: ceci supprime")
    data.mkdir(parents=True, exist_ok=True)
    (data / "language").write_text("es")  # pinned on the dashboard
    assert said({"LANG": "de_DE.UTF-8", "KIOSK_LANGUAGE": "fr"}).startswith(
        "kiosk: esto borra")


@pytest.mark.parametrize("code", TRANSLATED)
def test_counts_use_the_languages_plural_forms(code):
    from kiosk.cli.messages import translations

    t = translations(None, {"LANG": code})
    forms = {re.sub(r"\d+", "N", t.ngettext("deleted %(n)d share", "deleted %(n)d shares", n)
                    % {"n": n}) for n in (1, 2, 5, 12, 300)}
    assert len(forms) == (5 if code == "ar" else 2), forms
    assert all("share" not in form for form in forms)


def test_the_doctor_reports_in_the_teachers_language():
    from kiosk import doctor
    from kiosk.cli.messages import translations

    findings = [doctor.check_port("127.0.0.1", 0),
                doctor.check_clock(0.0),
                doctor.check_disk(Path("/data"), 100, usage=lambda _: (50 * 2**20, 2**30))]
    english = doctor.format_findings(findings)
    assert "the clock says 1970-01-01" in english and english.endswith("2 problems, 0 warnings")
    french = doctor.format_findings(findings, translations(None, {"LANG": "fr_FR"}))
    assert "port 0 : le kiosque choisit un port libre au démarrage" in french
    assert "l'horloge indique 1970-01-01" in french
    assert "50 Mio libres sur 1024 Mio dans /data, sous le plancher de 100 Mio" in french
    assert french.endswith("2 problèmes, 0 avertissement")
    assert findings[1].message == "the clock says 1970-01-01"  # --json stays English
