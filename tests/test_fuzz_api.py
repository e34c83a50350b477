"""Schema-driven fuzz of ``/api/v1`` against a real ``kiosk serve`` (hypothesis).

The operations, their parameters and body schemas come from the kiosk's own
``/api/v1/openapi.json`` as served. For each operation hypothesis generates requests:
bodies valid by the schema (:func:`from_schema`), real nbformat notebooks with
arbitrary text, arbitrary JSON, raw bytes and nothing; path parameters that name real
shares, other strings and hostile spellings; and the headers that matter (content type,
``Authorization`` with this session's, another session's or a broken token,
``Idempotency-Key``). Every answer must be below 500, every error must be the JSON
``Error`` shape with its own status, every 2xx must match the operation's schema, and the
process must stay up. At the end the database must hold exactly the shares answered
201, each with the content of its last acknowledged save, all valid notebooks.

``KIOSK_FUZZ_EXAMPLES`` sets the examples per operation (default 300: under a minute);
``KIOSK_FUZZ_REPORT`` names a JSON file for the summary (``bench/run_all.py --only fuzz``
writes it into docs/reliability.md):

    KIOSK_FUZZ_EXAMPLES=1000 .venv/bin/pytest -p no:cacheprovider -s tests/test_fuzz_api.py
"""

from __future__ import annotations

import http.client
import json
import os
import sqlite3
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import KioskProcess
from tests.fakebundle import make_bundle
from tests.sharing_helpers import make_notebook

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("KIOSK_FUZZ_EXAMPLES", "300"))
METHODS_ELSEWHERE = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                    exclude_characters="\x7f"), max_size=300)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30)


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each picked in proportion to its weight."""
    slots = [i for i, (weight, _) in enumerate(choices) for _ in range(weight)]
    return st.sampled_from(slots).flatmap(lambda i: choices[i][1])


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid by a (resolved) JSON schema, for the keywords the document uses.

    hypothesis-jsonschema would do this, but its release of today fails on current
    hypothesis; the document's schemas use few keywords, all handled here.
    """
    if "const" in schema:
        return st.just(schema["const"])
    if "type" not in schema:
        return json_values  # any JSON value
    types = schema["type"]
    if isinstance(types, list):
        return st.one_of(*(from_schema({**schema, "type": t}) for t in types))
    if types == "null":
        return st.none()
    if types == "boolean":
        return st.booleans()
    if types in ("integer", "number"):
        low = schema.get("minimum")
        return st.integers(min_value=low) if types == "integer" else \
            st.floats(min_value=low, allow_nan=False, allow_infinity=False)
    if types == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        return st.text(min_size=schema.get("minLength", 0),
                       max_size=schema.get("maxLength", 200))
    if types == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=5)
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    fixed = st.fixed_dictionaries(
        {k: from_schema(v) for k, v in properties.items() if k in required},
        optional={k: from_schema(v) for k, v in properties.items() if k not in required})
    if schema.get("additionalProperties") is False:
        return fixed
    extra = st.dictionaries(st.text(max_size=20).filter(lambda k: k not in properties),
                            json_values, max_size=3)
    return st.builds(lambda a, b: {**b, **a}, fixed, extra)


@st.composite
def notebooks(draw: st.DrawFn) -> dict[str, Any]:
    """Valid nbformat 4 notebooks with arbitrary text in their cells and metadata."""
    nb = make_notebook(draw(st.text(max_size=500)), title=draw(st.none() | st.text(max_size=80)),
                       pad_bytes=draw(st.integers(0, 2000)))
    nb["metadata"]["fuzz"] = draw(json_values)
    return nb


