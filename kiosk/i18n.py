"""The kiosk in the students' language: gettext catalogs, and which language a page uses.

Catalogs are gettext ``.po`` files under ``kiosk/locale/<lang>/LC_MESSAGES/kiosk.po``
(English is the source language; ``kiosk/locale/kiosk.pot`` lists every message).
They are compiled in memory with Babel when the app starts, on a thread, so a fresh
clone needs no build step and the committed ``.po`` files are the only source.

A page's language, first match wins:

1. the student's own choice on the start page (``/?lang=fr``, then remembered in the
   ``kiosk_lang`` cookie: the language code and nothing else, no tracking);
2. the language the teacher pinned for the class (the ``language`` setting, or the
   dashboard, which saves it in ``<data_dir>/language``);
3. the browser's ``Accept-Language``;
4. English.
"""

from __future__ import annotations

import contextlib
import gettext
import io
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "kiosk"
SOURCE_LANGUAGE = "en"
COOKIE = "kiosk_lang"
QUERY = "lang"
PIN_FILE = "language"

# Code → the language's name in itself (what a student looks for in the switcher).
LANGUAGES: dict[str, str] = {
    "en": "English",
    "fr": "Français",
    "es": "Español",
    "de": "Deutsch",
    "pt_BR": "Português (Brasil)",
    "ar": "العربية",
}
RIGHT_TO_LEFT = frozenset({"ar"})
# Code → the locale of JupyterLab's official language pack for it (in each bundle recipe).
JUPYTERLAB_LOCALES: dict[str, str] = {
    "en": "en", "fr": "fr_FR", "es": "es_ES", "de": "de_DE", "pt_BR": "pt_BR", "ar": "ar_SA",
}

_TAG_RE = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*")


def N_(message: str) -> str:
    """Mark a message for the catalogs; it is translated where it is shown."""
    return message


def known(code: str | None) -> str | None:
    """A supported language code for a language tag (``pt-br`` → ``pt_BR``), or None.

    A region we do not have falls back to the language (``fr-CA`` → ``fr``); Portuguese
    from anywhere gets Brazilian Portuguese, the one we have.
    """
    if not code or not _TAG_RE.fullmatch(code):
        return None
    parts = code.replace("_", "-").split("-")
    lang = parts[0].lower()
    region = parts[1].upper() if len(parts) > 1 else ""
    if region and f"{lang}_{region}" in LANGUAGES:
        return f"{lang}_{region}"
    if lang in LANGUAGES:
        return lang
    return next((c for c in LANGUAGES if c.split("_")[0] == lang), None)


def html_lang(code: str) -> str:
    """The BCP 47 tag for ``<html lang>``: ``pt_BR`` → ``pt-BR``."""
    return code.replace("_", "-")


def direction(code: str) -> str:
    return "rtl" if code in RIGHT_TO_LEFT else "ltr"


def from_accept_language(header: str | None) -> str | None:
    """The first supported language of an ``Accept-Language`` header, by weight."""
    if not header:
        return None
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")[:50]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        match = re.search(r"q\s*=\s*([^;,\s]*)", params)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                continue  # a weight that is not a number: skip that language
        if quality > 0:
            weighted.append((-quality, index, tag.strip()))
    for _, _, tag in sorted(weighted):
        code = known(tag)
        if code is not None:
            return code
    return None


def compile_po(path: Path) -> gettext.GNUTranslations:
    """A ``.po`` file as gettext translations (compiled in memory with Babel)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as po:
        catalog = read_po(po, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def load_catalogs(locale_dir: Path = LOCALE_DIR) -> dict[str, gettext.NullTranslations]:
    """Every language's translations (blocking: read and compile the ``.po`` files)."""
    catalogs: dict[str, gettext.NullTranslations] = {SOURCE_LANGUAGE: gettext.NullTranslations()}
    for code in LANGUAGES:
        path = locale_dir / code / "LC_MESSAGES" / f"{DOMAIN}.po"
        if code != SOURCE_LANGUAGE and path.is_file():
            catalogs[code] = compile_po(path)
    return catalogs


