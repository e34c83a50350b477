#!/usr/bin/env bash
# Put everything a Raspberry Pi needs on a USB stick (or any folder), so the Pi needs
# neither git nor Node.js: the project's source and the active bundle, packed into one
# file. On the Pi: copy DEST/kiosk to the home folder and `sudo make install`
# (docs/operations.md, "A Raspberry Pi from scratch").
#
#   scripts/pi-stick.sh DEST        # what `make pi-stick DEST=...` runs
#
# Writes DEST/kiosk/ (the source tree without .git, .venv, node_modules, built bundles
# and caches) and DEST/kiosk/kiosk-bundle.tar (`kiosk bundle pack`, verified).
# KIOSK (the kiosk command, default .venv/bin/kiosk) and BUNDLES_DIR (bundles/dist).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST=${1:?usage: scripts/pi-stick.sh DEST (a USB stick or any folder)}
KIOSK=${KIOSK:-$REPO/.venv/bin/kiosk}
BUNDLES_DIR=${BUNDLES_DIR:-$REPO/bundles/dist}
out="$DEST/kiosk"

[ -d "$DEST" ] || { echo "pi-stick: $DEST is not a folder (is the stick plugged in?)" >&2; exit 2; }
[ -x "$KIOSK" ] || { echo "pi-stick: no $KIOSK: run 'make run' (or 'make bundle') first" >&2; exit 2; }
mkdir -p "$out"
# Plain files only (a stick may be FAT: no symlinks), and nothing built for this laptop.
tar -C "$REPO" -cf - \
  --exclude=./.git --exclude=.venv --exclude=./bundles/dist --exclude=node_modules \
  --exclude=__pycache__ --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache \
  --exclude='*.egg-info' --exclude=./kiosk-bundle.tar --exclude=./extension/dist \
  --exclude=./build --exclude=./extension/lib --exclude=./tests/browser/out . | tar -C "$out" --no-same-owner -xf -
"$KIOSK" bundle pack "$out/kiosk-bundle.tar" --bundles-dir "$BUNDLES_DIR"
sync
echo "pi-stick: wrote $out ($(du -sh "$out" | cut -f1)); on the Pi: docs/operations.md"
