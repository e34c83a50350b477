"""The message catalog of the kiosk's pages: what to translate, and each language's state.

:func:`extract` collects every message of ``kiosk/templates`` (``_()``, ``{% trans %}``)
and of the Python modules (``_()``, ``N_()``, ``Nn_()``, ``gettext()``, ``ngettext()``). Used by
``scripts/i18n.py`` (writes ``kiosk/locale/kiosk.pot`` and updates the ``.po`` files)
and by the test that fails when a catalog misses a message.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

from kiosk.i18n import DOMAIN, LOCALE_DIR

PACKAGE_DIR = Path(__file__).parent
METHOD_MAP = [
    ("templates/**.html", "jinja2"),
    ("templates/**.svg", "jinja2"),
    ("**.py", "python"),
]
#: ``Nn_(singular, plural)`` marks a message with plural forms made now, shown later.
KEYWORDS = {**DEFAULT_KEYWORDS, "Nn_": (1, 2)}
OPTIONS = {"templates/**.html": {"trim_blocks": "True", "lstrip_blocks": "True"},
           "templates/**.svg": {"trim_blocks": "True", "lstrip_blocks": "True"}}


def extract(package_dir: Path = PACKAGE_DIR) -> Catalog:
    """Every message of the package's templates and modules, in a fresh catalog."""
    catalog = Catalog(project="jupyterlite-kiosk", domain=DOMAIN, charset="utf-8",
                      fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
            package_dir, METHOD_MAP, OPTIONS, keywords=KEYWORDS):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments,
                    context=context)
    return catalog


def po_path(code: str, locale_dir: Path = LOCALE_DIR) -> Path:
    return locale_dir / code / "LC_MESSAGES" / f"{DOMAIN}.po"
