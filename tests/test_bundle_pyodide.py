"""The Pyodide lock: closures, the official-hash check, and the rewritten lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.bundle.pyodide import (
    ExtraWheel,
    Lock,
    check_official,
    is_pure_wheel,
    normalize,
    rewrite_lock,
    wheel_name_version,
)
from kiosk.errors import BundleError
from tests.bundle_fakes import PACKAGES, official_lock, sha

NUMPY = "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl"
SIX = "six-1.16.0-py2.py3-none-any.whl"


def test_closure_follows_dependencies_with_normalized_names() -> None:
    data = official_lock()
    data["packages"]["pandas"]["depends"] = ["NumPy", "six"]
    assert Lock(data).closure(["pandas"]) == ["numpy", "pandas", "six"]
    assert normalize("Prompt_Toolkit") == "prompt-toolkit"
    with pytest.raises(BundleError, match="not in the Pyodide lock"):
        Lock(data).closure(["tensorflow"])


def test_check_official_names_the_file_that_differs(tmp_path: Path) -> None:
    good = tmp_path / NUMPY
    good.write_bytes(PACKAGES[NUMPY])
    bad = tmp_path / SIX
    bad.write_bytes(b"tampered")
    lock = Lock(official_lock())
    check_official({NUMPY: good}, lock)
    with pytest.raises(BundleError, match=r"six-1\.16\.0-py2\.py3-none-any\.whl: sha256"):
        check_official({NUMPY: good, SIX: bad}, lock)
    with pytest.raises(BundleError, match="not a file of the official Pyodide"):
        check_official({"evil-1.0-py3-none-any.whl": good}, lock)


def test_rewrite_lock_drops_unshipped_and_uses_pypi_hashes() -> None:
    lock = Lock(official_lock())
    comm = ExtraWheel("comm", "0.2.2", "comm-0.2.2-py3-none-any.whl", "c" * 64,
                      imports=("comm",))
    six_pypi = ExtraWheel("six", "1.17.0", "six-1.17.0-py2.py3-none-any.whl", "d" * 64)
    shipped = {NUMPY: sha(PACKAGES[NUMPY]), comm.file_name: comm.sha256,
               six_pypi.file_name: six_pypi.sha256}
    out = rewrite_lock(lock, shipped, [comm, six_pypi])
    assert sorted(out["packages"]) == ["comm", "numpy", "six"]  # pandas: no file, dropped
    assert out["packages"]["six"]["sha256"] == "d" * 64
    assert out["packages"]["six"]["version"] == "1.17.0"
    assert out["packages"]["comm"]["file_name"] == comm.file_name
    assert out["info"] == lock.data["info"]
    assert lock.data["packages"]["six"]["sha256"] == sha(PACKAGES[SIX])  # not mutated


def test_rewrite_lock_refuses_a_missing_dependency() -> None:
    data = official_lock()
    data["packages"]["pandas"]["sha256"] = "e" * 64
    shipped = {"pandas-2.2.3-cp312-cp312-pyodide_2024_0_wasm32.whl": "e" * 64}
    with pytest.raises(BundleError, match="pandas depends on numpy, six"):
        rewrite_lock(Lock(data), shipped)


def test_wheel_names() -> None:
    assert wheel_name_version("pyodide_http-0.2.2-py3-none-any.whl") == ("pyodide-http", "0.2.2")
    assert is_pure_wheel("six-1.16.0-py2.py3-none-any.whl")
    assert not is_pure_wheel(NUMPY)
    assert not is_pure_wheel("openblas-0.3.26.zip")
