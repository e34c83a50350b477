"""The kiosk package's layer rules, checked on its source and by importing every module.

Layers, bottom up:

1. **Core** (``CORE``: errors, config, keys, urls, db, backup, diskspace, secrets, logs,
   qr, middleware, templating, csp, clock, ratelimit, durable, i18n and its catalog
   tools, the package itself): imports only other core modules. Never a
   capability, never the composition.
2. **Capabilities** (``DEPENDS``: one entry per package or top-level module, with the
   capabilities it may use): a capability imports core modules, its own modules, and
   the capabilities listed for it; the listed graph has no cycle (sync is built on
   sharing, so sharing reaches sync only through an interface it declares itself,
   ``kiosk.sharing.upstream``). Across capabilities only declared interface modules
   (``INTERFACES``) are imported; every other module of a capability is private to it.
3. **Composition** (``COMPOSITION``: app, server, cli, doctor, ``__main__``):
   may import anything; nothing below imports it.

And every module imports on its own, in a fresh interpreter state (no import cycle).
A top-level module not classified here fails the test until it is. ``KNOWN_BREACHES``
lists breaches tolerated for now, each to be fixed by moving code (empty today). Imports inside
functions and under ``TYPE_CHECKING`` count: they are dependencies all the same.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "kiosk"

CORE = {"kiosk", "errors", "config", "keys", "urls", "db", "secrets", "logs", "qr",
        "middleware", "templating", "backup", "diskspace", "i18n", "i18n_catalog",
        "ratelimit", "durable", "clock", "csp"}
COMPOSITION = {"app", "server", "cli", "doctor", "__main__"}
DEPENDS: dict[str, set[str]] = {
    "bundle": set(),
    "serving": {"bundle"},
    "status": {"serving"},
    "health": {"serving"},
    "discovery": {"status"},
    "hotspot": {"status"},
    "relay": set(),
    "downloads": set(),
    "sharing": set(),
    "sync": {"sharing", "status", "health"},
    "metrics": {"serving", "sharing"},
    "systemd": set(),
    "dashboard": {"bundle", "discovery", "downloads", "serving", "sharing", "status", "sync"},
    "usb": {"bundle"},
    "hostcheck": {"discovery"},
    "clockcheck": {"health", "status"},
}
# The modules of a capability that others may import (a top-level module is its own).
INTERFACES: dict[str, set[str]] = {
    "bundle": {"kiosk.bundle.active", "kiosk.bundle.catalog", "kiosk.bundle.manifest"},
    "serving": {"kiosk.serving.state", "kiosk.serving.lesson"},
    "discovery": {"kiosk.discovery.keys", "kiosk.discovery.interfaces"},
    "downloads": {"kiosk.downloads", "kiosk.downloads.cache"},
    "sharing": {"kiosk.sharing.keys", "kiosk.sharing.store", "kiosk.sharing.upstream",
                "kiosk.sharing.ids", "kiosk.sharing.view", "kiosk.sharing.export"},
    "sync": {"kiosk.sync.keys"},
}


# Breaches that exist today, each to be fixed by moving code (not by widening a rule);
# the test fails when one of them is gone too, so this list only shrinks.
KNOWN_BREACHES: set[str] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    base = REPO.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def kiosk_modules() -> list[str]:
    return sorted(_module_name(p) for p in PACKAGE.rglob("*.py"))


def imports_of(path: Path) -> set[str]:
    """The kiosk modules a source file imports (``from a import b`` → ``a.b`` if a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "kiosk")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] == "kiosk":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if _is_module(sub) else node.module)
    return found


