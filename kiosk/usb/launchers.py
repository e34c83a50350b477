"""The text of the stick's launchers and of its README.

Each launcher only finds a Python the stick has wheels for and hands over to
``kiosk/launch.py`` (:mod:`kiosk.usb.bootstrap`); when there is none, it says in plain
words what to install. The laptop has no internet, so the messages say to fetch the
installer on another computer (the stick has an ``installers`` folder for it): no
Python runtime for Windows or macOS is published on the package registries the
kiosk is built from, so a stick cannot carry one by itself. For Linux it can
(``kiosk usb make --with-python``, :mod:`kiosk.usb.runtime`): ``start.sh`` then falls
back to the stick's own Python before giving up.

The files are plain text: ``start.sh`` and ``start.command`` with LF line ends (run
with ``sh``; FAT has no executable bit), ``start.bat`` and ``README.txt`` with CRLF.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

LAUNCH = "kiosk/launch.py"
#: a runtime's entry in ``kiosk-usb.json`` (``file``, ``python``, ``id``, ...)
RuntimeInfo = Mapping[str, Any]
#: what ``uname -m`` prints on the Linux platforms a runtime can serve
_MACHINES = {"linux-x86_64": ("x86_64", "amd64"), "linux-aarch64": ("aarch64", "arm64")}


def _check_code(pythons: Sequence[str]) -> str:
    """A one-line Python check that exits 0 only on a version the stick serves."""
    listed = " ".join(pythons)
    # no '%' anywhere: cmd.exe would expand it inside a .bat file
    return ("import sys; sys.exit(0 if '.'.join(map(str, sys.version_info[:2])) in "
            f"'{listed}'.split() else 1)")


def _newest_first(pythons: Sequence[str]) -> list[str]:
    return sorted(pythons, key=lambda v: tuple(int(p) for p in v.split(".")), reverse=True)


def _range(pythons: Sequence[str]) -> str:
    ordered = _newest_first(pythons)
    return ordered[0] if len(ordered) == 1 else f"{ordered[-1]} to {ordered[0]}"


def _runtime_block(pythons: Sequence[str], runtimes: Mapping[str, RuntimeInfo]) -> str:
    """Shell code that unpacks and runs the stick's own Python when the laptop has none.

    ``runtimes`` maps the stick's platform key (``linux-x86_64``) to the runtime's entry
    in ``kiosk-usb.json`` (its Python version and id). The runtime is unpacked once per
    laptop user into their data folder (the stick may be FAT: no executable bits), and
    run once as a check before it is used: on a laptop it cannot serve (too old a
    glibc) the launcher falls through to the plain message.
    """
    if not runtimes:
        return ""
    cases = []
    for key, info in sorted(runtimes.items()):
        cases.append(f"  {'|'.join(_MACHINES[key])}) rt_key={key} rt_id={info['id']} "
                     f"rt_py=python{info['python']} ;;")
    case_lines = "\n".join(cases)
    return f"""# No suitable Python on this laptop: use the one on the stick, if it has one for
# this processor. It is unpacked once into the user's data folder and reused.
rt_key=
case "$(uname -m)" in
{case_lines}
esac
if [ -n "$rt_key" ] && [ -f "$here/kiosk/python/$rt_key.tar.gz" ]; then
  rt_dir="${{XDG_DATA_HOME:-${{HOME:-/tmp}}/.local/share}}/kiosk-usb/python/$rt_id-$rt_key"
  if [ ! -f "$rt_dir/kiosk-runtime.json" ]; then
    echo "This laptop has no Python {_range(pythons)}: setting up the Python on the stick"
    echo "in $rt_dir (once)..."
    rm -rf "$rt_dir.part" && mkdir -p "$rt_dir.part" &&
      tar -xzf "$here/kiosk/python/$rt_key.tar.gz" -C "$rt_dir.part" &&
      rm -rf "$rt_dir" && mv "$rt_dir.part" "$rt_dir"
  fi
  LD_LIBRARY_PATH="$rt_dir/lib${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"
  export LD_LIBRARY_PATH
  if "$rt_dir/bin/$rt_py" -c "import sys" >/dev/null 2>&1; then
    echo "Using the Python on the stick ($rt_py, Debian's build)."
    exec "$rt_dir/bin/$rt_py" "$here/{LAUNCH}" "$@"
  fi
  echo "The Python on the stick does not run on this laptop (it needs glibc 2.35 or newer)."
fi
"""


def _posix(pythons: Sequence[str], candidates: list[str], missing: str, *,
           pause: bool, runtimes: Mapping[str, RuntimeInfo] | None = None) -> str:
    names = " ".join(candidates)
    wait = "printf 'Press Enter to close this window. '\nread -r _\n" if pause else ""
    runtime = _runtime_block(pythons, runtimes or {})
    return f"""#!/bin/sh
# Start the classroom kiosk from this USB stick. Run it with:  sh start.sh
# It needs Python {_range(pythons)}; everything else is on the stick.
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd) || exit 1
for py in {names}; do
  if command -v "$py" >/dev/null 2>&1 &&
     "$py" -c "{_check_code(pythons)}" >/dev/null 2>&1; then
    exec "$py" "$here/{LAUNCH}" "$@"
  fi
