#!/usr/bin/env bash
# Build the kiosk's JupyterLite extension into extension/dist/labextension/ (a prebuilt,
# "federated" labextension: package.json + static/), which the bundle builder includes in
# every profile. Idempotent: a warm run with unchanged sources does nothing.
#
# Network: only the npm registry (npm ci, pinned by package-lock.json) and PyPI (the
# jupyterlab wheel, for its core metadata), both on the first run only.
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

# 2. JupyterLab's core metadata (which packages the page shares as singletons, and at
#    which versions), read from the jupyterlab wheel: `jupyter labextension build` reads
#    nothing else of it. Only the wheel is downloaded (no dependencies, nothing
#    installed), so this takes seconds instead of the full JupyterLab install.
CORE=.venv/jupyterlab-core-$JUPYTERLAB_VERSION
if [ ! -f "$CORE/package.json" ]; then
  echo "extension: fetching the core metadata of jupyterlab==$JUPYTERLAB_VERSION"
  rm -rf .venv
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps \
    --only-binary=:all: -d .venv/wheel "jupyterlab==$JUPYTERLAB_VERSION"
  .venv/bin/python - "$CORE" .venv/wheel/jupyterlab-"$JUPYTERLAB_VERSION"-*.whl <<'PY'
import sys, zipfile
from pathlib import Path
core, wheel = Path(sys.argv[1]), sys.argv[2]
with zipfile.ZipFile(wheel) as whl:
    data = whl.read("jupyterlab/staging/package.json")
core.mkdir(parents=True, exist_ok=True)
(core / "package.json").write_bytes(data)
PY
  rm -rf .venv/wheel
fi
# The builder in node_modules must be the one this JupyterLab expects (as the jupyter
# command checks before it builds).
node -e '
  const core = require(process.argv[1]), b = require("./node_modules/@jupyterlab/builder/package.json");
  const want = core.devDependencies["@jupyterlab/builder"];
  if (want.replace(/^[~^]/, "") !== b.version) {
    console.error(`extension: @jupyterlab/builder ${b.version} does not match jupyterlab (${want})`);
    process.exit(1);
  }' "$PWD/$CORE/package.json"

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

# 4. TypeScript, then the standard prebuilt-extension build (what `jupyter labextension
#    build` runs: webpack module federation; @jupyterlab/* and @lumino/* are shared
#    singletons taken from the host page).
echo "extension: building"
rm -rf lib tsconfig.tsbuildinfo "$OUT"
node_modules/.bin/tsc -p .
node node_modules/@jupyterlab/builder/lib/build-labextension.js --core-path "$CORE" . \
  >build.log 2>&1 || { cat build.log; exit 1; }
test -f "$OUT/package.json"
ls "$OUT"/static/remoteEntry.*.js >/dev/null
echo "$HASH" > "$STAMP"
echo "extension: built $OUT"
