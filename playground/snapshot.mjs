// Makes dist/snapshot.bin.gz, the memory of a Pyodide that has calcformula imported and warm,
// so that the page's worker restores it instead of starting Python and importing the library
// (build.py runs this: `node snapshot.mjs <dist>`). Then checks that a Pyodide restored from it
// answers as the one it was taken from; any failure exits non-zero and fails the build.
//
// Pyodide's memory snapshots (`_makeSnapshot`, `makeMemorySnapshot`, `_loadSnapshot`) are an
// experimental, undocumented API of Pyodide 0.29; a snapshot works only with the exact Pyodide
// build that made it (Pyodide checks its build id), which is the one copied into dist/pyodide/.
// The snapshot holds WebAssembly memory only: Emscripten's file system lives in JavaScript and
// is not in it, so the worker unpacks the wheels again after restoring (modules imported
// later, and files the library reads, come from site-packages).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { loadPyodide } from "pyodide";

const dist = process.argv[2];
if (!dist) throw new Error("usage: node snapshot.mjs <dist directory>");
const indexURL = join(dist, "pyodide") + "/";
const listing = JSON.parse(readFileSync(join(dist, "wheels", "wheels.json"), "utf8"));
const wheels = listing.wheels.map((name) => new Uint8Array(readFileSync(join(dist, "wheels", name))));
const CHECK = JSON.stringify({ op: "check", formula: "if a then 1 else 0" });
const INFO = JSON.stringify({ op: "info" });
// Whatever the host's environment, Python sees the same one as in a browser.
const options = { indexURL, env: { HOME: "/home/pyodide" }, _sysExecutable: "python" };

function install(pyodide) {
  for (const wheel of wheels) pyodide.unpackArchive(wheel, "wheel");
  pyodide.runPython("import importlib; importlib.invalidate_caches()");
}

function ask(pyodide, request) {
  const api = pyodide.pyimport("calcformula.playground_api");
  try {
    const answer = api.handle(request);
    if (JSON.parse(answer).error) throw new Error(`calcformula answered ${answer}`);
    return answer;
  } finally {
    api.destroy();
  }
}

// 1. Take the snapshot: what the worker did at each start before, done once here.
const maker = await loadPyodide({ ...options, _makeSnapshot: true });
install(maker);
const expected = [ask(maker, CHECK), ask(maker, INFO)];
const compressed = gzipSync(maker.makeMemorySnapshot(), { level: 9 });

// 2. Restore it, as the worker does, and compare the answers.
const restored = await loadPyodide({ ...options, _loadSnapshot: gunzipSync(compressed) });
install(restored);
const got = [ask(restored, CHECK), ask(restored, INFO)];
if (JSON.stringify(got) !== JSON.stringify(expected)) {
  throw new Error(`the restored snapshot answers differently:\n${got}\ninstead of\n${expected}`);
}
// Modules no warm-up imported (the SQL compiler, sqlglot's dialect) come from the reinstalled
// site-packages.
const details = JSON.parse(ask(restored, JSON.stringify({ op: "details", formula: "1 + 2" })));
if (!details.sql) throw new Error(`no SQL from the restored snapshot: ${JSON.stringify(details)}`);

writeFileSync(join(dist, "snapshot.bin.gz"), compressed);
console.log(`snapshot.bin.gz: ${compressed.length} bytes`);
