#!/usr/bin/env bash
# Build the kiosk's JupyterLite extension into extension/dist/labextension/ (a prebuilt,
# "federated" labextension: package.json + static/), which the bundle builder includes in
# every profile. Idempotent: a warm run with unchanged sources does nothing.
#
# Network: only the npm registry (npm ci, pinned by package-lock.json) and PyPI
# (jupyterlab, for the standard `jupyter labextension build`), both on the first run only.
set -euo pipefail
cd "$(dirname "$0")"

JUPYTERLAB_VERSION=4.4.10   # the builder's core metadata; matches @jupyterlab/builder
PYTHON=${PYTHON:-python3}
OUT=dist/labextension
STAMP=$OUT/.kiosk-build-stamp

# 1. Node dependencies, exactly as locked.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "extension: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# 2. The jupyterlab Python package, only to run `jupyter labextension build`.
if ! .venv/bin/python -c "import sys; from importlib.metadata import version; sys.exit(version('jupyterlab') != '$JUPYTERLAB_VERSION')" 2>/dev/null; then
  echo "extension: installing jupyterlab==$JUPYTERLAB_VERSION into extension/.venv"
  rm -rf .venv
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check "jupyterlab==$JUPYTERLAB_VERSION"
fi

# 3. Skip the build when nothing it reads has changed.
sources_hash() {
  { find src style -type f -print0 | sort -z | xargs -0 sha256sum
    sha256sum package.json package-lock.json tsconfig.json build.sh
    echo "$JUPYTERLAB_VERSION"; } | sha256sum | cut -d' ' -f1
}
HASH=$(sources_hash)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ] && [ -f "$OUT/package.json" ]; then
  echo "extension: up to date ($OUT)"
  exit 0
fi

# 4. TypeScript, then the standard prebuilt-extension build (webpack module federation;
#    @jupyterlab/* and @lumino/* are shared singletons taken from the host page).
echo "extension: building"
rm -rf lib tsconfig.tsbuildinfo "$OUT"
node_modules/.bin/tsc -p .
PATH="$PWD/.venv/bin:$PATH" .venv/bin/jupyter labextension build . >build.log 2>&1 || { cat build.log; exit 1; }
test -f "$OUT/package.json"
ls "$OUT"/static/remoteEntry.*.js >/dev/null
echo "$HASH" > "$STAMP"
echo "extension: built $OUT"
