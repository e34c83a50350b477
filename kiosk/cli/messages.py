"""The command line's messages to teachers, in their language.

Through the same gettext catalogs as the kiosk's pages (:mod:`kiosk.i18n`). The language:
the one the teacher pinned for the class (the ``language`` setting, or the dashboard's
choice saved in ``<data_dir>/language``), else the system's locale as gettext reads it
(``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else English.

Only what a teacher reads goes through here: ``--json`` output, QR codes, shell
commands and developer log lines stay as they are, and so do ``--help`` texts (they
make ``docs/cli.md``). In a command::

    t = translations(config)
    print(t.gettext("deleted %(code)s") % {"code": code})
"""

from __future__ import annotations

import functools
import gettext
from collections.abc import Mapping

from kiosk import i18n
from kiosk.config import KioskConfig


def language(config: KioskConfig | None, environ: Mapping[str, str] | None = None) -> str:
    """The language code of the messages (blocking: reads the dashboard's pin)."""
    pinned = (i18n.class_language(config.language, config.data_path)
              if config is not None else None)
    return i18n.cli_language(pinned, environ)


@functools.cache
def _catalog(code: str) -> gettext.NullTranslations:
    """One language's translations, compiled once per process."""
    path = i18n.LOCALE_DIR / code / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    if code == i18n.SOURCE_LANGUAGE or not path.is_file():
        return gettext.NullTranslations()
    return i18n.compile_po(path)


def translations(config: KioskConfig | None,
                 environ: Mapping[str, str] | None = None) -> gettext.NullTranslations:
    """The translations of the messages a command prints (blocking, the first time)."""
    return _catalog(language(config, environ))


def aligned(rows: list[tuple[str, str]], labels: list[str], gap: int = 1) -> list[str]:
    """``label value`` lines, the values in one column past the longest of ``labels``
    (every label the table may show, so the column does not move with what is shown)."""
    width = max(len(label) for label in labels) + gap
    return [f"{label:<{width}}{value}" for label, value in rows]


def known(t: gettext.NullTranslations, message: str | None) -> str:
    """``message`` in the teacher's language when the catalogs have it (it was marked
    with ``N_``), else as it is (an English detail from deeper down)."""
    return t.gettext(message) if message else ""