class Api:
    """The live kiosk, the document it serves, and what it has acknowledged so far."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.doc = self.call("GET", "/api/v1/openapi.json")[1]
        self.tokens = [self.call("POST", "/api/v1/auth/issue")[1]["token"] for _ in range(2)]
        self.created: set[str] = set()
        self.expected: dict[str, Any] = {}  # share id -> content of its last acknowledged save
        self.uncertain: set[str] = set()  # touched by a replayed request: content not tracked
        self.readable: list[str] = []
        self.statuses: dict[str, Counter[int]] = {}
        self.server_errors = 0
        seed = make_notebook("seed")
        share = self.call("POST", "/api/v1/notebooks", json.dumps(
            {"notebook": seed}).encode(), self.auth(0))[1]["notebook"]
        self.created.add(share["id"])
        self.expected[share["id"]] = seed
        self.readable.append(share["readable_id"])

    def auth(self, which: int) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[which]}",
                "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        """One request on a fresh connection; (status, parsed JSON or raw bytes, headers)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            raw = resp.read()
            answer_headers = {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()
        parsed: Any = raw
        if method != "HEAD" and answer_headers.get("content-type", "").startswith(
                "application/json"):
            parsed = json.loads(raw)
        return resp.status, parsed, answer_headers

    def schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """``schema`` with the document's components beside it, so its $refs resolve."""
        return {**schema, "components": self.doc["components"]}


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, full path template, operation) for every operation of the document."""
    prefix = doc["servers"][0]["url"]
    return [(method.upper(), prefix + path, op) for path, item in doc["paths"].items()
            for method, op in item.items()]


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Inline every $ref (the document has no recursive schemas)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return resolve(doc, doc["components"]["schemas"][name])
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if isinstance(value, dict):
            out[key] = resolve(doc, value) if key != "properties" else {
                k: resolve(doc, v) for k, v in value.items()}
        else:
            out[key] = value
    return out


def request_strategy(api: Api, method: str, template: str,
                     op: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Requests for one operation: path, headers and body drawn from its schema and beyond."""
    body_schema = (op.get("requestBody", {}).get("content", {})
                   .get("application/json", {}).get("schema"))
    bodies: list[tuple[int, st.SearchStrategy[bytes | None]]] = [
        (1, st.none()), (1, st.binary(max_size=2000)),
        (1, json_values.map(lambda v: json.dumps(v).encode())),
        # Past the kiosk's size limit (started with --max-notebook-mib 0.1): 413 expected.
        (1, st.integers(110_000, 300_000).map(
            lambda n: b'{"notebook": {"cells": ["' + b"x" * n + b'"]}}'))]
    if body_schema is not None:
        resolved = resolve(api.doc, body_schema)
        bodies.append((2, from_schema(resolved).map(lambda v: json.dumps(v).encode())))
        if template.endswith("/notebooks"):
            bodies.append((4, st.builds(lambda nb, pw: json.dumps(
                {"notebook": nb, **({} if pw is None else {"password": pw})}).encode(),
                notebooks(), st.none() | st.text(max_size=100))))
        elif "Notebook" in str(body_schema):
            bodies.append((4, notebooks().map(lambda nb: json.dumps(nb).encode())))
        elif template.endswith("/auth/issue"):
            bodies.append((2, st.builds(lambda ref, pw: json.dumps(
                {"notebookId": ref, "password": pw}).encode(),
                st.sampled_from(sorted(api.created) + api.readable), st.text(max_size=80))))
        elif template.endswith("/auth/refresh"):
            bodies.append((2, st.sampled_from(api.tokens).map(
                lambda t: json.dumps({"token": t}).encode())))
    path_values = weighted(
        (5, st.sampled_from(sorted(api.created) + api.readable)),
        (1, st.sampled_from(sorted(api.created)).map(str.upper)),
        (1, st.sampled_from(api.readable).map(lambda r: f"  {r.upper()}.ipynb ")),
        (2, st.text(max_size=300)),
        (1, st.sampled_from(["..", "%2e%2e", "a/../b", "%00", "\\", "null", "-1",
                             "00000000-0000-0000-0000-000000000000", "x" * 5000])))
    quoting = st.sampled_from(["", "/", "%"])  # characters left unquoted: hostile spellings
    # Mostly what a real client sends (so requests get past the first check), sometimes not.
    auth = weighted((6, st.sampled_from([f"Bearer {api.tokens[0]}", f"Bearer {api.tokens[1]}"])),
                    (3, st.sampled_from([None, "Bearer", "Bearer x.y.z",
                                         f"Bearer {api.tokens[0][:-2]}",
                                         f"bearer {api.tokens[0]}", "Basic dXNlcjpwYXNz"])),
                    (1, header_text))
    content_type = weighted((6, st.sampled_from(["application/json",
                                                 "application/json; charset=utf-8"])),
                            (3, st.sampled_from(["text/plain", None, "multipart/form-data",
                                                 "application/json; charset=latin-1"])),
                            (1, header_text))
    idempotency = weighted((6, st.none()), (3, st.sampled_from(["k1", "k2", "", " "])),
                           (1, header_text))
    method_choice = weighted((8, st.just(method)), (2, st.sampled_from(METHODS_ELSEWHERE)))
    query = st.none() | st.text(max_size=100).map(lambda q: urllib.parse.quote(q, safe="=&"))

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        path = template
        for param in [p for p in op.get("parameters", []) if p["in"] == "path"]:
            value = draw(path_values)
            path = path.replace("{" + param["name"] + "}",
                                urllib.parse.quote(value, safe=draw(quoting)) or "%20")
        q = draw(query)
        headers = {k: v for k, v in {
            "Authorization": draw(auth), "Content-Type": draw(content_type),
            "Idempotency-Key": draw(idempotency)}.items() if v is not None}
        return {"method": draw(method_choice), "path": path + (f"?{q}" if q else ""),
                "headers": headers, "body": draw(weighted(*bodies))}

    return build()


