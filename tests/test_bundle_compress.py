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


def test_same_content_is_compressed_once_per_build_and_never_again(tmp_path: Path,
                                                                   monkeypatch) -> None:
    from kiosk.bundle import compress

    calls: list[int] = []
    real = compress.CODECS["br"]

    def counting(data: bytes) -> bytes:
        calls.append(len(data))
        return real[1](data)

    monkeypatch.setitem(compress.CODECS, "br", (".br", counting))
    body = "const kiosk = 'the same file in two profiles';\n" * 300
    for profile in ("core", "science"):
        site = tmp_path / profile
        (site / "build").mkdir(parents=True)
        (site / "build" / "app.js").write_text(body, encoding="utf-8")
        (site / "build" / "copy.js").write_text(body, encoding="utf-8")
    cache = tmp_path / "cache"
    compress_tree(tmp_path / "core", cache_dir=cache)
    assert calls == [len(body)]  # two files, one content: compressed once
    compress_tree(tmp_path / "science", cache_dir=cache)
    assert calls == [len(body)]  # the next build (another profile) reuses it
    for profile in ("core", "science"):
        for name in ("app.js", "copy.js"):
            sibling = tmp_path / profile / "build" / f"{name}.br"
            assert brotli.decompress(sibling.read_bytes()).decode() == body


def test_cached_outputs_are_keyed_by_codec_settings(tmp_path: Path, monkeypatch) -> None:
    from kiosk.bundle import compress

    site = tmp_path / "site"
    site.mkdir()
    (site / "a.js").write_text("let x = 1;\n" * 500, encoding="utf-8")
    cache = tmp_path / "cache"
    compress_tree(site, cache_dir=cache)
    names = sorted(p.name for p in cache.rglob("*.br"))
    assert len(names) == 1 and f"-q{compress.BROTLI_QUALITY}w" in names[0]
    # Another quality must not pick up the old output: it writes its own.
    monkeypatch.setitem(compress.CODEC_TAGS, "br", "q5w22")
    compress_tree(site, cache_dir=cache)
    assert len(list(cache.rglob("*.br"))) == 2