@dataclass(slots=True)
class LanguagePin:
    """The language the teacher pinned for the class (None: follow each browser).

    Starts from the ``language`` setting; a choice made on the dashboard is saved in
    ``<data_dir>/language`` and wins over the setting from then on ("auto" saved there
    means: follow each browser, whatever the setting says).
    """

    setting: str | None
    path: Path
    dashboard_choice: str | None = None
    chosen_on_dashboard: bool = field(default=False)

    @property
    def language(self) -> str | None:
        return self.dashboard_choice if self.chosen_on_dashboard else self.setting

    def load(self) -> None:
        """Read the dashboard's saved choice (blocking)."""
        try:
            saved = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return
        if saved == "auto":
            self.dashboard_choice, self.chosen_on_dashboard = None, True
        elif known(saved) is not None:
            self.dashboard_choice, self.chosen_on_dashboard = known(saved), True

    def save(self, code: str | None) -> None:
        """Pin ``code`` (None: follow each browser) and keep it across restarts (blocking)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(code or "auto", encoding="utf-8")
        os.replace(tmp, self.path)
        self.dashboard_choice, self.chosen_on_dashboard = code, True


LANGUAGE_PIN = web.AppKey("language_pin", LanguagePin)


def student_choice(request: web.Request) -> str | None:
    """The language the student chose on the start page (query, else cookie)."""
    return known(request.query.get(QUERY)) or known(request.cookies.get(COOKIE))


def request_language(request: web.Request) -> str:
    """The language of the page answering ``request`` (see the module's docstring)."""
    pin = request.app.get(LANGUAGE_PIN)
    return (student_choice(request)
            or (pin.language if pin is not None else None)
            or from_accept_language(request.headers.get("Accept-Language"))
            or SOURCE_LANGUAGE)


def translator(catalogs: Mapping[str, gettext.NullTranslations],
               code: str) -> gettext.NullTranslations:
    return catalogs.get(code) or catalogs.get(SOURCE_LANGUAGE) or gettext.NullTranslations()


def class_language(setting: str | None, data_dir: Path) -> str | None:
    """The language pinned for the class (blocking): the dashboard's choice saved in the
    data directory, else the ``language`` setting; None when each one's own is used."""
    pin = LanguagePin(setting=setting, path=data_dir / PIN_FILE)
    with contextlib.suppress(OSError, UnicodeDecodeError):
        pin.load()  # an unreadable pin file: the setting
    return pin.language


def cli_language(setting: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The language of the command line's messages: the setting, else the locale."""
    env = os.environ if environ is None else environ
    for value in (setting, env.get("LANGUAGE", "").split(":")[0], env.get("LC_ALL"),
                  env.get("LC_MESSAGES"), env.get("LANG")):
        code = known((value or "").split(".")[0])
        if code is not None:
            return code
    return SOURCE_LANGUAGE


def cli_translations(setting: str | None,
                     environ: Mapping[str, str] | None = None) -> gettext.NullTranslations:
    """The translations of the command line's messages (blocking: compiles one catalog)."""
    code = cli_language(setting, environ)
    path = LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"
    if code == SOURCE_LANGUAGE or not path.is_file():
        return gettext.NullTranslations()
    return compile_po(path)


def language_choices(codes: Iterable[str] = LANGUAGES) -> list[tuple[str, str]]:
    """(code, name in itself) for the switchers."""
    return [(code, LANGUAGES[code]) for code in codes]

# The notebook extension's catalog (its Share dialog, badge and toolbar): the same
# languages, in kiosk/locale/<lang>/LC_MESSAGES/kiosk_share.po; the bundle builder turns it
# into JupyterLab translation data (kiosk/bundle/translations.py).
EXTENSION_DOMAIN = "kiosk_share"

def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a message with plural forms for the catalogs; see :class:`Message`."""
    return singular, plural


@dataclass(frozen=True, slots=True)
class Message:
    """A text made now and shown later in whichever language: its catalog template
    (marked with ``N_``, or ``Nn_`` with a ``count``) and the values to fill in, which
    may be Messages themselves. ``render()`` without translations gives the English."""

    template: str
    values: Mapping[str, object] = field(default_factory=dict)
    plural: str | None = None
    count: int = 1

    @classmethod
    def counted(cls, forms: tuple[str, str], count: int, **values: object) -> Message:
        return cls(forms[0], {"n": count, **values}, plural=forms[1], count=count)

    def render(self, translations: gettext.NullTranslations | None = None) -> str:
        t = translations if translations is not None else gettext.NullTranslations()
        values = {k: v.render(t) if isinstance(v, Message) else v
                  for k, v in self.values.items()}
        text = (t.ngettext(self.template, self.plural, self.count) if self.plural is not None
                else t.gettext(self.template))
        return text % values if values else text


def message(template: str, **values: object) -> Message:
    """A :class:`Message` (``template`` marked with ``N_`` where it is written)."""
    return Message(template, values)
