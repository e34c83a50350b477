"""Start the kiosk from a USB stick on the laptop it is plugged into.

This file is copied to ``<stick>/kiosk/launch.py`` and run by ``start.sh``,
``start.command`` and ``start.bat`` with whatever Python 3 the laptop has, so it uses
the standard library only and never imports :mod:`kiosk`. It:

1. finds this laptop's platform among those the stick carries wheels for;
2. makes a virtual environment in the laptop's user data directory (on the stick
   only when the laptop has no writable one and the stick has room), once, and
   installs the kiosk into it from the stick's wheels alone (``--no-index``), with
   the pip wheel on the stick, so no network and no pip on the laptop are needed;
3. keeps the share store on the stick (``<stick>/data``) so the class's work goes
   home with the teacher, or on the laptop when the stick is read-only, and says so;
4. runs ``kiosk serve`` on every interface (the LAN can join) and opens
   ``http://localhost:<port>/``: a secure context, so every browser feature works.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import types
import urllib.error
import urllib.request
import uuid
import webbrowser
from pathlib import Path
from typing import Any

MANIFEST_NAME = "kiosk-usb.json"
APP_DIR_NAME = "kiosk-usb"
#: free space (MiB) a stick needs before a virtual environment is put on it
VENV_ROOM_MIB = 300
PORT_TRIES = 10


class LaunchError(Exception):
    """Something the person at the laptop must read and act on."""


def stick_root() -> Path:
    """The stick's top folder (this file lives in ``<stick>/kiosk/``)."""
    return Path(__file__).resolve().parent.parent


