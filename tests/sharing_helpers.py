"""Helpers for the sharing tests: notebooks of a given size, and a JE-like client."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def make_notebook(text: str = "print('hello')", *, pad_bytes: int = 0,
                  title: str | None = "My notebook") -> dict[str, Any]:
    """A valid nbformat 4.5 notebook, like the JE frontend sends, optionally padded."""
    cells: list[dict[str, Any]] = []
    if title:
        cells.append({"cell_type": "markdown", "id": uuid.uuid4().hex[:8], "metadata": {},
                      "source": [f"# {title}\n", "Some *text*."]})
    cells.append({"cell_type": "code", "id": uuid.uuid4().hex[:8], "metadata": {},
                  "execution_count": 1, "source": text,
                  "outputs": [{"output_type": "stream", "name": "stdout",
                               "text": ["hello\n", "x" * pad_bytes]}]})
    return {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python", "display_name": "Python (Pyodide)",
                                    "language": "python"},
                     "language_info": {"name": "python", "version": "3.12"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def check_saved(body: dict[str, Any], domain_id: str = "testkiosk") -> None:
    """What the JE frontend validates in a POST/PUT answer."""
    assert set(body) == {"message", "notebook"}
    assert isinstance(body["message"], str)
    nb = body["notebook"]
    assert UUID_RE.match(nb["id"])
    assert "readable_id" in nb
    assert nb["readable_id"] is None or isinstance(nb["readable_id"], str)
    assert isinstance(nb["domain_id"], str)
    assert nb["domain_id"] == domain_id


def check_retrieved(body: dict[str, Any], domain_id: str = "testkiosk") -> None:
    """What the JE frontend validates in a GET answer."""
    assert UUID_RE.match(body["id"])
    assert isinstance(body["domain_id"], str) and body["domain_id"] == domain_id
    assert "readable_id" in body
    content = body["content"]
    assert isinstance(content, dict)
    assert {"cells", "metadata", "nbformat"} <= set(content)


def dumps(obj: Any) -> str:
    return json.dumps(obj)


def get_json(url: str, token: str | None = None) -> dict[str, Any]:
    """GET JSON from a kiosk on loopback (a real socket), with a bearer token if given."""
    import urllib.request

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(url, headers=headers, method="GET")
    with urllib.request.urlopen(req, timeout=10) as resp:
        result: dict[str, Any] = json.loads(resp.read())
    return result


def post_json(url: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    """POST ``body`` as JSON to a kiosk on loopback (a real socket) and decode the answer."""
    import urllib.request

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers,
                                 method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        result: dict[str, Any] = json.loads(resp.read())
    return result
