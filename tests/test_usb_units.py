"""Units of the USB stick: names, layout, manifest and verify, launchers, bootstrap, closure."""

from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from kiosk.cli import main
from kiosk.errors import UsbError
from kiosk.usb import bootstrap, launchers
from kiosk.usb.layout import (
    MANIFEST_NAME,
    check_names,
    manifest_json,
    name_problems,
    plain_files,
    write_stick_files,
)
from kiosk.usb.platforms import PLATFORMS, platform_by_key
from kiosk.usb.verify import verify_stick
from kiosk.usb.wheels import check_closure, read_wheel, stick_paths, target_tags

PYTHONS = ["3.11", "3.12", "3.13", "3.14"]


# -- names --------------------------------------------------------------------------

@pytest.mark.parametrize("rel", ["a/b.txt", "kiosk/wheels/any/x-1.0-py3-none-any.whl",
                                 "files/été ünïcode.ipynb", "a+b,c;d=e[f].txt"])
def test_portable_names_pass(rel):
    assert name_problems(rel) == []


@pytest.mark.parametrize("rel,why", [
    ("a/b:c.txt", "characters FAT rejects"), ("a/b?.txt", "characters FAT rejects"),
    ('q"uote', "characters FAT rejects"), ("tab\there", "characters FAT rejects"),
    ("a/trailing.", "ends with a dot"), ("a/trailing ", "ends with a dot"),
    ("con.txt", "reserved Windows device"), ("x/LPT1", "reserved Windows device"),
    ("n" * 256, "longer than 255"), ("/".join(["d" * 50] * 5), "path longer than 240"),
    ("a//b", "empty path component"),
])
def test_unportable_names_are_named(rel, why):
    assert any(why in p for p in name_problems(rel)), name_problems(rel)


def test_names_differing_only_in_case_collide():
    with pytest.raises(UsbError, match="case-insensitive"):
        check_names(["files/Data.csv", "files/data.csv"])


def test_symlinks_are_refused(tmp_path):
    (tmp_path / "real.txt").write_text("x")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    with pytest.raises(UsbError, match="symlink"):
        list(plain_files(tmp_path))


# -- layout, manifest, verify --------------------------------------------------------

