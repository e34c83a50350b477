"""The boot test's student, run inside the container with its Debian python3 (stdlib only).

``share_client.py make N STATE`` issues a token and saves N notebooks through the kiosk's
sharing API on the container's loopback, writing ids, tokens and markers to STATE.
``share_client.py check STATE TAG`` reads every share back (its marker must be there),
then updates each with its own token to a new marker ending in TAG (a token issued before
a reboot must still work) and rewrites STATE. Prints one JSON line; exits 1 on any
difference. Never imports the kiosk: it is the outside view.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import Any

BASE = "http://127.0.0.1:80/api/v1"


def call(method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=20) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def notebook(marker: str) -> dict[str, Any]:
    return {"cells": [{"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": 1,
                       "source": f"print({marker!r})", "outputs": []}],
            "metadata": {"kernelspec": {"name": "python", "display_name": "Python (Pyodide)",
                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def make(count: int, state: str) -> int:
    shares = []
    for i in range(count):
        status, body = call("POST", "/auth/issue")
        if status != 200:
            print(json.dumps({"error": f"issue: {status} {body}"}))
            return 1
        token = body["token"]
        marker = f"share-{i}-before-boot"
        status, body = call("POST", "/notebooks", {"notebook": notebook(marker)}, token)
        if status != 201:
            print(json.dumps({"error": f"post: {status} {body}"}))
            return 1
        shares.append({"id": body["notebook"]["id"], "token": token, "marker": marker})
    with open(state, "w", encoding="utf-8") as fh:
        json.dump(shares, fh)
    print(json.dumps({"made": len(shares)}))
    return 0


def check(state: str, tag: str) -> int:
    with open(state, encoding="utf-8") as fh:
        shares = json.load(fh)
    problems = []
    for share in shares:
        status, body = call("GET", f"/notebooks/{share['id']}", token=share["token"])
        if status != 200 or share["marker"] not in json.dumps(body):
            problems.append(f"GET {share['id']}: {status}, marker {share['marker']} missing")
            continue
        marker = f"{share['id'][:8]}-{tag}"
        nb = notebook(marker)
        nb["metadata"]["sharedId"] = share["id"]
        status, body = call("PUT", f"/notebooks/{share['id']}", nb, share["token"])
        if status != 200:
            problems.append(f"PUT {share['id']} with its token: {status} {body}")
            continue
        share["marker"] = marker
    with open(state, "w", encoding="utf-8") as fh:
        json.dump(shares, fh)
    print(json.dumps({"checked": len(shares), "problems": problems}))
    return 1 if problems else 0


if __name__ == "__main__":
    verb = sys.argv[1]
    sys.exit(make(int(sys.argv[2]), sys.argv[3]) if verb == "make" else
             check(sys.argv[2], sys.argv[3]))
