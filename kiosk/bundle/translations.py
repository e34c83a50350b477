"""The notebook extension's words in JupyterLite's translation data.

JupyterLab (and so JupyterLite) translates through one service: the page fetches
``api/translations/<locale>.json`` for the language JupyterLab runs in (the locale the
kiosk writes into ``jupyter-lite.json``), and each plugin asks it for its own domain.
``jupyter lite build`` writes those files from the official language packs in the build
environment. This module adds the kiosk extension's catalogs
(``kiosk/locale/<lang>/LC_MESSAGES/kiosk_share.po``) to them, as domain ``kiosk_share``,
after the build: the Share dialog then speaks whatever language JupyterLab's menus speak,
offline, with no second language switch. A language whose JupyterLab pack the bundle does
not carry has no such file, and both stay English there.

Blocking (reads and writes files): called by the bundle builder and the site importer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

from kiosk.i18n import EXTENSION_DOMAIN, JUPYTERLAB_LOCALES, LANGUAGES, SOURCE_LANGUAGE
from kiosk.i18n_catalog import extension_po_path

TRANSLATIONS_DIR = "api/translations"


def catalog_data(code: str) -> dict[str, Any]:
    """One language's extension catalog as JupyterLab translation data (Jed-style JSON):
    ``{"": {domain, language, plural_forms, version}, msgid: [translation, ...]}``."""
    path = extension_po_path(code)
    with path.open("rb") as src:
        catalog = read_po(src, locale=code)
    locale = JUPYTERLAB_LOCALES[code]
    data: dict[str, Any] = {"": {
        "domain": EXTENSION_DOMAIN,
        # JupyterLab looks messages up by its own language tag ("fr-FR").
        "language": locale.replace("_", "-"),
        "plural_forms": catalog.plural_forms,
        "version": hashlib.sha256(path.read_bytes()).hexdigest()[:12],
    }}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, str):
            if isinstance(message.string, str) and message.string:
                data[message.id] = [message.string]
        elif isinstance(message.string, tuple | list) and all(message.string):
            data[message.id[0]] = list(message.string)
    return data


def catalog_files() -> list[Path]:
    """The catalogs the extension's translations come from (for recipe fingerprints)."""
    return [p for p in (extension_po_path(c) for c in LANGUAGES if c != SOURCE_LANGUAGE)
            if p.is_file()]


def add_extension_catalogs(site: Path) -> list[str]:
    """Add the extension's catalogs to the site's translation files; the locales done."""
    done = []
    for code in LANGUAGES:
        if code == SOURCE_LANGUAGE or not extension_po_path(code).is_file():
            continue
        path = site / TRANSLATIONS_DIR / f"{JUPYTERLAB_LOCALES[code]}.json"
        if not path.is_file():
            continue  # no JupyterLab language pack for it: JupyterLab stays English too
        pack = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(pack, dict) or not isinstance(pack.get("data"), dict):
            continue
        pack["data"][EXTENSION_DOMAIN] = catalog_data(code)
        path.write_text(json.dumps(pack, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                        encoding="utf-8")
        done.append(JUPYTERLAB_LOCALES[code])
    return done
