// The playground's Python: Pyodide in a worker, so that typing never waits for Python.
// Everything loads from this page's own origin (pyodide/, wheels/); nothing from a CDN.
/* global importScripts, loadPyodide */
importScripts("pyodide/pyodide.js");

let handle = null;

const phases = {};
const mark = (name) => (phases[name] = Math.round(performance.now()));

async function fetchWheel(name) {
  const response = await fetch("wheels/" + name);
  if (!response.ok) throw new Error(`wheels/${name}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

async function start() {
  mark("worker");
  // The wheels download while Pyodide starts.
  const wheels = fetch("wheels/wheels.json")
    .then((response) => response.json())
    .then((listing) => Promise.all(listing.wheels.map(fetchWheel)));
  wheels.catch(() => null); // reported below, once Pyodide is up
  const pyodide = await loadPyodide({ indexURL: new URL("pyodide/", self.location.href).href });
  mark("pyodide");
  for (const buffer of await wheels) pyodide.unpackArchive(buffer, "wheel");
  mark("wheels");
  const api = pyodide.pyimport("calcformula.playground_api");
  handle = api.handle;
  // Warm the parser tables and the checker before the page says it is ready.
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