def check_answer(api: Api, template: str, op: dict[str, Any], req: dict[str, Any],
                 status: int, body: Any, headers: dict[str, str]) -> None:
    """The contract every answer keeps, and the bookkeeping of acknowledged saves."""
    assert status < 500, (req, status, body)
    if req["method"] == "HEAD" or status in (204, 304) or not template.startswith("/api/v1"):
        return  # no body to check, or the share page (HTML)
    if status >= 400:
        assert isinstance(body, dict), (req, status, body)
        jsonschema.validate(body, api.schema(api.doc["components"]["schemas"]["Error"]))
        assert body["status"] == status, body
        return
    if req["method"] != op["_method"]:
        return  # another method that happened to succeed: it is not this operation
    spec = op.get("responses", {}).get(str(status))
    assert spec is not None, f"{req['method']} {template} answered {status}: undocumented"
    jsonschema.validate(body, api.schema(spec["content"]["application/json"]["schema"]))
    if req["method"] in ("POST", "PUT") and "notebooks" in template:
        share_id = body["notebook"]["id"]
        sent = json.loads(req["body"])
        content = sent["notebook"] if req["method"] == "POST" else sent
        if status == 201:
            api.created.add(share_id)
            api.readable.append(body["notebook"]["readable_id"])
        if headers.get("idempotent-replayed") == "true":
            api.uncertain.add(share_id)  # the first answer again: nothing new was stored
        else:
            api.expected[share_id] = content