done
{runtime}cat <<'EOF'
{missing}
EOF
{wait}exit 1
"""


def _missing_text(os_name: str, pythons: Sequence[str], how: str) -> str:
    newest = _newest_first(pythons)[0]
    return (f"This {os_name} computer has no Python {_range(pythons)}, which the kiosk "
            f"needs.\n{how}\n"
            "This laptop has no internet: download the installer on another computer and\n"
            "copy it into the folder 'installers' on this stick; install it here, then\n"
            f"start the kiosk again. (Recommended version: Python {newest}.)")


def render_start_sh(pythons: Sequence[str],
                    runtimes: Mapping[str, RuntimeInfo] | None = None) -> str:
    """``start.sh`` for Linux; ``runtimes``: the Pythons on the stick (``--with-python``)."""
    candidates = [f"python{v}" for v in _newest_first(pythons)] + ["python3", "python"]
    how = ("Install it with your system's package manager, e.g.\n"
           "  Debian/Ubuntu:  sudo apt install python3 python3-venv\n"
           "  Fedora:         sudo dnf install python3")
    return _posix(pythons, candidates, _missing_text("Linux", pythons, how), pause=False,
                  runtimes=runtimes)


def render_start_command(pythons: Sequence[str]) -> str:
    """``start.command`` for macOS (double-click opens Terminal; else ``sh start.command``)."""
    ordered = _newest_first(pythons)
    candidates = [f"/Library/Frameworks/Python.framework/Versions/{v}/bin/python3"
                  for v in ordered]
    candidates += [f"/opt/homebrew/bin/python{v}" for v in ordered]
    candidates += [f"/usr/local/bin/python{v}" for v in ordered]
    candidates += [f"python{v}" for v in ordered] + ["python3"]
    how = ("Install it from python.org: 'macOS 64-bit universal2 installer' (a .pkg file\n"
           "that works on Intel and Apple silicon Macs).")
    return _posix(pythons, candidates, _missing_text("Mac", pythons, how), pause=True)


def _bat_echo(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        escaped = line
        for char in "^&|<>()":
            escaped = escaped.replace(char, "^" + char)
        out.append(f"echo {escaped}" if escaped.strip() else "echo.")
    return out


def render_start_bat(pythons: Sequence[str]) -> str:
    """``start.bat`` for Windows (``py`` launcher first, then ``python`` on PATH)."""
    ordered = _newest_first(pythons)
    how = ("Install it from python.org: 'Windows installer (64-bit)' (or ARM64 on an ARM\n"
           "laptop); tick 'Add python.exe to PATH'.")
    launch = LAUNCH.replace("/", "\\")
    lines = [
        "@echo off",
        "rem Start the classroom kiosk from this USB stick: double-click this file.",
        f"rem It needs Python {_range(pythons)}; everything else is on the stick.",
        "setlocal",
        'set "PY="',
        f"for %%V in ({' '.join(ordered)}) do (",
        '  if not defined PY py -%%V -c "import sys" >nul 2>&1 && set "PY=py -%%V"',
        ")",
        f'if not defined PY python -c "{_check_code(pythons)}" >nul 2>&1 && set "PY=python"',
        "if not defined PY goto nopython",
        f'%PY% "%~dp0{launch}" %*',
        'set "RC=%ERRORLEVEL%"',
        'if not "%RC%"=="0" pause',
        "exit /b %RC%",
        ":nopython",
        *_bat_echo(_missing_text("Windows", pythons, how)),
        "pause",
        "exit /b 1",
    ]
    return "\r\n".join(lines) + "\r\n"


def render_readme(*, version: str, bundle: str, pythons: Sequence[str],
                  platforms: Sequence[str], port: int = 8000,
                  runtimes: Sequence[str] = ()) -> str:
    """``README.txt``: the teacher's guide, on the stick itself (CRLF for Notepad).

    ``runtimes``: titles of the platforms whose Python is on the stick.
    """
    runtime_note = ""
    if runtimes:
        runtime_note = ("\n  This stick also carries a Python for " + ", ".join(runtimes)
                        + ": start.sh uses\n  it when the laptop has no Python of its own "
                        "(Linux with glibc 2.35 or newer).")
    text = f"""CLASSROOM PYTHON KIOSK ON A USB STICK
=====================================

This stick runs the classroom kiosk (version {version}, bundle '{bundle}') on a laptop
with no internet. Students use Python in their web browser; the laptop serves them.

START
  Windows:  double-click start.bat
  macOS:    double-click start.command (or in Terminal: sh /Volumes/<stick>/start.command)
  Linux:    in a terminal: sh /media/<you>/<stick>/start.sh

  The first start on a laptop installs the kiosk from the stick (a minute or so,
  no internet needed); later starts take seconds. The browser then opens
  http://localhost:{port}/ on the laptop. Keep the window open during class;
  close it (or press Ctrl-C) to stop.

STUDENTS ON THE SAME NETWORK
  Students join at http://<the laptop's address>:{port}/ - the kiosk's start page
  shows the address and a QR code. Windows may ask whether Python may accept
  connections: allow it on private networks. On the laptop itself (localhost)
  every browser feature works; a student who has a laptop of their own can
  also run the stick there.

THE CLASS'S WORK
  Shared notebooks are kept on the stick in the folder 'data', so the work goes
  home with the stick. If the stick is read-only, they are kept on the laptop
  instead, and the launcher says where.

PYTHON
  The laptop needs Python {_range(pythons)}. If it has none, the launcher says what to
  install. The laptop has no internet: fetch the installer on another computer
  and copy it into the folder 'installers' on this stick.{runtime_note}
  This stick carries the kiosk for: {", ".join(platforms)}.

BEFORE CLASS
  Check that the stick was copied well:  kiosk usb verify <stick>
  Start it once on the class laptop: the first start is the slow one.
"""
    return text.replace("\n", "\r\n")
