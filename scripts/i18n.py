"""Keep the kiosk's message catalogs in step with its templates and code.

    .venv/bin/python scripts/i18n.py        # write kiosk/locale/kiosk.pot, update every .po

It also keeps the notebook extension's catalog (domain ``kiosk_share``: the messages of
``extension/src/*.ts``) in ``kiosk/locale/kiosk_share.pot`` and each ``kiosk_share.po``.

New messages appear in each ``.po`` untranslated (tests/test_i18n.py then fails until a
translation is written); messages no longer used are dropped. The ``.po`` files are the
source: the kiosk compiles them in memory when it starts (kiosk.i18n.compile_po).
"""

from __future__ import annotations

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from kiosk.i18n import DOMAIN, EXTENSION_DOMAIN, LANGUAGES, LOCALE_DIR, SOURCE_LANGUAGE
from kiosk.i18n_catalog import extension_po_path, extract, extract_extension, po_path


def _write(catalog: Catalog, path) -> None:  # type: ignore[no-untyped-def]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        write_po(out, catalog, width=100, omit_header=False, include_previous=False,
                 no_location=False, sort_output=False)


def main() -> None:
    update(extract(), DOMAIN, po_path)
    update(extract_extension(), EXTENSION_DOMAIN, extension_po_path)


def update(template: Catalog, domain: str, path_of) -> None:  # type: ignore[no-untyped-def]
    _write(template, LOCALE_DIR / f"{domain}.pot")
    for code in LANGUAGES:
        if code == SOURCE_LANGUAGE:
            continue
        path = path_of(code)
        if path.exists():
            with path.open("rb") as src:
                catalog = read_po(src, locale=code)
        else:
            catalog = Catalog(locale=code, domain=domain, project="jupyterlite-kiosk",
                              fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        _write(catalog, path)
        print(f"{path}: {len(catalog)} messages")


if __name__ == "__main__":
    main()
