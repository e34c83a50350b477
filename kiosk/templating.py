"""The kiosk's own pages: one Jinja2 environment, one stylesheet, a strict CSP per page.

Every HTML page the kiosk makes itself (start page, ``/join``, the poster, ``/s/``,
error pages, the captive portal's sheet, the dashboard) is a template under
``kiosk/templates/`` extending ``base.html``. Autoescaping is on for ``.html`` and
``.svg``: a value is escaped unless it is :class:`markupsafe.Markup` (QR codes drawn
by :mod:`kiosk.qr`, the sanitized notebook body of ``/s/``).

The environment is built once, in the app factory, and reached through
:data:`TEMPLATES`. Templates and static files are read from disk once, on a thread,
when the app starts (:meth:`Templates.load`); rendering does no I/O.

Static files (``kiosk/static/``) are served from memory at
``/_kiosk/static/<stem>.<digest>.<ext>``: the digest names the content, so browsers
may keep them for a year (``immutable``).

Each page carries its own Content-Security-Policy (:func:`page_csp`): no script at
all, unless the rendered page has inline scripts, which are then allowed by their
sha256 hashes, computed from the rendered HTML (never by hand, never ``'self'``, so
no file under ``/api/`` can ever run as a script of a kiosk page).
"""

from __future__ import annotations

import asyncio
import gettext
import hashlib
import mimetypes
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.runtime
from aiohttp import web
from markupsafe import Markup

from kiosk import i18n
from kiosk.config import KioskConfig
from kiosk.csp import inline_script_hashes

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/_kiosk/static/"
_YEAR = 365 * 24 * 3600

__all__ = ["TEMPLATES", "Markup", "Templates", "gettext_for", "html_response", "page_csp",
           "page_response", "render", "setup"]


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One file of ``kiosk/static/``, kept in memory with its content digest."""

    name: str
    body: bytes
    content_type: str
    digest: str

    @property
    def url_name(self) -> str:
        """``kiosk.css`` → ``kiosk.0123456789ab.css``."""
        stem, dot, ext = self.name.rpartition(".")
        return f"{stem}.{self.digest}.{ext}" if dot else f"{self.name}.{self.digest}"

    @property
    def url(self) -> str:
        return STATIC_PREFIX + self.url_name


def _read_static(directory: Path) -> dict[str, StaticFile]:
    files: dict[str, StaticFile] = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        body = path.read_bytes()
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype == "application/javascript":
            ctype += "; charset=utf-8"
        digest = hashlib.sha256(body).hexdigest()[:16]
        files[path.name] = StaticFile(path.name, body, ctype, digest)
    return files


class Templates:
    """The kiosk's Jinja2 environment and its static files.

    Cheap to build (no I/O); :meth:`load` reads the templates and static files and
    must run once before :meth:`render` (the app does it on a thread at startup).
    """

    def __init__(self, template_dir: Path = TEMPLATE_DIR,
                 static_dir: Path = STATIC_DIR) -> None:
        self.static_dir = static_dir
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(template_dir),
            autoescape=jinja2.select_autoescape(["html", "svg"]),
            undefined=jinja2.StrictUndefined,
            auto_reload=False,
            cache_size=-1,
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.i18n"],
        )
        # The translations are the render's own (each page has its language): the
        # callables read them from the context; "newstyle" escapes the variables.
        self.env.install_gettext_callables(  # type: ignore[attr-defined]
            _context_gettext, _context_ngettext, newstyle=True)
        self.env.globals["static_url"] = self.static_url
        self.env.filters["t"] = _context_translate
        self.catalogs: dict[str, gettext.NullTranslations] = {}
        self.static: dict[str, StaticFile] = {}
        self._by_url_name: dict[str, StaticFile] = {}
        self.loaded = False

    def load(self) -> Templates:
        """Read and compile every template, read every static file (blocking I/O)."""
        self.catalogs = i18n.load_catalogs()
        self.static = _read_static(self.static_dir)
        self._by_url_name = {f.url_name: f for f in self.static.values()}
        for name in self.env.list_templates():
            if not name.startswith("."):
                self.env.get_template(name)
        self.loaded = True
        return self

    def static_url(self, name: str) -> str:
        """The content-addressed URL of a static file (``KeyError`` if there is none)."""
        return self.static[name].url

    def static_file(self, url_name: str) -> StaticFile | None:
        return self._by_url_name.get(url_name)

    def translations(self, language: str) -> gettext.NullTranslations:
        return i18n.translator(self.catalogs, language)

    def render(self, name: str, /, *, language: str = i18n.SOURCE_LANGUAGE,
               **context: Any) -> str:
        """Render one template in ``language`` with ``context`` (escaped unless Markup)."""
        if not self.loaded:
            raise RuntimeError("Templates.load() has not run")
        return self.env.get_template(name).render(
            translations=self.translations(language), language=language,
            lang=i18n.html_lang(language), dir=i18n.direction(language), **context)


@jinja2.pass_context
def _context_gettext(context: jinja2.runtime.Context, message: str) -> str:
    translations: gettext.NullTranslations = context["translations"]
    return translations.gettext(message)


@jinja2.pass_context
def _context_ngettext(context: jinja2.runtime.Context, singular: str, plural: str,
                      count: int) -> str:
    translations: gettext.NullTranslations = context["translations"]
    return translations.ngettext(singular, plural, count)


@jinja2.pass_context
def _context_translate(context: jinja2.runtime.Context, message: str | None) -> str | None:
    """The ``t`` filter: a message made in Python (marked with ``N_``), translated.

    Unlike ``_()`` it does no ``%`` formatting, so any text (a URL in an error) is safe.
    """
    if message is None:
        return None
    translations: gettext.NullTranslations = context["translations"]
    return translations.gettext(message)


TEMPLATES = web.AppKey("templates", Templates)


def page_csp(page: str, *, connect: bool = False, inline_styles: bool = False,
             forms: bool = True) -> str:
    """The Content-Security-Policy of one rendered kiosk page.

    Scripts: only the page's own inline scripts, by hash (``'none'`` when it has
    none). Styles: the kiosk's stylesheet (plus inline ones where a page needs them,
    ``/s/`` for the notebook's highlighting). ``connect``: may fetch the kiosk's own
    URLs (``/join`` polls ``/join.json``).
    """
    scripts = " ".join(inline_script_hashes(page)) or "'none'"
    styles = "'self' 'unsafe-inline'" if inline_styles else "'self'"
    return "; ".join([
        "default-src 'none'",
        f"script-src {scripts}",
        f"style-src {styles}",
        "img-src 'self' data:",
        "connect-src 'self'" if connect else "connect-src 'none'",
        "form-action 'self'" if forms else "form-action 'none'",
        "object-src 'none'",
        "frame-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'self'",
    ])


def render(request: web.Request, template: str, /, **context: Any) -> str:
    """Render ``template`` in this request's language (:func:`kiosk.i18n.request_language`)."""
    return request.app[TEMPLATES].render(template, language=i18n.request_language(request),
                                         **context)