def load_manifest(stick: Path) -> dict[str, Any]:
    """The stick's ``kiosk-usb.json``."""
    try:
        data: dict[str, Any] = json.loads((stick / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LaunchError(f"{stick / MANIFEST_NAME} cannot be read ({exc}): the stick is "
                          "incomplete; make it again with 'kiosk usb make'.") from None
    return data


def platform_key(manifest: dict[str, Any], sys_platform: str | None = None,
                 machine: str | None = None) -> str:
    """The stick's name for this laptop's platform (e.g. ``windows-x86_64``)."""
    sys_platform = sys.platform if sys_platform is None else sys_platform
    machine = (platform.machine() if machine is None else machine).lower()
    for key, info in manifest["platforms"].items():
        if info["sys_platform"] == sys_platform and machine in info["machines"]:
            return str(key)
    titles = ", ".join(info["title"] for info in manifest["platforms"].values())
    raise LaunchError(f"This stick has no kiosk for this computer ({sys_platform}, "
                      f"{machine or 'unknown processor'}). It carries: {titles}.")


def check_python(manifest: dict[str, Any], key: str,
                 version: tuple[int, int] | None = None) -> str:
    """This Python's version if the stick has wheels for it on ``key``, else explain."""
    major, minor = sys.version_info[:2] if version is None else version
    have = f"{major}.{minor}"
    info = manifest["platforms"][key]
    if have in info["pythons"]:
        return have
    wanted = ", ".join(info["pythons"]) or "none"
    raise LaunchError(f"This is Python {have}; the stick carries the kiosk for Python "
                      f"{wanted} on {info['title']}. Install one of those versions.")


def user_data_dir(env: dict[str, str] | None = None, sys_platform: str | None = None,
                  home: Path | None = None) -> Path:
    """This laptop user's data folder for the stick (venvs, and data if read-only)."""
    env = dict(os.environ) if env is None else env
    sys_platform = sys.platform if sys_platform is None else sys_platform
    home = Path.home() if home is None else home
    if sys_platform == "win32":
        base = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys_platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / APP_DIR_NAME


def is_writable(folder: Path) -> bool:
    """True if a file can be created in ``folder`` (made if missing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError:
        return False
    return True


def choose_data_dir(stick: Path, user_dir: Path, stick_id: str) -> tuple[Path, str]:
    """Where the share store lives, and a sentence saying so to the teacher."""
    on_stick = stick / "data"
    if is_writable(on_stick):
        return on_stick, ("Students' shared work is kept on the USB stick (folder 'data'): "
                          "it goes home with the stick.")
    laptop = user_dir / stick_id / "data"
    return laptop, (f"The USB stick is read-only, so students' shared work is kept on this "
                    f"laptop in {laptop}.")


def choose_venv_dir(stick: Path, user_dir: Path, name: str, *, where: str = "auto",
                    room_mib: float = VENV_ROOM_MIB) -> Path:
    """Where the virtual environment goes.

    A virtual environment points at the laptop's own Python, so it only ever serves
    this laptop: by default it lives on the laptop (fast disk, executable files). It
    goes on the stick when asked (``where="stick"``), or when the laptop has no
    writable data folder and the stick is writable with ``room_mib`` free.
    """
    laptop = user_dir / "venvs" / name
    on_stick = stick / "venvs" / name
    if where == "laptop":
        return laptop
    if where == "stick" or not is_writable(user_dir):
        if is_writable(stick / "venvs") and \
                shutil.disk_usage(stick).free / 1048576 >= room_mib:
            return on_stick
        if where == "stick":
            raise LaunchError("The stick is read-only or has less than "
                              f"{room_mib} MiB free: cannot put the environment on it.")
    return laptop


def venv_python(venv: Path) -> Path:
    """The interpreter of a virtual environment."""
    if sys.platform == "win32":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def wheel_digest(manifest: dict[str, Any], key: str) -> str:
    """A fingerprint of the wheels this platform installs (to skip a repeat install)."""
    prefixes = ("kiosk/wheels/any/", f"kiosk/wheels/{key}/")
    items = sorted((path, rec["sha256"]) for path, rec in manifest["files"].items()
                   if path.startswith(prefixes))
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()


def install(stick: Path, manifest: dict[str, Any], key: str, venv: Path) -> bool:
    """Create the environment and install the kiosk from the stick; False if done before."""
    stamp = venv / "kiosk-usb-installed.json"
    digest = wheel_digest(manifest, key)
    python = venv_python(venv)
    try:
        if json.loads(stamp.read_text(encoding="utf-8")).get("wheels") == digest \
                and python.exists():
            return False
    except (OSError, ValueError):
        pass
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    say(f"First start on this laptop: installing the kiosk into {venv} (a minute or two)...")
    # --without-pip: no ensurepip needed (Debian/Ubuntu often lack it); the stick's
    # pip wheel does the install.
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)],
        "creating the virtual environment")
    wheels = stick / "kiosk" / "wheels"
    pip = stick / manifest["pip_wheel"]
    run([str(python), str(pip / "pip"), "install", "--isolated", "--no-index",
         "--disable-pip-version-check", "--no-warn-script-location", "--quiet",
         "--find-links", str(wheels / "any"), "--find-links", str(wheels / key),
         f"{manifest['kiosk_dist']}=={manifest['kiosk_version']}"],
        "installing the kiosk from the stick's wheels")
    stamp.write_text(json.dumps({"wheels": digest, "stick_id": manifest["stick_id"]}) + "\n",
                     encoding="utf-8")
    return True


def run(cmd: list[str], what: str) -> None:
    """Run a step; its output is shown only when it fails."""
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LaunchError(f"{what} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")


def free_port(first: int, host: str = "") -> int:
    """The first port from ``first`` on that nothing listens on."""
    for port in range(first, first + PORT_TRIES):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sys.platform != "win32":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise LaunchError(f"Ports {first} to {first + PORT_TRIES - 1} are all taken: is the "
                      "kiosk already running? Close it, or pass --port.")


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait until the kiosk answers ``url`` (or stops, or the time runs out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LaunchError(f"The kiosk stopped at once (exit code {proc.returncode}); "
                              "its messages are above.")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (http only)
                if resp.status < 500:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise LaunchError(f"The kiosk did not answer on {url} within {timeout:.0f} s.")


def supports_setting(python: Path, name: str) -> bool:
    """Does the installed kiosk know setting ``name`` (newer kiosks may)?"""
    code = ("import sys, kiosk.config as c; "
            f"sys.exit(0 if {name!r} in c.KioskConfig.__dataclass_fields__ else 1)")
    return subprocess.run([str(python), "-c", code], capture_output=True,
                          check=False).returncode == 0


def say(text: str) -> None:
    print(text, flush=True)


def runtime_root(executable: str | None = None) -> Path | None:
    """The folder of the stick's own Python when this is it (``start.sh`` unpacked it).

    Its ``lib`` holds OpenSSL, SQLite... for the kiosk (``start.sh`` puts it on
    ``LD_LIBRARY_PATH``); the laptop's own programs must not see them.
    """
    root = Path(sys.executable if executable is None else executable).resolve().parent.parent
    return root if (root / "kiosk-runtime.json").is_file() else None


def without_runtime_libs(env: dict[str, str], root: Path | None) -> dict[str, str]:
    """``env`` with the runtime's ``lib`` taken off ``LD_LIBRARY_PATH`` (for the browser)."""
    if root is None or "LD_LIBRARY_PATH" not in env:
        return env
    lib = str(root / "lib")
    kept = [p for p in env["LD_LIBRARY_PATH"].split(os.pathsep)
            if p and os.path.normpath(p) != os.path.normpath(lib)]
    out = {k: v for k, v in env.items() if k != "LD_LIBRARY_PATH"}
    if kept:
        out["LD_LIBRARY_PATH"] = os.pathsep.join(kept)
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Start the classroom kiosk from this stick.")
    parser.add_argument("--port", type=int, default=8000, help="first port to try (8000)")
    parser.add_argument("--host", default="0.0.0.0",
                        help="address to listen on (0.0.0.0: the LAN can join)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--venv", choices=["auto", "laptop", "stick"], default="auto",
                        help="where the Python environment goes (auto: the laptop)")
    parser.add_argument("--data-dir", type=Path, help="keep the share store here instead")
    parser.add_argument("--install-only", action="store_true",
                        help="install, then stop (to prepare a laptop before class)")
    parser.add_argument("--ready-timeout", type=float, default=120)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Install if needed, serve, open the browser; the kiosk's exit code."""
    args = parse_args(argv)
    stick = stick_root()
    try:
        manifest = load_manifest(stick)
        key = platform_key(manifest)
        version = check_python(manifest, key)
        user_dir = user_data_dir()
        name = f"{manifest['stick_id']}-{key}-py{version.replace('.', '')}"
        venv = choose_venv_dir(stick, user_dir, name, where=args.venv)
        started = time.monotonic()
        if install(stick, manifest, key, venv):
            say(f"Installed in {time.monotonic() - started:.0f} s.")
        if args.install_only:
            return 0
        if args.data_dir is not None:
            data_dir, note = args.data_dir, f"Students' shared work is kept in {args.data_dir}."
        else:
            data_dir, note = choose_data_dir(stick, user_dir, manifest["stick_id"])
        data_dir.mkdir(parents=True, exist_ok=True)
        port = free_port(args.port)
        python = venv_python(venv)
        cmd = [str(python), "-m", "kiosk", "serve",
               "--bundles-dir", str(stick / "kiosk" / "bundles"),
               "--data-dir", str(data_dir), "--host", args.host, "--port", str(port)]
        if supports_setting(python, "data_note"):
            cmd += ["--data-note", note]
        say(note)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
        proc = subprocess.Popen(cmd, env=env)
    except LaunchError as exc:
        say(f"\n{exc}\n")
        return 1
    return supervise(proc, port, args)


def supervise(proc: subprocess.Popen[bytes], port: int, args: argparse.Namespace) -> int:
    """Wait for the kiosk, open the browser, and pass Ctrl-C or SIGTERM on to it."""

    def stop(signum: int, _frame: types.FrameType | None) -> None:
        proc.terminate()

    if sys.platform != "win32":
        signal.signal(signal.SIGTERM, stop)
    url = f"http://localhost:{port}/"
    try:
        wait_ready(f"http://127.0.0.1:{port}/", proc, args.ready_timeout)
        say(f"\nThe kiosk is running. On this laptop open {url}\n"
            f"Students on the same network open http://<this laptop's address>:{port}/ "
            "(the page shows it). Close this window or press Ctrl-C to stop.\n")
        if not args.no_browser:
            # the kiosk got its environment already; the laptop's browser must not load
            # the stick runtime's libraries (a different OpenSSL or SQLite)
            clean = without_runtime_libs(dict(os.environ), runtime_root())
            os.environ.clear()
            os.environ.update(clean)
            webbrowser.open(url)
        return proc.wait()
    except LaunchError as exc:
        say(f"\n{exc}\n")
        proc.terminate()
        proc.wait(15)
        return 1
    except KeyboardInterrupt:
        proc.terminate()
        try:
            return proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()


def new_stick_id() -> str:
    """A fresh id for a stick (names its folders on laptops)."""
    return uuid.uuid4().hex[:12]


if __name__ == "__main__":
    sys.exit(main())
