#!/usr/bin/env bash
# Install the kiosk as a systemd service (idempotent: run it again to upgrade).
#
#   sudo scripts/install.sh                 # venv in /opt/kiosk, unit, /etc/kiosk/kiosk.toml
#   WHEELHOUSE=/media/usb/wheels sudo scripts/install.sh     # offline: wheels from a folder
#
# It also installs the bundle that comes with the project folder, verified and active, in
# the service's bundles directory (/var/lib/kiosk/bundles): kiosk-bundle.tar (written by
# `make pi-stick` or `kiosk bundle pack`) or else the active bundle of bundles/dist (built
# here by `make bundle`); BUNDLE=FILE names another archive. And it links
# /usr/local/bin/kiosk to the venv's command.
#
# Variables (for packaging and tests): DESTDIR (staging root, default none; when set,
# systemctl is never called), PREFIX (/opt/kiosk), SYSCONFDIR (/etc/kiosk),
# UNITDIR (/etc/systemd/system), BINDIR (/usr/local/bin), STATEDIR (/var/lib/kiosk),
# BUNDLE (archive to install; 'none': no bundle), PYTHON (python3), WHEELHOUSE (pip --no-index
# --find-links), VENV_ARGS (extra venv options), PIP_INSTALL=0 (skip pip: tests),
# SYSTEMCTL=0 (never call systemctl).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/opt/kiosk}
SYSCONFDIR=${SYSCONFDIR:-/etc/kiosk}
UNITDIR=${UNITDIR:-/etc/systemd/system}
BINDIR=${BINDIR:-/usr/local/bin}
STATEDIR=${STATEDIR:-/var/lib/kiosk}
BUNDLE=${BUNDLE:-}
PYTHON=${PYTHON:-python3}
PIP_INSTALL=${PIP_INSTALL:-1}
SYSTEMCTL=${SYSTEMCTL:-1}
WHEELHOUSE=${WHEELHOUSE:-}
VENV_ARGS=${VENV_ARGS:-}

venv="$DESTDIR$PREFIX/venv"
conf="$DESTDIR$SYSCONFDIR/kiosk.toml"
unit="$DESTDIR$UNITDIR/kiosk.service"

say() { printf 'install: %s\n' "$*"; }

# 1. The virtual environment and the kiosk in it.
if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv"
  mkdir -p "$(dirname "$venv")"
  # shellcheck disable=SC2086  # VENV_ARGS is a list of options
  "$PYTHON" -m venv $VENV_ARGS "$venv"
fi
if [ "$PIP_INSTALL" = 1 ]; then
  pip_args=(--quiet --disable-pip-version-check)
  [ -n "$WHEELHOUSE" ] && pip_args+=(--no-index --find-links "$WHEELHOUSE")
  say "installing the kiosk into $venv"
  "$venv/bin/python" -m pip install "${pip_args[@]}" --upgrade "$REPO"
fi

# 1b. `kiosk` on the PATH (sudo's too): a link to the venv's command.
mkdir -p "$DESTDIR$BINDIR"
ln -sfn "$PREFIX/venv/bin/kiosk" "$DESTDIR$BINDIR/kiosk"
say "linked $BINDIR/kiosk -> $PREFIX/venv/bin/kiosk"

# 2. The unit (always replaced: it belongs to the package, not to the admin;
#    local changes go in `systemctl edit kiosk`).
install -D -m 0644 "$REPO/systemd/kiosk.service" "$unit"
say "wrote $unit"

# 3. The configuration: every setting, commented, with its default and help. An
#    existing kiosk.toml is the admin's and is never touched; the fresh template
#    goes next to it as kiosk.toml.example.
mkdir -p "$(dirname "$conf")"
PYTHONPATH="$REPO" "$PYTHON" - "$conf.example" <<'PY'
import json
import sys
from pathlib import Path

from kiosk.config import settings


def literal(value):
    if value is None:
        return '""'  # an empty string means "unset" for optional settings
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(json.dumps(str(v)) for v in value) + "]"
    return json.dumps(str(value))


lines = ["# The kiosk's settings. Every line is commented: the default applies.",
         "# Uncomment and edit, then: sudo systemctl restart kiosk",
         "# KIOSK_<NAME> environment variables override this file.", ""]
for info in settings():
    lines.append(f"# {info.help}")
    lines.append(f"# {info.name} = {literal(info.default)}")
    lines.append("")
Path(sys.argv[1]).write_text("\n".join(lines), encoding="utf-8")
PY
chmod 0644 "$conf.example"
if [ ! -e "$conf" ]; then
  cp "$conf.example" "$conf"
  say "wrote $conf"
else
  say "kept $conf (the template is $conf.example)"
fi

# 4. The bundle, where the service looks ($STATEDIR/bundles), so students never see
#    "Python is not installed on this kiosk yet" after the teacher built one.
if [ "$PIP_INSTALL" = 1 ]; then
  kiosk_cmd=("$venv/bin/kiosk")
else  # tests stage without pip: run the kiosk from the source tree
  kiosk_cmd=(env "PYTHONPATH=$REPO" "$PYTHON" -m kiosk)
fi
bundles="$DESTDIR$STATEDIR/bundles"
archive=$BUNDLE
packed=""
if [ -z "$archive" ] && [ -f "$REPO/kiosk-bundle.tar" ]; then
  archive="$REPO/kiosk-bundle.tar"
elif [ -z "$archive" ] && [ -f "$REPO/bundles/dist/current" ]; then
  packed=$(mktemp "${TMPDIR:-/tmp}/kiosk-bundle.XXXXXX")
  trap 'rm -f "$packed"' EXIT
  "${kiosk_cmd[@]}" bundle pack "$packed" --bundles-dir "$REPO/bundles/dist" >/dev/null
  archive=$packed
fi
if [ "$archive" = none ]; then
  say "BUNDLE=none: no bundle installed"
elif [ -n "$archive" ]; then
  # DynamicUser=: /var/lib/kiosk is the service's (really /var/lib/private/kiosk). A new
  # folder made here is moved there and given to the service by systemd at its next start;
  # in an existing one, the new files are handed to the folder's owner now.
  mkdir -p "$DESTDIR$STATEDIR"
  "${kiosk_cmd[@]}" bundle unpack "$archive" --bundles-dir "$bundles"
  if [ -L "$DESTDIR$STATEDIR" ]; then
    chown -R --reference="$DESTDIR$STATEDIR/." "$bundles"
  fi
else
  say "no bundle in the project folder (kiosk-bundle.tar or bundles/dist): the kiosk will" \
      "ask for one; build it with 'make bundle' or bring one with 'kiosk bundle unpack FILE'"
fi

# 5. systemd, only on a live system (not when staging into DESTDIR).
if [ "$SYSTEMCTL" = 1 ] && [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable kiosk.service
  # restart also starts it, and picks up new code on an upgrade.
  systemctl restart kiosk.service
  say "kiosk.service enabled and (re)started: systemctl status kiosk"
else
  say "systemd not running (or DESTDIR set): skipped systemctl"
fi
