"""Inline scripts a Content-Security-Policy allows by hash, never by ``'unsafe-inline'``.

Shared by the kiosk's own pages (:func:`kiosk.templating.page_csp`) and the bundle's
pages (:mod:`kiosk.serving.pages`): both allow exactly the inline scripts a browser
would run, by the sha256 of their text.
"""

from __future__ import annotations

import base64
import hashlib
import re

_INLINE_SCRIPT_RE = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script\s*>",
                               re.IGNORECASE | re.DOTALL)
_TYPE_RE = re.compile(r"""\btype\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
_SRC_RE = re.compile(r"\bsrc\s*=", re.IGNORECASE)
_JS_TYPES = {"", "module", "text/javascript", "application/javascript"}


def script_hash(source: str) -> str:
    """The CSP source expression allowing one inline script."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def inline_script_hashes(html: str) -> list[str]:
    """Hashes of every inline script the browser would execute in this page."""
    hashes: list[str] = []
    for match in _INLINE_SCRIPT_RE.finditer(html):
        attrs = match.group("attrs")
        if _SRC_RE.search(attrs):
            continue
        type_match = _TYPE_RE.search(attrs)
        script_type = type_match.group(1).lower() if type_match else ""
        if script_type not in _JS_TYPES:
            continue  # JSON config blocks and templates never execute
        value = script_hash(match.group("body"))
        if value not in hashes:
            hashes.append(value)
    return hashes
