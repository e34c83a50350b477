"""The bundles' Welcome notebooks are written for a phone as much as for a laptop (issue 18),
and each profile ships them in every language of the kiosk (issue 23).

A phone has no right-click and no mouse hover; sharing is always on at a kiosk, so the
lesson must not send students looking for a switch their teacher never has to turn.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.i18n import LANGUAGES, SOURCE_LANGUAGE

BUNDLES = Path(__file__).resolve().parent.parent / "bundles"
WELCOMES = sorted(BUNDLES.glob("*/content/Welcome.ipynb"))


def _text(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4 and isinstance(nb["cells"], list)
    return "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                     for c in nb["cells"])


def test_every_profile_has_a_welcome_notebook() -> None:
    assert {p.parent.parent.name for p in WELCOMES} >= {"core", "science"}


@pytest.mark.parametrize("path", WELCOMES, ids=lambda p: p.parent.parent.name)
def test_welcome_works_on_a_phone(path: Path) -> None:
    text = _text(path).lower()
    for phrase in ("right-click", "right click", "drag", "turned sharing on",
                   "turns sharing on", "when your teacher has"):
        assert phrase not in text, f"{path}: '{phrase}' does not work on a phone"
    # Where the phone's controls are: the ▶ button, Menu → Files, Share, Open a code.
    for phrase in ("▶", "menu → files", "share", "open a code"):
        assert phrase in text, f"{path}: says nothing about '{phrase}'"


# ------------------------------------------------------------- the lesson in each language


PROFILES = sorted({p.parent.parent.name for p in WELCOMES})
TRANSLATED = [code for code in LANGUAGES if code != SOURCE_LANGUAGE]
# Where each language's phone controls are named (the translated UI's words).
PHONE_PHRASES = {
    "fr": ("▶", "menu → fichiers", "partager", "ouvrir un code"),
    "es": ("▶", "menú → archivos", "compartir", "abrir un código"),
    "de": ("▶", "menü → dateien", "teilen", "code öffnen"),
    "pt_BR": ("▶", "menu → arquivos", "compartilhar", "abrir um código"),
    "ar": ("▶", "القائمة ← الملفات", "مشاركة", "افتح رمزًا"),
}


def _translations(profile: str) -> dict[str, str]:
    config = json.loads((BUNDLES / profile / "jupyter-lite.json").read_text(encoding="utf-8"))
    named: dict[str, str] = config["jupyter-config-data"]["kioskLessonTranslations"]
    return named


def _cells(path: Path) -> list[dict]:
    cells: list[dict] = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return cells


def _source(cell: dict) -> str:
    return "".join(cell["source"])


TRANSLATED_WELCOMES = [(profile, code) for profile in PROFILES for code in TRANSLATED]


def _path(profile: str, code: str) -> Path:
    return BUNDLES / profile / "content" / _translations(profile)[code]


@pytest.mark.parametrize("profile", PROFILES)
def test_each_profile_ships_the_welcome_in_every_language(profile: str) -> None:
    named = _translations(profile)
    assert set(named) == set(TRANSLATED)
    for code, name in named.items():
        path = BUNDLES / profile / "content" / name
        assert path.is_file(), f"{profile}: no {code} Welcome at {path}"
        assert "/" not in name, "next to the English one: the same relative data paths"
    assert len(set(named.values())) == len(named)


class _WithoutText(ast.NodeTransformer):
    """The code with every string's text blanked (f-strings keep their expressions)."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Constant("") if isinstance(node.value, str) else node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        return ast.JoinedStr([self.visit(v) for v in node.values
                              if isinstance(v, ast.FormattedValue)])


def _code_shape(source: str) -> str:
    return ast.dump(_WithoutText().visit(ast.parse(source)))


@pytest.mark.parametrize(("profile", "code"), TRANSLATED_WELCOMES)
def test_translation_has_the_english_cells_and_code(profile: str, code: str) -> None:
    english = _cells(BUNDLES / profile / "content" / "Welcome.ipynb")
    translated = _cells(_path(profile, code))
    assert [(c["id"], c["cell_type"]) for c in translated] == [
        (c["id"], c["cell_type"]) for c in english]
    for en, tr in zip(english, translated, strict=True):
        if en["cell_type"] == "code":
            # Identical but for strings and comments (comments do not reach the AST).
            assert _code_shape(_source(tr)) == _code_shape(_source(en)), tr["id"]
            assert tr["outputs"] == [] and tr["execution_count"] is None
        else:
            assert _source(tr) != _source(en), f"{tr['id']} is not translated"
    markdown = "\n".join(_source(c) for c in translated if c["cell_type"] == "markdown")
    for english_phrase in ("Welcome", "Your turn", "How to share", "the file browser"):
        assert english_phrase not in markdown
    # Every code example the English text names is named in the translation too.
    english_md = "\n".join(_source(c) for c in english if c["cell_type"] == "markdown")
    assert set(re.findall(r"`([^`]+)`", english_md)) == set(re.findall(r"`([^`]+)`", markdown))


@pytest.mark.parametrize(("profile", "code"), TRANSLATED_WELCOMES)
def test_translation_works_on_a_phone(profile: str, code: str) -> None:
    text = _text(_path(profile, code)).lower()
    for phrase in PHONE_PHRASES[code]:
        assert phrase in text, f"{profile}/{code}: says nothing about '{phrase}'"


@pytest.mark.parametrize("profile", PROFILES)
def test_arabic_reads_right_to_left(profile: str) -> None:
    for cell in _cells(_path(profile, "ar")):
        if cell["cell_type"] == "markdown":
            source = _source(cell)
            assert source.startswith('<div dir="rtl">\n\n') and source.endswith("\n\n</div>")


def _run_code_cells(path: Path) -> str:
    """Run a notebook's code cells in order with this Python, in its content folder."""
    program = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "code")
    done = subprocess.run([sys.executable, "-c", program], cwd=path.parent, text=True,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("code", TRANSLATED)
def test_core_translation_runs_like_the_english_one(code: str) -> None:
    """The core lesson is plain Python: run it here, and compare every number it prints
    with the English run's (the science lesson runs in a browser: test_bundle_e2e)."""
    english = _run_code_cells(BUNDLES / "core" / "content" / "Welcome.ipynb")
    translated = _run_code_cells(_path("core", code))
    numbers = re.compile(r"-?\d+(?:\.\d+)?")
    assert numbers.findall(translated) == numbers.findall(english)
    assert "665" in translated and "0.98" in translated
    assert translated != english
