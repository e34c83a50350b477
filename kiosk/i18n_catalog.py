"""The message catalog of the kiosk's pages: what to translate, and each language's state.

:func:`extract` collects every message of ``kiosk/templates`` (``_()``, ``{% trans %}``)
and of the Python modules (``_()``, ``N_()``, ``Nn_()``, ``gettext()``, ``ngettext()``). Used by
``scripts/i18n.py`` (writes ``kiosk/locale/kiosk.pot`` and updates the ``.po`` files)
and by the test that fails when a catalog misses a message.

:func:`extract_extension` does the same for the notebook extension (domain
``kiosk_share``): the messages of ``extension/src/*.ts`` (``trans.__('...')``,
``trans._n('...', '...', n)``, JupyterLab's placeholders ``%1``, ``%2``) and the kiosk's
reasons for a refused share, which the Share dialog shows translated. It reads the
source tree, so it runs in a checkout (scripts, tests), never in the installed kiosk.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

from kiosk.i18n import DOMAIN, EXTENSION_DOMAIN, LOCALE_DIR

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


EXTENSION_SRC = PACKAGE_DIR.parent / "extension" / "src"
# A call of the translator: trans.__( or trans._n( (whitespace allowed before the paren).
_CALL_RE = re.compile(r"\btrans\.(__|_n)\s*\(")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "f": "\f", "v": "\v"}


@dataclass(frozen=True, slots=True)
class DynamicCall:
    """A translator call whose message is not a string literal (not extractable)."""

    filename: str
    lineno: int
    source: str


def _js_string(text: str, start: int) -> tuple[str, int] | None:
    """The JavaScript string literal at ``start`` ('...', "..." or `...` without ${}) and
    the index after it; None when there is no literal there."""
    quote = text[start:start + 1]
    if quote not in ("'", '"', "`"):
        return None
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            nxt = text[i + 1]
            if nxt == "u":
                if text[i + 2] == "{":
                    end = text.index("}", i)
                    out.append(chr(int(text[i + 3:end], 16)))
                    i = end + 1
                else:
                    out.append(chr(int(text[i + 2:i + 6], 16)))
                    i += 6
                continue
            if nxt == "\n":  # a line continuation
                i += 2
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        if ch == quote:
            return "".join(out), i + 1
        if quote == "`" and text.startswith("${", i):
            return None  # a template with substitutions is not one message
        if ch == "\n" and quote != "`":
            return None
        out.append(ch)
        i += 1
    return None


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def scan_extension(src_dir: Path = EXTENSION_SRC
                   ) -> tuple[list[tuple[str, int, str | tuple[str, str]]], list[DynamicCall]]:
    """Every literal message of the extension's TypeScript, and the calls that are not."""
    messages: list[tuple[str, int, str | tuple[str, str]]] = []
    dynamic: list[DynamicCall] = []
    for path in sorted(src_dir.glob("*.ts")):
        text = path.read_text(encoding="utf-8")
        for match in _CALL_RE.finditer(text):
            lineno = text.count("\n", 0, match.start()) + 1
            line_start = text.rfind("\n", 0, match.start()) + 1
            before = text[line_start:match.start()].lstrip()
            if before.startswith(("//", "*", "/*")) or " // " in before:
                continue  # a comment that shows how to call the translator
            i = _skip_space(text, match.end())
            first = _js_string(text, i)
            if first is None:
                line = text.splitlines()[lineno - 1].strip()
                dynamic.append(DynamicCall(path.name, lineno, line))
                continue
            if match.group(1) == "__":
                messages.append((path.name, lineno, first[0]))
                continue
            i = _skip_space(text, first[1])
            second = _js_string(text, _skip_space(text, i + 1)) if text[i:i + 1] == "," else None
            if second is None:
                dynamic.append(DynamicCall(path.name, lineno, text.splitlines()[lineno - 1]))
                continue
            messages.append((path.name, lineno, (first[0], second[0])))
    return messages, dynamic


def extract_extension(src_dir: Path = EXTENSION_SRC) -> Catalog:
    """Every message of the notebook extension, in a fresh catalog (domain kiosk_share)."""
    catalog = Catalog(project="jupyterlite-kiosk", domain=EXTENSION_DOMAIN, charset="utf-8",
                      fuzzy=False)
    for filename, lineno, message in scan_extension(src_dir)[0]:
        catalog.add(message, None, [(filename, lineno)])
    # The kiosk's reasons for a refused share, as /api/kiosk/shares/<id>/upstream gives
    # them (English); the Share dialog looks them up at run time (api.ts, refusalWords).
    for reason in refusal_reasons():
        catalog.add(reason, None, [(REFUSALS_SOURCE.relative_to(PACKAGE_DIR.parent).as_posix(), 0)],
                    auto_comments=["A reason the cloud service refused a share, shown in the "
                                   "Share dialog after 'No take-home link: '."])
    return catalog


REFUSALS_SOURCE = PACKAGE_DIR / "sync" / "upstream.py"
_REFUSAL_NAMES = ("REFUSALS", "PERSISTENT_ERROR")


def refusal_reasons(source: Path = REFUSALS_SOURCE) -> list[str]:
    """The reasons sync gives for a refused share (``REFUSALS`` and ``PERSISTENT_ERROR``),
    read from its source as literals: a catalog tool reads sources, it does not import
    a capability (tests/test_layers.py)."""
    found: dict[str, object] = {}
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in _REFUSAL_NAMES:
                found[target.id] = ast.literal_eval(node.value)
    refusals, persistent = found.get("REFUSALS"), found.get("PERSISTENT_ERROR")
    if not isinstance(refusals, dict) or not isinstance(persistent, str):
        raise ValueError(f"{source}: REFUSALS and PERSISTENT_ERROR must be literals")
    return [*map(str, refusals.values()), persistent]


def extension_po_path(code: str, locale_dir: Path = LOCALE_DIR) -> Path:
    return locale_dir / code / "LC_MESSAGES" / f"{EXTENSION_DOMAIN}.po"
