"""Checking what clients send: JSON syntax, the nbformat v4 schema, sizes.

Pure functions with no I/O; validating a large notebook takes a while, so the API
runs :func:`parse_post_body` and :func:`parse_put_body` in a thread. Every failure is
a :mod:`kiosk.errors` exception whose message says what is wrong.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from nbformat.validator import get_validator

from kiosk.errors import BadRequest, KioskError, PayloadTooLarge, Unprocessable

_WS = re.compile(r"[ \t\n\r]*")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
NAME_MAX = 120
#: Deepest nesting of arrays and objects accepted in a body (real notebooks stay near 10;
#: far deeper input would exhaust the recursion of the parser, the schema check or the
#: renderer).
MAX_DEPTH = 100


@dataclass(frozen=True, slots=True)
class Notebook:
    """A checked notebook: its exact text, the parsed object and a display name."""

    text: str
    data: dict[str, Any]
    name: str | None

    @property
    def size(self) -> int:
        return len(self.text.encode())


@dataclass(frozen=True, slots=True)
class PostBody:
    """The body of ``POST notebooks``: ``{"notebook": {...}, "password"?: "..."}``."""

    notebook: Notebook
    password: str | None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _decode_text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"The body is not UTF-8 text (byte {exc.start}).") from None


def _json_error(exc: ValueError | RecursionError) -> BadRequest:
    if isinstance(exc, RecursionError):
        return _too_deep()
    if isinstance(exc, json.JSONDecodeError):
        return BadRequest(f"The body is not valid JSON: {exc.msg} at line {exc.lineno} "
                          f"column {exc.colno}.")
    return BadRequest(f"The body is not valid JSON: {exc}.")


def _too_deep() -> BadRequest:
    return BadRequest(f"The body is nested too deeply: at most {MAX_DEPTH} levels of "
                      "arrays and objects are accepted.")


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Raise :class:`BadRequest` if ``value`` nests deeper than ``limit`` (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise _too_deep()
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, dict | list))


def parse_json(body: bytes | str) -> Any:
    """Parse a JSON body (UTF-8, no NaN/Infinity) or raise :class:`BadRequest`."""
    text = body if isinstance(body, str) else _decode_text(body)
    try:
        value, end = _DECODER.raw_decode(text, _WS.match(text, 0).end())  # type: ignore[union-attr]
        if _WS.match(text, end).end() != len(text):  # type: ignore[union-attr]
            raise json.JSONDecodeError("extra data after the JSON value", text, end)
    except (ValueError, RecursionError) as exc:
        raise _json_error(exc) from None
    check_depth(value)
    return value


def split_object(text: str) -> dict[str, tuple[Any, str]]:
    """Parse a JSON object, keeping each member's value *and its exact source text*.

    This is how ``POST notebooks`` stores the notebook exactly as it was sent even
    though it arrives wrapped in ``{"notebook": ...}``.
    """
    def skip(pos: int) -> int:
        return _WS.match(text, pos).end()  # type: ignore[union-attr]

    def expect(pos: int, char: str) -> int:
        if text[pos:pos + 1] != char:
            raise json.JSONDecodeError(f"expected {char!r}", text, pos)
        return skip(pos + 1)

    try:
        pos = expect(skip(0), "{")
        members: dict[str, tuple[Any, str]] = {}
        if text[pos:pos + 1] == "}":
            pos = skip(pos + 1)
        else:
            while True:
                if text[pos:pos + 1] != '"':
                    raise json.JSONDecodeError("expected a member name", text, pos)
                key, pos = _DECODER.raw_decode(text, pos)
                pos = expect(skip(pos), ":")
                start = pos
                value, pos = _DECODER.raw_decode(text, pos)
                members[key] = (value, text[start:pos])
                pos = skip(pos)
                if text[pos:pos + 1] == ",":
                    pos = skip(pos + 1)
                    continue
                pos = expect(pos, "}")
                break
        if pos != len(text):
            raise json.JSONDecodeError("extra data after the JSON value", text, pos)
    except (ValueError, RecursionError) as exc:
        raise _json_error(exc) from None
    for value, _ in members.values():
        check_depth(value, MAX_DEPTH - 1)
    return members


def notebook_problem(data: Any) -> str | None:
    """Why ``data`` is not a valid nbformat v4 notebook, or None if it is one."""
    if not isinstance(data, dict):
        return "the notebook must be a JSON object"
    major, minor = data.get("nbformat"), data.get("nbformat_minor")
    if major != 4 or isinstance(major, bool):
        return f"only nbformat 4 notebooks can be shared (this one says nbformat={major!r})"
    if not isinstance(minor, int) or isinstance(minor, bool) or minor < 0:
        return "nbformat_minor must be a whole number"
    validator = get_validator(version=4, version_minor=minor)  # type: ignore[no-untyped-call]
    if validator is None:  # pragma: no cover - nbformat always knows v4
        return "nbformat cannot validate this version"
    for error in validator.iter_errors(data):
        where = "/".join(str(p) for p in getattr(error, "path", ())) or "the notebook"
        return f"{where}: {getattr(error, 'message', error)}"
    return None


def display_name(data: dict[str, Any]) -> str | None:
    """A short name for the teacher's list: JE's ``sharedName``, else the first heading."""
    metadata = data.get("metadata")
    if isinstance(metadata, dict):
        shared = metadata.get("sharedName")
        if isinstance(shared, str) and shared.strip():
            return shared.strip()[:NAME_MAX]
    for cell in data.get("cells", ())[:20]:
        if isinstance(cell, dict) and cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            text = "".join(source) if isinstance(source, list) else str(source)
            match = _HEADING.search(text)
            if match:
                return match.group(1)[:NAME_MAX]
    return None


def _checked(text: str, data: Any, max_bytes: int, error: type[KioskError]) -> Notebook:
    size = len(text.encode())
    if size > max_bytes:
        raise PayloadTooLarge(too_large_message(size, max_bytes))
    problem = notebook_problem(data)
    if problem is not None:
        raise error(f"This is not a valid Jupyter notebook: {problem}.")
    return Notebook(text, data, display_name(data))


def too_large_message(size: int | None, max_bytes: int) -> str:
    limit = f"{max_bytes / 1048576:.1f} MiB".replace(".0 MiB", " MiB")
    if size is None:
        return f"The notebook is larger than the limit of {limit}."
    return f"The notebook is {size / 1048576:.1f} MiB; the limit is {limit}."


def parse_post_body(body: bytes, max_bytes: int) -> PostBody:
    """Check a ``POST notebooks`` body: 400 if not a JSON object, 422 if no valid notebook."""
    members = split_object(_decode_text(body))
    if "notebook" not in members:
        raise Unprocessable("The body must be {\"notebook\": <notebook>} "
                            "(with an optional \"password\").")
    password, _ = members.get("password", (None, ""))
    if password is not None and not isinstance(password, str):
        raise BadRequest("\"password\" must be a string.")
    if password is not None and len(password.encode()) > 72:
        raise BadRequest("\"password\" may be at most 72 bytes long.")
    data, text = members["notebook"]
    return PostBody(_checked(text, data, max_bytes, Unprocessable), password or None)


def parse_put_body(body: bytes, max_bytes: int) -> Notebook:
    """Check a ``PUT`` body (the bare notebook): 400 when it is not valid."""
    text = _decode_text(body)
    data = parse_json(text)
    return _checked(text.strip(), data, max_bytes, BadRequest)
