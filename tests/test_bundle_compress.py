"""Pre-compressed siblings: written only where they save at least 10 %."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import brotli

from kiosk.bundle.compress import (
    MIN_SAVING,
    compress_file,
    compress_tree,
    is_compressible,
    worth_keeping,
)


def test_worth_keeping_threshold_is_ten_percent() -> None:
    assert MIN_SAVING == 0.10
    assert worth_keeping(1000, 900)
    assert not worth_keeping(1000, 901)
    assert not worth_keeping(100, 10)  # too small to bother


def test_text_gets_br_and_gz_that_decode_to_the_original(tmp_path: Path) -> None:
    path = tmp_path / "app.js"
    path.write_text("function hello() { return 'kiosk'; }\n" * 200, encoding="utf-8")
    sizes = compress_file(path)
    assert set(sizes) == {"br", "gzip"}
    original = path.read_bytes()
    assert brotli.decompress((tmp_path / "app.js.br").read_bytes()) == original
    assert gzip.decompress((tmp_path / "app.js.gz").read_bytes()) == original
    assert sizes["br"] == (tmp_path / "app.js.br").stat().st_size


def test_incompressible_and_binary_formats_get_no_sibling(tmp_path: Path) -> None:
    noise = tmp_path / "noise.js"
    noise.write_bytes(os.urandom(50_000))
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    wheel.write_bytes(b"a" * 50_000)
    assert compress_file(noise) == {}
    assert compress_file(wheel) == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([wheel.name, noise.name])
    assert not is_compressible(wheel)
    assert is_compressible(tmp_path / "pyodide.asm.wasm")


def test_gzip_is_reproducible(tmp_path: Path) -> None:
    path = tmp_path / "a.css"
    path.write_text("body { color: red; }\n" * 100, encoding="utf-8")
    compress_file(path)
    first = (tmp_path / "a.css.gz").read_bytes()
    compress_file(path)
    assert (tmp_path / "a.css.gz").read_bytes() == first


def test_tree_with_cache_reuses_results(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "a.html").write_text("<p>kiosk</p>\n" * 300, encoding="utf-8")
    (site / "b.png").write_bytes(b"\x89PNG" + os.urandom(1000))
    cache = tmp_path / "cache"
    stats = compress_tree(site, cache_dir=cache)
    assert stats.files == 2
    assert stats.encoded["br"] < stats.raw
    assert len(list(cache.rglob("*.br"))) == 1
    (site / "a.html.br").unlink()
    again = compress_tree(site, cache_dir=cache)
    assert again == stats
    assert (site / "a.html.br").is_file()
