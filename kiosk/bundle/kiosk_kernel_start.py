"""The kiosk's part of a kernel's start: runs inside Pyodide, just before ``pyodide_kernel``.

Not imported by the kiosk itself: the bundle builder (``kiosk/bundle/kernelstart.py``)
packs this file into the wheel ``kiosk-kernel-start`` and patches the JupyterLite Pyodide
kernel so that it installs that wheel and imports this module instead of installing ssl,
sqlite3 and jedi before the first cell. Here:

1. IPython 8 imports ``sqlite3`` at start (its history module) although the kernel's
   history never opens a database: that one import gets a stand-in module, which is then
   taken out of ``sys.modules``, so that a cell's ``import sqlite3`` loads the real one
   (Pyodide loads the packages a cell imports before running it).
2. Some pure-Python packages nothing needs at start (jedi and parso for completion,
   fontTools for matplotlib's PDF and PostScript output) are left out of the start and
   fetched from the bundle the first time something imports them: a finder on
   ``sys.meta_path`` downloads the wheel synchronously (a kernel's worker may block),
   checks its sha256 against the shipped lock's, and unpacks it into site-packages.
3. The kernel's completer leaves jedi off until the first completion request, which
   imports jedi through that finder and turns it on: completion is jedi's from the first
   request on, and falls back to IPython's own completer if jedi cannot be loaded.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import io
import json
import sys
import sysconfig
import types
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: written by the builder beside this module: import name → the wheel that provides it
DEFERRED_FILE = "deferred.json"
#: how many completion requests may try to load jedi before the kernel gives up on it
JEDI_ATTEMPTS = 3


class _Sqlite3StandIn(types.ModuleType):
    """What IPython's history module sees as ``sqlite3`` (the kernel's history is off).

    It holds the names IPython touches without a database; any other name is looked up
    in the real module once a cell has loaded it.
    """

    class Connection:
        """Never instantiated: IPython only checks ``isinstance(db, sqlite3.Connection)``."""

    class DatabaseError(Exception):
        pass

    class OperationalError(DatabaseError):
        pass

    class IntegrityError(DatabaseError):
        pass

    PARSE_DECLTYPES = 1
    PARSE_COLNAMES = 2

    def __getattr__(self, name: str) -> Any:
        real = sys.modules.get("sqlite3")
        if real is None or real is self:
            raise AttributeError(f"sqlite3.{name}: sqlite3 is not loaded in this kernel "
                                 "(a cell that runs `import sqlite3` loads it)")
        return getattr(real, name)


def import_ipython_without_sqlite3() -> None:
    """Import IPython (and its history module) with a stand-in ``sqlite3``, then drop it."""
    if "sqlite3" in sys.modules or importlib.machinery.PathFinder.find_spec("sqlite3"):
        import IPython.core.history  # the real sqlite3 is there
        return
    stand_in = _Sqlite3StandIn("sqlite3")
    sys.modules["sqlite3"] = stand_in
    try:
        import IPython.core.history  # noqa: F401
    finally:
        if sys.modules.get("sqlite3") is stand_in:
            del sys.modules["sqlite3"]


Fetch = Callable[[str], bytes]


def fetch_sync(url: str) -> bytes:
    """GET ``url`` with a synchronous XMLHttpRequest (allowed in the kernel's worker)."""
    import js

    xhr = js.XMLHttpRequest.new()
    xhr.open("GET", url, False)
    xhr.responseType = "arraybuffer"
    xhr.send(None)
    if xhr.status != 200:
        raise OSError(f"the kiosk answered {xhr.status} for {url}")
    data: bytes = xhr.response.to_bytes()
    return data


class DeferredPackages(importlib.abc.MetaPathFinder):
    """Fetch and unpack a deferred pure-Python package when something first imports it.

    ``deferred`` maps a top-level import name to ``{"package", "file_name", "sha256"}``;
    ``base_url`` is the folder of the shipped lock; ``mark_loaded`` tells Pyodide the
    package is there (so a cell importing it does not download it again).
    """

    def __init__(self, deferred: dict[str, dict[str, str]], base_url: str, site: str,
                 fetch: Fetch = fetch_sync,
                 mark_loaded: Callable[[str], None] | None = None) -> None:
        self.pending = dict(deferred)
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.site = site
        self.fetch = fetch
        self.mark_loaded = mark_loaded
        self.installed: list[str] = []

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> None:
        if "." in fullname or fullname not in self.pending:
            return None
        if importlib.machinery.PathFinder.find_spec(fullname) is None:
            self.install(self.pending[fullname])
        # Installed now (or by Pyodide already): the path finder after us finds it.
        self.pending = {k: v for k, v in self.pending.items()
                        if v["package"] != self.pending[fullname]["package"]}
        return None

    def install(self, entry: dict[str, str]) -> None:
        """Download, check and unpack one wheel; ImportError saying why if it fails."""
        name = entry["package"]
        try:
            data = self.fetch(self.base_url + entry["file_name"])
        except Exception as exc:
            raise ImportError(f"{name} could not be loaded from the kiosk: {exc}") from None
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ImportError(f"{name}: the downloaded {entry['file_name']} is not the "
                              "bundle's (sha256 differs)")
        with zipfile.ZipFile(io.BytesIO(data)) as wheel:
            wheel.extractall(self.site)
        importlib.invalidate_caches()
        self.installed.append(name)
        if self.mark_loaded is not None:
            self.mark_loaded(name)


def enable_jedi(completer: Any) -> bool:
    """Import jedi (through the finder if deferred) and turn it on in IPython's completer."""
    try:
        import jedi
        import jedi.api.classes
        import jedi.api.helpers
    except ImportError as exc:
        print(f"kiosk: completion without jedi ({exc})", file=sys.__stderr__)
        return False
    from IPython.core import completer as completer_module

    jedi.settings.case_insensitive_completion = False
    # IPython looked for jedi once, when it was imported; tell it jedi is here now.
    completer_module.jedi = jedi
    completer_module.JEDI_INSTALLED = True
    completer.use_jedi = True
    return True


def complete_with_jedi_once_loaded(kernel_class: Any) -> None:
    """Make the kernel's first completion request load jedi before it completes."""
    original = kernel_class.complete
    state = {"attempts": 0, "ready": False}

    def complete(self: Any, code: str, cursor_pos: int | None) -> Any:
        if not state["ready"] and state["attempts"] < JEDI_ATTEMPTS:
            state["attempts"] += 1
            state["ready"] = enable_jedi(self.interpreter.Completer)
        return original(self, code, cursor_pos)

    kernel_class.complete = complete


def _deferred() -> dict[str, dict[str, str]]:
    path = Path(__file__).with_name(DEFERRED_FILE)
    data: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def start() -> None:
    """Everything above, in order; the kernel's ``import pyodide_kernel`` comes next."""
    import pyodide_js

    import_ipython_without_sqlite3()
    import pyodide_kernel
    from pyodide_kernel.kernel import PyodideKernel

    try:
        import jedi  # noqa: F401  (installed already: nothing to defer)
    except ImportError:
        pyodide_kernel.kernel_instance.interpreter.Completer.use_jedi = False
        complete_with_jedi_once_loaded(PyodideKernel)

    def mark_loaded(name: str) -> None:
        setattr(pyodide_js.loadedPackages, name, "default channel")

    base_url = str(pyodide_js._api.config.indexURL)
    sys.meta_path.insert(0, DeferredPackages(_deferred(), base_url,
                                             sysconfig.get_path("purelib"),
                                             mark_loaded=mark_loaded))


if sys.platform == "emscripten":  # in a kernel; the kiosk's tests import it under CPython
    start()
