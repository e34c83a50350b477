// Run the bundle's own Pyodide under Node.js to make or check matplotlib's font cache.
// Called by kiosk/bundle/fontcache.py at build time:
//   node fontcache.js make   <pyodide dir>   → prints {"fontlist": "<json text>", ...}
//   node fontcache.js verify <pyodide dir>   → prints {"warned": false, "fonts": N, ...}
// Both load matplotlib as the kernel does for a cell that imports it. "make" then imports
// it (which builds the cache) and returns the file Pyodide's matplotlib reads it from
// (fontlist.json beside font_manager.py); "verify" (the shipped lock routes the import
// through the cache wheel) reports whether matplotlib still had to build the cache.
'use strict';
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const PYTHON = `
import json, logging, os, sys, time, io
from pathlib import Path
log = io.StringIO()
handler = logging.StreamHandler(log)
logging.getLogger("matplotlib").addHandler(handler)
t0 = time.perf_counter()
import matplotlib
import matplotlib.font_manager as fm
seconds = time.perf_counter() - t0
cache = Path(fm.__file__).parent / "fontlist.json"
json.dumps({
    "matplotlib": matplotlib.__version__,
    "font_manager_version": fm.FontManager.__version__,
    "cache_path": str(cache),
    "fontlist": cache.read_text() if cache.is_file() else None,
    "fonts": len(fm.fontManager.ttflist),
    "log": log.getvalue(),
    "import_seconds": seconds,
})
`;

async function main() {
  const [mode, dir] = process.argv.slice(2);
  if (!['make', 'verify'].includes(mode) || !dir) {
    throw new Error('usage: node fontcache.js make|verify <pyodide dir>');
  }
  const root = path.resolve(dir);
  const { loadPyodide } = await import(pathToFileURL(path.join(root, 'pyodide.mjs')).href);
  const stderr = [];
  const py = await loadPyodide({
    indexURL: root + path.sep,
    stdout: () => {},
    stderr: (line) => stderr.push(line),
  });
  // As the kernel does before running a cell: load the packages the code imports.
  await py.loadPackagesFromImports('import matplotlib.pyplot', {
    messageCallback: () => {},
    errorCallback: (m) => stderr.push(m),
  });
  const result = JSON.parse(py.runPython(PYTHON));
  result.stderr = stderr.join('\n');
  result.warned = /building the font cache/i.test(result.stderr + result.log);
  if (mode === 'verify') {
    delete result.fontlist;
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + '\n');
  process.exit(1);
});
