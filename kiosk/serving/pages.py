"""What the kiosk changes in the bundle's pages: a polyfill first, and a CSP made to fit.

Over plain HTTP on a LAN address the browser is not in a secure context and has no
``crypto.randomUUID``; JupyterLab and its extensions call it while loading. The
polyfill below supplies it from ``crypto.getRandomValues`` and is inserted before
any other script of every HTML page. The page's CSP allows it, and the page's own
inline scripts, by their sha256 hashes: never ``'unsafe-inline'`` for scripts.
"""

from __future__ import annotations

import re

POLYFILL_JS = (
    "(function(){var c=self.crypto;if(c&&!c.randomUUID&&c.getRandomValues){"
    "c.randomUUID=function(){var b=c.getRandomValues(new Uint8Array(16)),h=[],i;"
    "b[6]=b[6]&15|64;b[8]=b[8]&63|128;"
    "for(i=0;i<16;i++)h.push((b[i]+256).toString(16).slice(1));"
    "return h.slice(0,4).join('')+'-'+h.slice(4,6).join('')+'-'+h.slice(6,8).join('')"
    "+'-'+h.slice(8,10).join('')+'-'+h.slice(10).join('')}}})();"
)
POLYFILL_TAG = f"<script>{POLYFILL_JS}</script>"

_HEAD_RE = re.compile(r"<head(\s[^>]*)?>", re.IGNORECASE)
_HTML_RE = re.compile(r"<html(\s[^>]*)?>", re.IGNORECASE)
_DOCTYPE_RE = re.compile(r"<!doctype[^>]*>", re.IGNORECASE)


# The relay's page side (kiosk.relay): it must run before JupyterLite's own scripts.
BRIDGE_TAG = '<script src="/_kiosk/bridge.js"></script>'


def inject_polyfill(html: str, extra: str = "") -> str:
    """Insert the polyfill (then ``extra`` tags) before every other script of a page."""
    tags = POLYFILL_TAG + extra
    for pattern in (_HEAD_RE, _HTML_RE, _DOCTYPE_RE):
        match = pattern.search(html)
        if match:
            return html[: match.end()] + tags + html[match.end():]
    return tags + html


#: Stands for the request's origin in a stored CSP (see :func:`csp_for_origin`).
ORIGIN_PLACEHOLDER = "{origin}"
#: Script paths outside the bundle that its pages load.
KIOSK_SCRIPTS = ("/_kiosk/bridge.js",)


def script_paths(rel_paths: list[str]) -> list[str]:
    """The paths scripts of a bundle may come from: its top-level scripts exactly, and
    each top-level folder that holds scripts (never ``api/``: the kiosk's own API, and
    JupyterLite's JSON, live there)."""
    found: set[str] = set()
    for rel in rel_paths:
        if not rel.endswith((".js", ".mjs")):
            continue
        top, sep, _ = rel.partition("/")
        if top == "api":
            continue
        found.add(f"/{top}/" if sep else f"/{rel}")
    return [*sorted(found), *KIOSK_SCRIPTS]


def csp_for_origin(csp: str, origin: str) -> str:
    """A stored bundle CSP with the origin the page was loaded from filled in."""
    return csp.replace(ORIGIN_PLACEHOLDER, origin)


def bundle_csp(script_hashes: list[str], paths: list[str] | None = None) -> str:
    """The Content-Security-Policy for bundle pages and scripts.

    Only the kiosk's own origin is allowed anywhere. Scripts and workers come only from
    ``paths`` of it (see :func:`script_paths`; never ``/api/``, where ``/api/fetch``
    answers a stranger's bytes), filled in per request by :func:`csp_for_origin`;
    without ``paths``, from all of 'self'. WebAssembly compilation needs
    'wasm-unsafe-eval'; Pyodide's JavaScript bridge evaluates code, so 'unsafe-eval'
    stays (it widens nothing beyond those scripts). JupyterLab injects style elements at
    run time, so styles allow inline.
    """
    sources = ["'self'"] if paths is None else [ORIGIN_PLACEHOLDER + p for p in paths]
    scripts = " ".join([*sources, "'wasm-unsafe-eval'", "'unsafe-eval'", *script_hashes])
    workers = " ".join([*sources, "blob:"])
    return "; ".join([
        "default-src 'self'",
        f"script-src {scripts}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self' data: blob:",
        f"worker-src {workers}",
        "frame-src 'self' blob: data:",
        "media-src 'self' data: blob:",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ])
