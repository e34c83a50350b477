#!/usr/bin/env bash
# `make extension` with a cache: a fresh clone gets the notebook extension already built
# for the very same sources on this machine, instead of npm ci + installing jupyterlab +
# webpack (2-3 minutes). Otherwise it runs extension/build.sh and keeps its output.
#
# The key is git's own hash of the committed extension/ folder (every source, the
# lockfile, build.sh and its pinned jupyterlab version) plus the Node.js version. With
# uncommitted changes under extension/ (someone working on it) the cache is not used.
# Usage: scripts/extension-cached.sh [--print-key]
# Cache: ${KIOSK_EXTENSION_CACHE:-~/.cache/kiosk/extension}/<key>/labextension
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=extension/dist/labextension
MARK=extension/dist/.kiosk-source-key
CACHE=${KIOSK_EXTENSION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiosk/extension}

key=""
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 \
   && git diff --quiet HEAD -- extension 2>/dev/null \
   && [ -z "$(git ls-files --others --exclude-standard -- extension)" ]; then
  tree=$(git rev-parse HEAD:extension 2>/dev/null || true)
  [ -n "$tree" ] && key="$tree-node$(node --version 2>/dev/null || echo none)"
fi

if [ "${1:-}" = "--print-key" ]; then  # for the tests: the key, empty when not cacheable
  echo "$key"
  exit 0
fi
if [ -n "$key" ] && [ -f "$OUT/package.json" ] && [ "$(cat "$MARK" 2>/dev/null)" = "$key" ]; then
  echo "extension: up to date ($OUT)"
  exit 0
fi
if [ -n "$key" ] && [ -f "$CACHE/$key/labextension/package.json" ]; then
  rm -rf "$OUT"
  mkdir -p "$(dirname "$OUT")"
  cp -a "$CACHE/$key/labextension" "$OUT"
  echo "$key" > "$MARK"
  echo "extension: the build of these very sources, from the cache ($CACHE)"
  exit 0
fi

rm -f "$MARK"  # whatever the build makes, it is not known to match a key yet
bash extension/build.sh
if [ -n "$key" ] && [ -f "$OUT/package.json" ]; then
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/.$key.XXXXXX")
  cp -a "$OUT" "$tmp/labextension"
  mv -T "$tmp" "$CACHE/$key" 2>/dev/null || rm -rf "$tmp"  # another build won: keep it
  echo "$key" > "$MARK"
fi