def _stick(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    src = tmp_path / "src"
    src.mkdir()
    sources = {}
    for i, rel in enumerate(["kiosk/bundles/b1/index.html", "kiosk/wheels/any/a.whl",
                             "kiosk/wheels/linux-x86_64/b.whl"]):
        path = src / f"f{i}"
        path.write_bytes(os.urandom(100 + i))
        sources[rel] = path
    dest = tmp_path / "stick"
    entries = write_stick_files(dest, sources, {"start.sh": b"#!/bin/sh\n"})
    (dest / MANIFEST_NAME).write_bytes(manifest_json({"stick_id": "abc"}, entries))
    return dest, sources


def test_layout_is_plain_files_with_a_complete_manifest(tmp_path):
    dest, sources = _stick(tmp_path)
    files = dict(plain_files(dest))
    assert set(files) == {*sources, "start.sh", MANIFEST_NAME}
    for path in dest.rglob("*"):
        assert not path.is_symlink()
        if path.is_file():
            assert not path.stat().st_mode & 0o111, f"{path} relies on an executable bit"
    manifest = json.loads((dest / MANIFEST_NAME).read_text())
    assert set(manifest["files"]) == {*sources, "start.sh"}
    assert verify_stick(dest) == []


def test_verify_catches_one_changed_byte_a_missing_and_an_extra_file(tmp_path):
    dest, _ = _stick(tmp_path)
    wheel = dest / "kiosk/wheels/any/a.whl"
    data = bytearray(wheel.read_bytes())
    data[50] ^= 1
    wheel.write_bytes(bytes(data))
    (dest / "kiosk/bundles/b1/index.html").unlink()
    (dest / "kiosk/stray.txt").write_text("?")
    problems = {p.path: p.what for p in verify_stick(dest)}
    assert problems == {
        "kiosk/wheels/any/a.whl": "content differs from the manifest (sha256)",
        "kiosk/bundles/b1/index.html": "missing",
        "kiosk/stray.txt": "present but not in the manifest",
    }


def test_verify_catches_a_truncated_file_and_ignores_runtime_and_os_files(tmp_path):
    dest, _ = _stick(tmp_path)
    for rel in ["data/shares.sqlite", "venvs/x/pyvenv.cfg", "installers/python.exe",
                "._start.sh", ".DS_Store", "System Volume Information/IndexerVolumeGuid"]:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text("x")
    assert verify_stick(dest) == []
    with (dest / "start.sh").open("r+b") as fh:
        fh.truncate(3)
    assert [p.what for p in verify_stick(dest)] == ["size 3, expected 10"]


def test_verify_cli_exit_codes(tmp_path, capsys):
    dest, _ = _stick(tmp_path)
    assert main(["usb", "verify", str(dest)]) == 0
    assert "all 4 files match" in capsys.readouterr().out
    (dest / "start.sh").write_text("changed!!\n")
    assert main(["usb", "verify", str(dest)]) == 1
    assert "start.sh: content differs" in capsys.readouterr().out
    assert main(["usb", "verify", str(tmp_path / "nothing")]) == 2


def test_remaking_keeps_data_and_removes_stale_files(tmp_path):
    dest, sources = _stick(tmp_path)
    (dest / "data").mkdir()
    (dest / "data" / "shares.sqlite").write_text("class work")
    (dest / "start.sh").write_text("tampered")
    del sources["kiosk/wheels/linux-x86_64/b.whl"]
    write_stick_files(dest, sources, {"start.sh": b"#!/bin/sh\n"})
    assert (dest / "data" / "shares.sqlite").read_text() == "class work"
    assert not (dest / "kiosk/wheels/linux-x86_64").exists()
    assert (dest / "start.sh").read_bytes() == b"#!/bin/sh\n"


# -- launchers ------------------------------------------------------------------------

def test_posix_launchers_are_valid_sh_with_lf():
    for text in (launchers.render_start_sh(PYTHONS), launchers.render_start_command(PYTHONS)):
        assert "\r" not in text and text.startswith("#!/bin/sh\n")
        subprocess.run(["sh", "-n"], input=text, text=True, check=True)
        assert "python3.14" in text and "kiosk/launch.py" in text


def test_bat_and_readme_use_crlf_and_ascii():
    bat = launchers.render_start_bat(PYTHONS)
    readme = launchers.render_readme(version="0.1.0", bundle="b1", pythons=PYTHONS,
                                     platforms=[p.title for p in PLATFORMS])
    for text in (bat, readme):
        assert text.encode("ascii")
        assert "\n" not in text.replace("\r\n", "")
    assert "py -%%V" in bat and r"%~dp0kiosk\launch.py" in bat
    assert "for %%V in (3.14 3.13 3.12 3.11)" in bat
    # cmd.exe expands %...% in .bat files: only %%V, %~dp0, %*, %PY%, %RC%, %ERRORLEVEL%
    stripped = bat
    for ok in ("%%V", "%~dp0", "%*", "%PY%", "%RC%", "%ERRORLEVEL%"):
        stripped = stripped.replace(ok, "")
    assert "%" not in stripped
    # every echoed line escapes cmd.exe's special characters
    for line in bat.split("\r\n"):
        if line.startswith("echo "):
            assert not any(f"{c}" in line.replace(f"^{c}", "") for c in "()&|<>"), line
    assert "http://localhost:8000/" in readme and "kiosk usb verify" in readme


def test_start_sh_without_python_says_what_to_install(tmp_path):
    script = tmp_path / "start.sh"
    script.write_text(launchers.render_start_sh(PYTHONS))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("dirname", "cat"):  # a laptop with a shell but no Python
        (bindir / tool).symlink_to(subprocess.check_output(["which", tool], text=True).strip())
    proc = subprocess.run(["/bin/sh", str(script)], capture_output=True, text=True,
                          env={"PATH": str(bindir)}, check=False)
    assert proc.returncode == 1
    assert "no Python 3.11 to 3.14" in proc.stdout
    assert "sudo apt install python3 python3-venv" in proc.stdout
    assert "installers" in proc.stdout


def test_start_sh_skips_a_python_the_stick_has_no_wheels_for(tmp_path):
    script = tmp_path / "start.sh"
    script.write_text(launchers.render_start_sh(["3.99"]))
    proc = subprocess.run(["/bin/sh", str(script)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 1 and "no Python 3.99" in proc.stdout


# -- bootstrap decisions ---------------------------------------------------------------

def _manifest() -> dict:
    return {"platforms": {p.key: {**p.describe(), "pythons": PYTHONS[:3]} for p in PLATFORMS},
            "files": {"kiosk/wheels/any/a.whl": {"sha256": "1"},
                      "kiosk/wheels/windows-x86_64/b.whl": {"sha256": "2"},
                      "kiosk/wheels/linux-x86_64/c.whl": {"sha256": "3"}}}


@pytest.mark.parametrize("sys_platform,machine,key", [
    ("win32", "AMD64", "windows-x86_64"), ("win32", "ARM64", "windows-arm64"),
    ("darwin", "x86_64", "macos-x86_64"), ("darwin", "arm64", "macos-arm64"),
    ("linux", "x86_64", "linux-x86_64"), ("linux", "aarch64", "linux-aarch64"),
])
def test_platform_key(sys_platform, machine, key):
    assert bootstrap.platform_key(_manifest(), sys_platform, machine) == key


def test_unknown_platform_and_python_are_explained():
    with pytest.raises(bootstrap.LaunchError, match="no kiosk for this computer"):
        bootstrap.platform_key(_manifest(), "linux", "riscv64")
    assert bootstrap.check_python(_manifest(), "linux-x86_64", (3, 12)) == "3.12"
    with pytest.raises(bootstrap.LaunchError, match=r"Python 3\.11, 3\.12, 3\.13 on Linux"):
        bootstrap.check_python(_manifest(), "linux-x86_64", (3, 14))


def test_wheel_digest_depends_only_on_the_platforms_wheels():
    m = _manifest()
    before = bootstrap.wheel_digest(m, "linux-x86_64")
    m["files"]["kiosk/wheels/windows-x86_64/b.whl"]["sha256"] = "changed"
    assert bootstrap.wheel_digest(m, "linux-x86_64") == before
    m["files"]["kiosk/wheels/any/a.whl"]["sha256"] = "changed"
    assert bootstrap.wheel_digest(m, "linux-x86_64") != before


def test_user_data_dir_per_os(tmp_path):
    home = tmp_path
    assert bootstrap.user_data_dir({"LOCALAPPDATA": r"C:\U\AppData\Local"}, "win32", home) \
        == Path(r"C:\U\AppData\Local") / "kiosk-usb"
    assert bootstrap.user_data_dir({}, "darwin", home) \
        == home / "Library/Application Support/kiosk-usb"
    assert bootstrap.user_data_dir({}, "linux", home) == home / ".local/share/kiosk-usb"
    assert bootstrap.user_data_dir({"XDG_DATA_HOME": "/x"}, "linux", home) \
        == Path("/x/kiosk-usb")


def test_data_dir_on_the_stick_unless_read_only(tmp_path):
    stick, user = tmp_path / "stick", tmp_path / "user"
    stick.mkdir()
    data, note = bootstrap.choose_data_dir(stick, user, "id1")
    assert data == stick / "data" and "on the USB stick" in note
    read_only = tmp_path / "ro"
    read_only.mkdir()
    (read_only / "data").write_text("a file where the folder would go: cannot write")
    data, note = bootstrap.choose_data_dir(read_only, user, "id1")
    assert data == user / "id1" / "data"
    assert "read-only" in note and str(data) in note


def test_venv_on_the_laptop_unless_it_cannot_be(tmp_path):
    stick, user = tmp_path / "stick", tmp_path / "user"
    stick.mkdir()
    assert bootstrap.choose_venv_dir(stick, user, "v") == user / "venvs" / "v"
    assert bootstrap.choose_venv_dir(stick, user, "v", where="stick") == stick / "venvs" / "v"
    blocked = tmp_path / "blocked"
    blocked.write_text("not a folder")
    assert bootstrap.choose_venv_dir(stick, blocked, "v") == stick / "venvs" / "v"
    with pytest.raises(bootstrap.LaunchError, match="read-only or has less"):
        bootstrap.choose_venv_dir(stick, user, "v", where="stick", room_mib=1e12)


def test_bootstrap_uses_the_standard_library_only():
    source = Path(bootstrap.__file__).read_text()
    assert "import kiosk" not in source and "from kiosk" not in source


# -- wheel closure with the target's markers ---------------------------------------------

def _wheel(folder: Path, name: str, version: str, tag: str = "py3-none-any",
           requires: tuple[str, ...] = (), requires_python: str | None = None) -> Path:
    path = folder / f"{name}-{version}-{tag}.whl"
    meta = io.StringIO()
    meta.write(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if requires_python:
        meta.write(f"Requires-Python: {requires_python}\n")
    for req in requires:
        meta.write(f"Requires-Dist: {req}\n")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}-{version}.dist-info/METADATA", meta.getvalue())
    return path


def test_closure_follows_the_targets_markers_and_extras(tmp_path):
    root = read_wheel(_wheel(tmp_path, "app", "1.0", requires=(
        "core>=2", 'winonly; sys_platform == "win32"', "lib[fast]",
        'old; python_version < "3.12"')))
    wheels = [root, *(read_wheel(p) for p in [
        _wheel(tmp_path, "core", "1.0"), _wheel(tmp_path, "core", "2.1"),
        _wheel(tmp_path, "lib", "1.0", requires=('speedup; extra == "fast"',)),
        _wheel(tmp_path, "speedup", "1.0", tag="cp312-cp312-win_amd64"),
        _wheel(tmp_path, "speedup", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64"),
        _wheel(tmp_path, "old", "1.0"),
    ])]
    roots = [Requirement("app==1.0")]
    linux = check_closure(wheels, roots, platform_by_key("linux-x86_64"), "3.12")
    assert linux.problems == []
    assert sorted(linux.chosen) == ["app", "core", "lib", "speedup"]
    assert str(linux.chosen["core"].version) == "2.1"
    win = check_closure(wheels, roots, platform_by_key("windows-x86_64"), "3.12")
    assert [str(r) for r in win.missing] == ['winonly; sys_platform == "win32"']
    mac = check_closure(wheels, roots, platform_by_key("macos-arm64"), "3.11")
    assert [r.name for r in mac.missing] == ["speedup"]
    assert "old" in mac.chosen  # python_version < "3.12" holds on 3.11
    assert "old" not in linux.chosen


def test_closure_respects_requires_python(tmp_path):
    wheels = [read_wheel(_wheel(tmp_path, "app", "1.0", requires=("dep",))),
              read_wheel(_wheel(tmp_path, "dep", "2.0", requires_python=">=3.13")),
              read_wheel(_wheel(tmp_path, "dep", "1.0"))]
    plat = platform_by_key("linux-aarch64")
    assert str(check_closure(wheels, [Requirement("app")], plat, "3.11")
               .chosen["dep"].version) == "1.0"
    assert str(check_closure(wheels, [Requirement("app")], plat, "3.13")
               .chosen["dep"].version) == "2.0"


def test_target_tags_cover_each_platforms_wheels():
    assert any(t.platform == "macosx_10_9_universal2"
               for t in target_tags(platform_by_key("macos-arm64"), "3.12"))
    tags = target_tags(platform_by_key("linux-x86_64"), "3.13")
    assert any(t.platform == "manylinux_2_17_x86_64" and t.abi == "abi3" for t in tags)
    assert not any(t.platform.startswith("manylinux_2_31") for t in tags)


def test_pure_wheels_are_shared_and_compiled_ones_per_platform(tmp_path):
    from kiosk.usb.wheels import WheelSet

    pure = _wheel(tmp_path, "pure", "1.0")
    native = _wheel(tmp_path, "native", "1.0", tag="cp312-cp312-win_amd64")
    sets = [WheelSet(platform_by_key("windows-x86_64"), "3.12", (pure, native)),
            WheelSet(platform_by_key("linux-x86_64"), "3.12", (pure,))]
    paths = stick_paths(sets, _wheel(tmp_path, "jupyterlite_kiosk", "0.1.0"),
                        _wheel(tmp_path, "pip", "26.0"))
    assert sorted(paths) == [
        "kiosk/wheels/any/jupyterlite_kiosk-0.1.0-py3-none-any.whl",
        "kiosk/wheels/any/pip-26.0-py3-none-any.whl",
        "kiosk/wheels/any/pure-1.0-py3-none-any.whl",
        "kiosk/wheels/windows-x86_64/native-1.0-cp312-cp312-win_amd64.whl",
    ]


# -- the stick's own Python (--with-python) ------------------------------------------------

def _deb(folder: Path, name: str, version: str, members: dict[str, bytes | str]) -> Path:
    """A real .deb (ar archive, data.tar.xz): bytes are files, str are symlink targets."""
    import lzma
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, body in members.items():
            info = tarfile.TarInfo("./" + path)
            if isinstance(body, str):
                info.type, info.linkname = tarfile.SYMTYPE, body
                tar.addfile(info)
            else:
                info.size, info.mode = len(body), 0o755 if "/bin/" in path else 0o644
                tar.addfile(info, io.BytesIO(body))
    data = lzma.compress(buf.getvalue())
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for member, body in [("debian-binary", b"2.0\n"), ("control.tar.xz", lzma.compress(b"")),
                         ("data.tar.xz", data)]:
        out.write(f"{member:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(body):<10}`\n".encode())
        out.write(body + (b"\n" if len(body) % 2 else b""))
    path = folder / f"{name}_{version.replace(':', '%3a')}_amd64.deb"
    path.write_bytes(out.getvalue())
    return path


def _fake_debs(folder: Path) -> list[Path]:
    return [
        _deb(folder, "python3.11-minimal", "3.11.2-6", {
            "usr/bin/python3.11": b"\x7fELF interpreter", "usr/share/doc/x": b"doc"}),
        _deb(folder, "libpython3.11-stdlib", "3.11.2-6", {
            "usr/lib/python3.11/os.py": b"# os", "usr/lib/python3.11/venv/__init__.py": b"",
            "usr/lib/python3.11/sitecustomize.py": "/etc/python3.11/sitecustomize.py",
            "usr/lib/python3.11/lib-dynload/_ssl.so": b"so",
            "usr/lib/python3.11/test/test_os.py": b"big test",
            "usr/lib/python3.11/idlelib/x.py": b"gui"}),
        _deb(folder, "zlib1g", "1:1.2.13", {
            "lib/x86_64-linux-gnu/libz.so.1.2.13": b"zlib",
            "lib/x86_64-linux-gnu/libz.so.1": "libz.so.1.2.13"}),
        _deb(folder, "libssl3", "3.0.22", {
            "usr/lib/x86_64-linux-gnu/libssl.so.3": b"ssl",
            "usr/lib/x86_64-linux-gnu/engines-3/afalg.so": b"engine"}),
    ]


def test_runtime_archive_packs_the_interpreter_stdlib_and_libraries(tmp_path):
    import tarfile

    from kiosk.usb import runtime

    debs = _fake_debs(tmp_path)
    one = runtime.build_archive(debs, tmp_path / "a" / "rt.tar.gz", "linux-x86_64")
    two = runtime.build_archive(debs, tmp_path / "b" / "rt.tar.gz", "linux-x86_64")
    assert one.sha256 == two.sha256, "the same packages give the same bytes"
    assert one.short_id == f"py311-{one.sha256[:12]}"
    assert one.packages == {"libpython3.11-stdlib": "3.11.2-6", "libssl3": "3.0.22",
                            "python3.11-minimal": "3.11.2-6", "zlib1g": "1:1.2.13"}
    with tarfile.open(one.archive) as tar:
        members = {m.name: m for m in tar}
        info = json.loads(tar.extractfile("kiosk-runtime.json").read())  # type: ignore[union-attr]
    assert sorted(members) == [
        "bin/python3.11", "kiosk-runtime.json", "lib/libssl.so.3", "lib/libz.so.1",
        "lib/libz.so.1.2.13", "lib/python3.11/lib-dynload/_ssl.so", "lib/python3.11/os.py",
        "lib/python3.11/venv/__init__.py"]
    assert members["bin/python3.11"].mode & 0o111
    assert members["lib/libz.so.1"].issym() and members["lib/libz.so.1"].linkname == \
        "libz.so.1.2.13"
    assert info["python"] == "3.11" and info["packages"]["zlib1g"] == "1:1.2.13"


def test_runtime_archive_refuses_packages_without_python(tmp_path):
    from kiosk.usb import runtime

    debs = _fake_debs(tmp_path)[2:]
    with pytest.raises(UsbError, match=r"lack bin/python3\.11"):
        runtime.build_archive(debs, tmp_path / "rt.tar.gz", "linux-x86_64")


def test_with_python_only_for_linux(tmp_path):
    from kiosk.usb import runtime
    from kiosk.usb.make import MakeOptions, _runtimes

    options = MakeOptions(dest=tmp_path, bundles_dir=tmp_path, with_python=("windows-x86_64",))
    with pytest.raises(UsbError, match="only be shipped for linux-x86_64, linux-aarch64"):
        _runtimes(options, [])
    options = MakeOptions(dest=tmp_path, bundles_dir=tmp_path, with_python=("linux-x86_64",))
    with pytest.raises(UsbError, match=r"must carry the linux-x86_64 wheels for Python 3\.11"):
        _runtimes(options, [])
    assert set(runtime.ARCHES) == {"linux-x86_64", "linux-aarch64"}


def _machine_key() -> str:
    machine = os.uname().machine
    keys = {"x86_64": "linux-x86_64", "aarch64": "linux-aarch64"}
    if machine not in keys:
        pytest.skip(f"no runtime platform for {machine}")
    return keys[machine]


def _shell_only_path(tmp_path: Path) -> dict[str, str]:
    """PATH with a shell's tools and no Python (a laptop without one)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("dirname", "cat", "uname", "mkdir", "rm", "mv", "tar", "gzip"):
        (bindir / tool).symlink_to(subprocess.check_output(["which", tool], text=True).strip())
    return {"PATH": str(bindir), "HOME": str(tmp_path / "home")}


def _stick_with_fake_runtime(tmp_path: Path, python_body: str) -> tuple[Path, str]:
    """start.sh with a runtime whose 'python' is a shell script (to watch what it is run with)."""
    import tarfile

    key = _machine_key()
    stick = tmp_path / "stick"
    (stick / "kiosk" / "python").mkdir(parents=True)
    with tarfile.open(stick / "kiosk" / "python" / f"{key}.tar.gz", "w:gz") as tar:
        for name, body, mode in [("kiosk-runtime.json", "{}", 0o644),
                                 ("bin/python3.11", python_body, 0o755)]:
            info = tarfile.TarInfo(name)
            data = body.encode()
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    (stick / "start.sh").write_text(launchers.render_start_sh(
        PYTHONS, {key: {"id": "py311-abc", "python": "3.11"}}))
    return stick, key


def test_start_sh_unpacks_and_runs_the_sticks_python_when_the_laptop_has_none(tmp_path):
    stick, key = _stick_with_fake_runtime(
        tmp_path, '#!/bin/sh\n[ "$1" = -c ] && exit 0\necho "RAN $* LD=$LD_LIBRARY_PATH"\n')
    env = _shell_only_path(tmp_path)
    proc = subprocess.run(["/bin/sh", str(stick / "start.sh"), "--port", "8123"],
                          capture_output=True, text=True, env=env, check=False)
    rt_dir = tmp_path / "home/.local/share/kiosk-usb/python" / f"py311-abc-{key}"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "This laptop has no Python 3.11 to 3.14" in proc.stdout
    assert f"RAN {stick}/kiosk/launch.py --port 8123 LD={rt_dir}/lib" in proc.stdout
    assert (rt_dir / "kiosk-runtime.json").is_file()
    # a second start reuses the unpacked runtime
    again = subprocess.run(["/bin/sh", str(stick / "start.sh")], capture_output=True,
                           text=True, env=env, check=False)
    assert "setting up" not in again.stdout and "RAN" in again.stdout


def test_start_sh_says_what_to_install_when_the_sticks_python_cannot_run(tmp_path):
    stick, _ = _stick_with_fake_runtime(tmp_path, "#!/bin/sh\nexit 1\n")
    proc = subprocess.run(["/bin/sh", str(stick / "start.sh")], capture_output=True,
                          text=True, env=_shell_only_path(tmp_path), check=False)
    assert proc.returncode == 1
    assert "does not run on this laptop" in proc.stdout
    assert "sudo apt install python3 python3-venv" in proc.stdout


def test_start_command_without_python_says_what_to_install(tmp_path):
    script = tmp_path / "start.command"
    script.write_text(launchers.render_start_command(PYTHONS))
    proc = subprocess.run(["/bin/sh", str(script)], capture_output=True, text=True,
                          input="\n", env=_shell_only_path(tmp_path), check=False)
    assert proc.returncode == 1
    assert "This Mac computer has no Python 3.11 to 3.14" in proc.stdout
    assert "python.org" in proc.stdout and "universal2" in proc.stdout


def test_browser_does_not_get_the_runtimes_libraries(tmp_path):
    root = tmp_path / "rt"
    (root / "bin").mkdir(parents=True)
    (root / "kiosk-runtime.json").write_text("{}")
    (root / "bin" / "python3.11").write_text("")
    assert bootstrap.runtime_root(str(root / "bin" / "python3.11")) == root
    assert bootstrap.runtime_root(str(tmp_path / "elsewhere" / "bin" / "python3")) is None
    env = {"LD_LIBRARY_PATH": f"{root}/lib:/opt/x/lib", "HOME": "/h"}
    assert bootstrap.without_runtime_libs(env, root) == {"LD_LIBRARY_PATH": "/opt/x/lib",
                                                         "HOME": "/h"}
    assert bootstrap.without_runtime_libs({"LD_LIBRARY_PATH": f"{root}/lib"}, root) == {}
    assert bootstrap.without_runtime_libs(env, None) == env


@pytest.mark.parametrize("argv,expected", [
    ([], ()), (["--with-python"], ("linux-x86_64",)),
    (["--with-python", "linux-aarch64"], ("linux-aarch64",)),
    (["--with-python", "--with-python", "linux-aarch64"], ("linux-x86_64", "linux-aarch64")),
])
def test_with_python_option(tmp_path, monkeypatch, argv, expected):
    import kiosk.usb.make as make_mod

    seen = []

    def fake_make(options):
        seen.append(options.with_python)
        raise UsbError("stop here")

    monkeypatch.setattr(make_mod, "make_stick", fake_make)
    assert main(["usb", "make", str(tmp_path / "stick"), *argv]) != 0
    assert seen == [expected]