def check_store(db: Path, api: Api) -> tuple[int, bool]:
    """The database holds exactly the acknowledged shares, each a valid notebook."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = dict(conn.execute("SELECT id, content FROM shares").fetchall())
    assert set(stored) == api.created, (set(stored) ^ api.created)
    for share_id, content in stored.items():
        nb = json.loads(content)
        nbformat.validate(nbformat.from_dict(nb))
        if share_id not in api.uncertain:
            assert nb == api.expected[share_id], f"share {share_id} does not hold its last save"
    return len(stored), True


def fuzz_operation(api: Api, kiosk: KioskProcess, method: str, template: str,
                   op: dict[str, Any], per_op: dict[str, int]) -> None:
    """Run ``EXAMPLES`` generated requests against one operation (hypothesis shrinks a
    failing one to a minimal request and prints it)."""
    name = f"{method} {template}"
    seen = api.statuses.setdefault(name, Counter())
    per_op[name] = 0

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(request_strategy(api, method, template, op))
    def fuzz(req: dict[str, Any]) -> None:
        status, body, headers = api.call(req["method"], req["path"], req["body"],
                                         req["headers"])
        seen[status] += 1
        per_op[name] += 1
        if status >= 500:
            api.server_errors += 1
        assert kiosk.proc.poll() is None, f"the kiosk died on {req}"
        check_answer(api, template, op, req, status, body, headers)

    fuzz()


def test_fuzz_sharing_api_from_its_openapi_document(kiosk_process, tmp_path):
    make_bundle(tmp_path / "bundles")  # the normal state: a bundle is served beside the API
    kiosk = kiosk_process("--bundles-dir", str(tmp_path / "bundles"),
                          "--rate-issue-per-minute", "1000000",
                          "--rate-post-per-minute", "1000000", "--min-free-disk-mib", "0",
                          "--max-notebook-mib", "0.1")
    api = Api(kiosk.port)
    started = time.monotonic()
    ops = operations(api.doc)
    ops.append(("GET", "/s/{readable_id}", {"parameters": [
        {"name": "readable_id", "in": "path"}], "responses": {}}))  # the share page
    ops.append(("GET", "/api/v1/{anything}", {"parameters": [
        {"name": "anything", "in": "path"}], "responses": {}}))  # paths the API lacks
    per_op: dict[str, int] = {}
    report_path = os.environ.get("KIOSK_FUZZ_REPORT")
    stored: int | None = None  # shares in the database at the end (None: not reached)
    valid = False
    try:
        for method, template, op in ops:
            fuzz_operation(api, kiosk, method, template, {**op, "_method": method}, per_op)
        assert kiosk.proc.poll() is None
        # Still serving normally after all that.
        after = make_notebook("after")
        status, body, _ = api.call("POST", "/api/v1/notebooks", json.dumps(
            {"notebook": after}).encode(), api.auth(1))
        assert status == 201
        api.created.add(body["notebook"]["id"])
        api.expected[body["notebook"]["id"]] = after
        stored, valid = check_store(tmp_path / "data" / "shares.sqlite3", api)
    finally:
        if report_path:
            Path(report_path).write_text(json.dumps({
                "examples": sum(per_op.values()), "per_operation": EXAMPLES,
                "server_errors": api.server_errors, "alive": kiosk.proc.poll() is None,
                "shares_stored": stored, "created": len(api.created), "all_valid": valid,
                "seconds": round(time.monotonic() - started, 1),
                "operations": {name: {"examples": per_op.get(name, 0),
                                      "server_errors": sum(n for s, n in seen.items()
                                                           if s >= 500),
                                      "statuses": {str(s): n for s, n in seen.items()}}
                               for name, seen in api.statuses.items()},
            }))
    print(f"{sum(per_op.values())} requests, 0 answers 5xx, {stored} shares stored = "
          f"{len(api.created)} answered 201, all valid; {time.monotonic() - started:.0f} s")


def test_api_paths_without_a_bundle_are_not_503(kiosk_process, tmp_path):
    """Found by the fuzz: with no bundle active, HEAD /api/v1/health (its route takes GET
    only) fell through to the bundle's catch-all and answered 503 "no bundle is active",
    though the sharing API works without a bundle. Now 405 (or 404 for unknown paths)."""
    kiosk = kiosk_process("--bundles-dir", str(tmp_path / "no-bundles"))
    api = Api(kiosk.port)
    for method, path in [("HEAD", "/api/v1/health"), ("HEAD", "/api/v1/openapi.json"),
                         ("GET", "/api/v1/notebooks"), ("HEAD", f"/s/{api.readable[0]}")]:
        status, _, headers = api.call(method, path)
        assert status == 405, (method, path, status)
        assert "GET" in headers["allow"] or "POST" in headers["allow"]
    status, body, _ = api.call("GET", "/api/v1/no-such-endpoint")
    assert status == 404 and body["status"] == 404
    assert api.call("GET", "/lab/index.html")[0] == 503  # a bundle file: still "no bundle"


def test_non_ascii_idempotency_key_is_refused_not_a_500(kiosk_process):
    kiosk = kiosk_process()
    api = Api(kiosk.port)
    for method, path, body in [
            ("POST", "/api/v1/notebooks", {"notebook": make_notebook("key")}),
            ("PUT", f"/api/v1/notebooks/{sorted(api.created)[0]}", make_notebook("key"))]:
        for key in ("\x80", "é"):  # sent as one latin-1 byte each by http.client
            status, body_out, _ = api.call(method, path, json.dumps(body).encode(),
                                           {**api.auth(0), "Idempotency-Key": key})
            assert status == 400, (method, key, status, body_out)