def gettext_for(request: web.Request) -> gettext.NullTranslations:
    """This request's translations, for messages made in Python (``_(...)``)."""
    return request.app[TEMPLATES].translations(i18n.request_language(request))


def page_response(page: str, *, status: int = 200, headers: Mapping[str, str] | None = None,
                  connect: bool = False, inline_styles: bool = False,
                  forms: bool = True) -> web.Response:
    """A rendered page as an HTML answer carrying its own CSP (see :func:`page_csp`)."""
    response = web.Response(text=page, status=status, content_type="text/html",
                            headers=dict(headers or {}))
    response.headers["Content-Security-Policy"] = page_csp(
        page, connect=connect, inline_styles=inline_styles, forms=forms)
    return response


def html_response(request: web.Request, template: str, *, status: int = 200,
                  headers: Mapping[str, str] | None = None, connect: bool = False,
                  inline_styles: bool = False, forms: bool = True,
                  **context: Any) -> web.Response:
    """Render ``template`` for this request into an HTML answer with its own CSP.

    The answer says its language, and that it depends on the browser's languages and on
    the student's choice (a cookie), so no cache serves it to another language.
    """
    language = i18n.request_language(request)
    response = page_response(
        request.app[TEMPLATES].render(template, language=language, **context),
        status=status, headers=headers, connect=connect, inline_styles=inline_styles,
        forms=forms)
    response.headers["Content-Language"] = i18n.html_lang(language)
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


async def static_file(request: web.Request) -> web.Response:
    """``GET /_kiosk/static/<stem>.<digest>.<ext>``: a static file, cached for a year."""
    found = request.app[TEMPLATES].static_file(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound(text="There is no such file.")
    etag = f'"{found.digest}"'
    headers = {"Cache-Control": f"public, max-age={_YEAR}, immutable", "ETag": etag}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=found.body, headers={**headers, "Content-Type": found.content_type})


def setup(app: web.Application, config: KioskConfig) -> None:
    """Add the environment, the class's language pin, their loading at startup and the
    static files' route."""
    templates = Templates()
    app[TEMPLATES] = templates
    pin = i18n.LanguagePin(setting=config.language,
                           path=config.data_path / i18n.PIN_FILE)
    app[i18n.LANGUAGE_PIN] = pin

    async def load(_app: web.Application) -> AsyncIterator[None]:
        await asyncio.to_thread(templates.load)
        await asyncio.to_thread(pin.load)
        yield

    app.cleanup_ctx.append(load)
    app.router.add_get(STATIC_PREFIX + "{name}", static_file, name="kiosk_static",
                       allow_head=True)
