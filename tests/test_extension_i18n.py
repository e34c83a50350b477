"""The notebook extension in the students' language (issue 23): every word its dialogs,
badge and toolbar show goes through JupyterLab's translator, every catalog translates every
message (plural forms and ``%1`` placeholders included), and the bundle builder puts the
catalogs where JupyterLite's translation service serves them. The browser side is in
tests/test_extension_i18n_e2e.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from kiosk.bundle.translations import add_extension_catalogs, catalog_data
from kiosk.i18n import EXTENSION_DOMAIN, LANGUAGES, SOURCE_LANGUAGE
from kiosk.i18n_catalog import (
    EXTENSION_SRC,
    extension_po_path,
    extract_extension,
    refusal_reasons,
    scan_extension,
)
from kiosk.sync.upstream import PERSISTENT_ERROR, REFUSALS
from tests.catalog_checks import check_translated

TRANSLATED = [code for code in LANGUAGES if code != SOURCE_LANGUAGE]
_PLACEHOLDER_RE = re.compile(r"%\d")


def _catalog(code: str):
    with extension_po_path(code).open("rb") as src:
        return read_po(src, locale=code)


def _key(message) -> str | tuple[str, ...]:
    return message.id if isinstance(message.id, str) else tuple(message.id)


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_extension_message_is_translated(code: str) -> None:
    wanted = {_key(m) for m in extract_extension() if m.id}
    catalog = _catalog(code)
    assert {_key(m) for m in catalog if m.id} == wanted, (
        "run scripts/i18n.py, then translate the new messages in "
        f"{extension_po_path(code)}")
    check_translated(catalog, code, _PLACEHOLDER_RE)
    for message in catalog:
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        forms = [message.string] if isinstance(message.string, str) else list(message.string)
        if len(ids) == 2 and code == "ar":
            assert len(set(forms)) == 6, message.id  # Arabic's six forms, each its own


def test_the_extension_has_its_messages_and_the_kiosks_refusal_reasons() -> None:
    ids = {_key(m) for m in extract_extension() if m.id}
    # What the Share dialog, the badge and the toolbar show (spot checks).
    for text in ("Shared!", "Copy link", "Share", "To take home", "No take-home link: %1.",
                 '"%1" is shared. Anyone in the class can open it with:'):
        assert text in ids, text
    assert ("%1 waiting to sync", "%1 waiting to sync") in ids
    # The reasons the kiosk gives for a refused share: the dialog translates them.
    for reason in [*REFUSALS.values(), PERSISTENT_ERROR]:
        assert reason in ids, reason
        assert catalog_data("fr")[reason][0] != reason


def test_the_only_message_made_at_run_time_is_the_refusal_reason() -> None:
    """A call like trans.__(`${x} waiting`) cannot be in a catalog: only the refusal
    reason (looked up among the kiosk's reasons, which the catalogs carry) may be dynamic."""
    _, dynamic = scan_extension()
    assert [(d.filename, d.source) for d in dynamic] == [("api.ts", "return trans.__(reason);")]


# Where a TypeScript source puts words on the screen: element text, labels, titles,
# tooltips, dialogs and notifications. A plain string literal with letters there is an
# untranslated word (the translator call wraps it otherwise).
_SHOWN_RE = [
    re.compile(r"\b(?:textContent|title|label|tooltip|caption|okLabel|cancelLabel)\s*[:=]\s*"
               r"(['\"`][^'\"`]*[A-Za-z]{2}[^'\"`]*['\"`])"),
    re.compile(r"\bel\(\s*'[a-z0-9]+'\s*,\s*\{[^{}]*\}\s*,\s*(['\"`][^'\"`]*[A-Za-z]{2})"),
    re.compile(r"\b(?:showError|Notification\.\w+)\(\s*(['\"`][^'\"`]*[A-Za-z]{2})"),
    re.compile(r"setAttribute\(\s*'(?:aria-label|title|placeholder|alt)'\s*,\s*"
               r"(['\"`][^'\"`]*[A-Za-z]{2})"),
]


def untranslated_literals(src_dir: Path) -> list[str]:
    found = []
    for path in sorted(src_dir.glob("*.ts")):
        text = path.read_text(encoding="utf-8")
        for pattern in _SHOWN_RE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.name}:{line}: {match.group(0)[:80]}")
    return found


def test_no_shown_text_bypasses_the_translator() -> None:
    assert untranslated_literals(EXTENSION_SRC) == []


def test_the_check_finds_untranslated_words(tmp_path: Path) -> None:
    """The check above is not blind: the English-only code it replaced fails it."""
    (tmp_path / "x.ts").write_text(
        "node.textContent = 'Copied!';\n"
        "const b = el('div', { class: 'kiosk-ShareDialog-label' }, 'Code');\n"
        "await showError('Not shared', explain(err));\n"
        "svg.setAttribute('aria-label', `QR code of ${text}`);\n"
        "const ok = { label: trans.__('Share'), kiosk: 'badge-share' };\n", encoding="utf-8")
    assert len(untranslated_literals(tmp_path)) == 4


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    translations = site / "api" / "translations"
    translations.mkdir(parents=True)
    for locale in ("fr_FR", "ar_SA"):
        (translations / f"{locale}.json").write_text(json.dumps({"data": {"jupyterlab": {
            "": {"domain": "jupyterlab", "language": locale.replace("_", "-"),
                 "plural_forms": "nplurals=2; plural=(n > 1);", "version": "4.5"},
            "File": ["Fichier"]}}, "message": ""}), encoding="utf-8")
    (translations / "all.json").write_text('{"data": {}, "message": ""}', encoding="utf-8")
    return site


