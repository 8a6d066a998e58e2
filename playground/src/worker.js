// The playground's Python: Pyodide in a worker, so that typing never waits for Python.
// Everything loads from this page's own origin (pyodide/, wheels/, snapshot.bin.gz); nothing
// from a CDN.
/* global importScripts, loadPyodide */

const phases = {};
const mark = (name) => (phases[name] = Math.round(performance.now()));
mark("worker");

async function fetchBytes(name) {
  const response = await fetch(name);
  if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

// Pyodide's memory with calcformula already imported and warm (build.py makes it with
// snapshot.mjs). Gzipped by the build; a host that serves it with Content-Encoding: gzip
// hands over the bytes already inflated.
async function fetchSnapshot() {
  const bytes = await fetchBytes("snapshot.bin.gz");
  const head = new Uint8Array(bytes, 0, 2);
  if (head[0] !== 0x1f || head[1] !== 0x8b) return bytes;
  const inflated = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(inflated).arrayBuffer();
}

// Everything downloads at once, while Pyodide's own files load.
const snapshot = fetchSnapshot();
const wheels = fetchBytes("wheels/wheels.json")
  .then((bytes) => JSON.parse(new TextDecoder().decode(bytes)))
  .then((listing) => Promise.all(listing.wheels.map((name) => fetchBytes("wheels/" + name))));
snapshot.catch(() => null); // reported below
wheels.catch(() => null); // reported below, once Pyodide is up

importScripts("pyodide/pyodide.js");

let handle = null;

async function startPyodide() {
  const indexURL = new URL("pyodide/", self.location.href).href;
  try {
    const pyodide = await loadPyodide({ indexURL, _loadSnapshot: snapshot });
    // What the snapshot holds, observed rather than assumed: Python that has already imported
    // the library (a fresh start has not).
    phases.snapshot = pyodide.runPython(
      "import sys; 'calcformula.playground_api' in sys.modules",
    );
    return pyodide;
  } catch (error) {
    // A browser without DecompressionStream, say: start Python as without the snapshot.
    console.warn("Pyodide's snapshot did not restore, starting Python instead:", error);
    phases.snapshot = false;
    return loadPyodide({ indexURL });
  }
}

async function start() {
  const pyodide = await startPyodide();
  mark("pyodide");
  // The snapshot holds Python's memory, not its files: the wheels are unpacked again, for the
  // modules imported later and the files the library reads.
  for (const buffer of await wheels) pyodide.unpackArchive(buffer, "wheel");
  pyodide.runPython("import importlib; importlib.invalidate_caches()");
  mark("wheels");
  const api = pyodide.pyimport("calcformula.playground_api");
  handle = api.handle;
  // Warm the parser tables and the checker before the page says it is ready (restored from
  // the snapshot, they already are).
  mark("import");
  handle(JSON.stringify({ op: "check", formula: "if a then 1 else 0" }));
  mark("warm");
  return { ...JSON.parse(handle(JSON.stringify({ op: "info" }))), phases };
}

const ready = start();

self.onmessage = async (event) => {
  const { id, request } = event.data;
  try {
    if (request.op === "ready") {
      self.postMessage({ id, response: await ready });
      return;
    }
    await ready;
    self.postMessage({ id, response: JSON.parse(handle(JSON.stringify(request))) });
  } catch (error) {
    self.postMessage({ id, response: { error: String(error && error.message ? error.message : error) } });
  }
};