def unit_of(module: str) -> str:
    """The layer unit a module belongs to: its top-level package or module under kiosk."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "kiosk"


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Every broken rule in ``graph`` (module → the kiosk modules it imports)."""
    problems: list[str] = []
    for module, targets in sorted(graph.items()):
        unit = unit_of(module)
        if unit not in CORE | COMPOSITION | DEPENDS.keys():
            problems.append(f"{module}: '{unit}' is in no layer; classify it in {__name__}")
            continue
        for target in sorted(targets):
            other = unit_of(target)
            if other == unit or other in CORE or target == "kiosk":
                continue
            if other in COMPOSITION:
                if unit not in COMPOSITION:
                    problems.append(f"{module} imports {target}: only the composition "
                                    "imports the composition")
            elif unit in CORE:
                problems.append(f"{module} imports {target}: a core module imports no "
                                "capability")
            elif unit in DEPENDS:
                if other not in DEPENDS[unit]:
                    problems.append(f"{module} imports {target}: '{unit}' does not declare "
                                    f"a dependency on '{other}'")
                elif other in INTERFACES and target not in INTERFACES[other]:
                    problems.append(f"{module} imports {target}: not an interface of "
                                    f"'{other}' ({', '.join(sorted(INTERFACES[other]))})")
    return problems


def _cycle(depends: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(depends.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(depends):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_layer_rules_hold() -> None:
    graph = {_module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}
    assert len(graph) > 50
    found = violations(graph)
    assert [v for v in found if v not in KNOWN_BREACHES] == []
    assert set(found) >= KNOWN_BREACHES, "a known breach is fixed: remove it from the list"


def test_the_declared_capability_graph_has_no_cycle() -> None:
    assert _cycle(DEPENDS) is None
    for unit, deps in DEPENDS.items():
        assert not deps & (CORE | COMPOSITION), unit
        assert deps <= DEPENDS.keys(), unit


def test_the_checker_catches_each_kind_of_breach() -> None:
    """The rules can fail: one made-up import graph per rule, each reported."""
    breaches = {
        "kiosk.db": {"kiosk.sharing.store"},  # core → capability
        "kiosk.sharing.api": {"kiosk.sync.keys"},  # undeclared dependency
        "kiosk.sync.worker": {"kiosk.sharing.api"},  # private module of a dependency
        "kiosk.serving.site": {"kiosk.app"},  # capability → composition
        "kiosk.gadget": {"kiosk.errors"},  # unclassified
    }
    for module, targets in breaches.items():
        assert len(violations({module: targets})) == 1, module
    fine = {"kiosk.sync.worker": {"kiosk.sharing.store", "kiosk.db", "kiosk.sync.outbox"},
            "kiosk.app": {"kiosk.sync", "kiosk.dashboard"}, "kiosk.db": {"kiosk.errors"}}
    assert violations(fine) == []
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    # The source reader sees lazy and `from package import module` imports.
    found = imports_of(PACKAGE / "cli" / "sync.py")
    assert {"kiosk.sharing.store", "kiosk.sync.outbox"} <= found


_IMPORT_EACH = """
import importlib, json, sys, traceback
failed = {}
for name in json.loads(sys.argv[1]):
    for loaded in [m for m in sys.modules if m == "kiosk" or m.startswith("kiosk.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except BaseException:
        failed[name] = traceback.format_exc(limit=3)
print(json.dumps(failed))
"""


def test_every_module_imports_on_its_own() -> None:
    """Each module first in a fresh set of kiosk modules: an import cycle fails here.

    ``kiosk.__main__`` is left out: importing it runs the command line.
    """
    modules = [m for m in kiosk_modules() if not m.endswith("__main__")]
    assert "kiosk.sync.worker" in modules
    done = subprocess.run([sys.executable, "-c", _IMPORT_EACH, json.dumps(modules)],
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    failed = json.loads(done.stdout.strip().splitlines()[-1])
    assert failed == {}, "\n".join(f"{k}:\n{v}" for k, v in failed.items())


def test_the_architecture_doc_shows_the_real_graph() -> None:
    """docs/architecture.md's ``layers:depends`` block is ``DEPENDS``, and its layer
    diagram names every core module and every capability."""
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = doc.split("<!-- layers:depends -->")[1].split("<!-- /layers:depends -->")[0]
    shown: dict[str, set[str]] = {}
    for line in block.strip().strip("`").strip().splitlines():
        unit, _, deps = line.partition("→")
        shown[unit.strip()] = {d.strip() for d in deps.split(",") if d.strip()}
    assert shown == DEPENDS
    diagram = doc.split("## Layers")[1].split("```")[1]
    core_row = diagram.split("core", 1)[1]
    assert set(core_row.split()) == CORE - {"kiosk"}
    named = set(diagram.replace("/", " ").split())
    assert DEPENDS.keys() <= named