def test_the_builder_adds_the_catalogs_to_jupyterlites_translation_data(tmp_path: Path) -> None:
    site = _site(tmp_path)
    assert add_extension_catalogs(site) == ["fr_FR", "ar_SA"]
    french = json.loads((site / "api/translations/fr_FR.json").read_text(encoding="utf-8"))
    assert french["data"]["jupyterlab"]["File"] == ["Fichier"]  # JupyterLab's own kept
    ours = french["data"][EXTENSION_DOMAIN]
    # What JupyterLab's TranslationManager needs: the header, then msgid -> [forms].
    assert ours[""]["language"] == "fr-FR" and ours[""]["domain"] == EXTENSION_DOMAIN
    assert ours[""]["plural_forms"].startswith("nplurals=3;")
    assert ours["Shared!"] == ["Partagé !"]
    assert ours['"%1" is shared. Anyone in the class can open it with:'] == [
        "« %1 » est partagé. Toute la classe peut l'ouvrir avec :"]
    assert ours[REFUSALS[413]] == [
        "trop gros pour le service en ligne : efface les sorties et partage à nouveau"]
    assert len(ours["%1 waiting to sync"]) == 3
    arabic = json.loads((site / "api/translations/ar_SA.json").read_text(encoding="utf-8"))
    assert arabic["data"][EXTENSION_DOMAIN]["Share"] == ["مشاركة"]
    assert len(arabic["data"][EXTENSION_DOMAIN]["%1 waiting to sync"]) == 6
    # No JupyterLab pack for German here: no file made up (JupyterLab stays English too).
    assert not (site / "api/translations/de_DE.json").exists()
    # Running it again (an imported site, a rebuild) gives the same files.
    before = (site / "api/translations/fr_FR.json").read_bytes()
    add_extension_catalogs(site)
    assert (site / "api/translations/fr_FR.json").read_bytes() == before


def test_the_catalog_reads_syncs_refusal_reasons_as_they_are() -> None:
    """The extension's catalog takes sync's refusal reasons from its source (no import of
    a capability from a core tool): the same list sync answers with."""
    assert refusal_reasons() == [*REFUSALS.values(), PERSISTENT_ERROR]


def test_a_changed_catalog_makes_bundles_stale(tmp_path: Path, monkeypatch) -> None:
    """The bundle carries the catalogs, so `kiosk bundle build --if-missing` must rebuild
    after a translation changes: they count in the recipe's fingerprint (with the extension)."""
    from kiosk.bundle import profiles
    from tests.test_bundle_recipe import PROFILE

    folder = tmp_path / "recipes" / "fake"
    folder.mkdir(parents=True)
    (folder / "profile.toml").write_text(PROFILE, encoding="utf-8")
    extension = tmp_path / "labextension"
    extension.mkdir()
    (extension / "package.json").write_text("{}", encoding="utf-8")
    po = tmp_path / "fr" / "LC_MESSAGES" / "kiosk_share.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid "Share"\nmsgstr "Partager"\n', encoding="utf-8")
    monkeypatch.setattr(profiles, "catalog_files", lambda: [po])
    recipe = profiles.load_profile(tmp_path / "recipes", "fake")
    before = profiles.recipe_fingerprint(recipe, extension)
    without = profiles.recipe_fingerprint(recipe)
    assert profiles.recipe_fingerprint(recipe, extension) == before
    po.write_text('msgid "Share"\nmsgstr "Partage"\n', encoding="utf-8")
    assert profiles.recipe_fingerprint(recipe, extension) != before
    # Without the extension, the bundle has none of its words: the catalogs do not count.
    assert profiles.recipe_fingerprint(recipe) == without


def test_an_imported_site_gets_the_catalogs_with_the_extension(tmp_path: Path) -> None:
    """`kiosk bundle import` adds the kiosk extension to someone else's JupyterLite site:
    its words come along, in the languages whose JupyterLab pack that site carries."""
    from kiosk.bundle.site_import import ImportReport, add_extension

    site = _site(tmp_path)
    (site / "jupyter-lite.json").write_text(
        json.dumps({"jupyter-config-data": {"federated_extensions": []}}), encoding="utf-8")
    extension = tmp_path / "labextension"
    (extension / "static").mkdir(parents=True)
    (extension / "package.json").write_text(json.dumps({
        "name": "@kiosk/share-extension",
        "jupyterlab": {"_build": {"load": "static/remoteEntry.abc.js", "extension": "./extension"}},
    }), encoding="utf-8")
    report = ImportReport(source="site.zip")
    add_extension(site, extension, report)
    assert report.kiosk_extension
    french = json.loads((site / "api/translations/fr_FR.json").read_text(encoding="utf-8"))
    assert french["data"][EXTENSION_DOMAIN]["Copy link"] == ["Copier le lien"]
