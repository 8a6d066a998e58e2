// The playground page: it renders what calcformula (in Python, in the worker) answers.
// No checking, evaluating or formatting happens here; see calcformula/playground_api.py.
import { EditorView, minimalSetup } from "codemirror";
import { EditorState, StateEffect, StateField, RangeSetBuilder } from "@codemirror/state";
import { Decoration } from "@codemirror/view";
import { autocompletion } from "@codemirror/autocomplete";
import { setDiagnostics, lintGutter } from "@codemirror/lint";
import { compressToEncodedURIComponent, decompressFromEncodedURIComponent } from "lz-string";

const $ = (id) => document.getElementById(id);
const worker = new Worker("worker.js");
let nextId = 1;
const pending = new Map();
worker.onmessage = (event) => {
  const { id, response } = event.data;
  const resolve = pending.get(id);
  pending.delete(id);
  if (resolve) resolve(response);
};
function ask(request) {
  const id = nextId++;
  return new Promise((resolve) => {
    pending.set(id, resolve);
    worker.postMessage({ id, request });
  });
}

// Measurements the browser test and benchmarks/playground_bench.py read.
const metrics = {
  readyAt: null,
  latencies: [],
  checks: 0,
  formula: () => formulaText(),
  // True when the diagnostics and the details shown are those of the current inputs.
  settled: () =>
    !checking && checkKey === keyOf(inputs()) && detailsKey === JSON.stringify(inputs()),
};
window.__playground = metrics;
metrics.setFormula = (text) =>
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
metrics.reset = () => {
  $("status").textContent = "Ready.";
  $("example").value = "";
  $("trace").hidden = true;
  $("share-link").value = "";
  applyState({});
};

// --- highlighting, from the parser's tokens ---------------------------------------------
const setTokens = StateEffect.define();
const tokenField = StateField.define({
  create: () => Decoration.none,
  update(value, transaction) {
    value = value.map(transaction.changes);
    for (const effect of transaction.effects) {
      if (effect.is(setTokens)) value = effect.value;
    }
    return value;
  },
  provide: (field) => EditorView.decorations.from(field),
});
const marks = {};
function tokenDecorations(tokens, length) {
  const builder = new RangeSetBuilder();
  for (const [from, to, style] of tokens) {
    if (to <= from || to > length) continue;
    marks[style] ??= Decoration.mark({ class: "tok-" + style });
    builder.add(from, to, marks[style]);
  }
  return builder.finish();
}

// --- state -------------------------------------------------------------------------------
let examples = { schemas: {}, records: {}, formulas: [] };
let lastDiagnostics = [];
let checkedText = null;

function formulaText() {
  return view.state.doc.toString();
}
function inputs() {
  return {
    formula: formulaText(),
    schema: $("schema").value,
    object: $("object").value,
    declared_type: $("declared-type").value,
    records: $("records").value,
    records_format: $("records-format").value,
    now: $("now").value.trim(),
    dialect: $("dialect").value,
  };
}

// --- completion ----------------------------------------------------------------------------
async function complete(context) {
  const word = context.matchBefore(/[A-Za-z_][A-Za-z0-9_]*$/);
  if (!context.explicit && !word && !/[(,]\s*$/.test(context.state.sliceDoc(0, context.pos))) {
    return null;
  }
  const response = await ask({
    op: "complete",
    formula: context.state.doc.toString(),
    offset: context.pos,
    schema: $("schema").value,
    object: $("object").value,
  });
  if (response.error || !response.items.length) return null;
  return {
    from: response.from,
    to: response.to,
    validFor: /^[A-Za-z_][A-Za-z0-9_]*$/,
    options: response.items.map((item) => ({
      label: item.label,
      apply: item.apply,
      detail: item.detail,
      info: item.info,
      type: item.type === "property" ? "property" : item.type,
      boost: item.boost,
    })),
  };
}

const view = new EditorView({
  parent: $("formula"),
  state: EditorState.create({
    doc: "",
    extensions: [
      minimalSetup,
      EditorView.lineWrapping,
      tokenField,
      lintGutter(),
      autocompletion({ override: [complete], activateOnTyping: true }),
      EditorView.contentAttributes.of({ "aria-label": "Formula", "aria-multiline": "true" }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) {
          changedAt.set(formulaText(), performance.now());
          scheduleCheck();
        }
      }),
    ],
  }),
});
const changedAt = new Map();

// --- checking: on every change, the newest text wins --------------------------------------
let checking = false;
let checkKey = null;
const keyOf = (i) => JSON.stringify([i.formula, i.schema, i.object, i.declared_type]);
let checkAgain = false;
function scheduleCheck() {
  if (checking) {
    checkAgain = true;
    return;
  }
  runCheck();
}
async function runCheck() {
  checking = true;
  checkAgain = false;
  const request = { op: "check", ...inputs() };
  const response = await ask(request);
  checking = false;
  if (request.formula === formulaText()) {
    showCheck(request.formula, response);
    checkKey = keyOf(request);
  }
  if (checkAgain || keyOf(request) !== keyOf(inputs())) {
    runCheck();
  } else {
    scheduleDetails();
  }
}

function showCheck(text, response) {
  if (response.error) {
    $("status").textContent = "Error: " + response.error;
    return;
  }
  lastDiagnostics = response.diagnostics;
  checkedText = text;
  const length = view.state.doc.length;
  const lint = response.diagnostics.map((d, index) => ({
    from: Math.min(d.from, length),
    to: Math.min(Math.max(d.to, d.from), length),
    severity: d.severity === "info" ? "info" : d.severity,
    source: d.code,
    message: d.message,
    actions: d.fixes.map((fix, fixIndex) => ({
      name: fix.title,
      apply: () => applyFix(index, fixIndex),
    })),
  }));
  view.dispatch(setDiagnostics(view.state, lint), {
    effects: setTokens.of(tokenDecorations(response.tokens, length)),
  });
  renderDiagnostics(response.diagnostics);
  $("type-line").textContent = text.trim() ? `The formula gives ${response.type}.` : "";
  $("schema-problem").textContent = response.schema_problem || "";
  const started = changedAt.get(text);
  if (started !== undefined) {
    metrics.latencies.push(performance.now() - started);
    changedAt.clear();
  }
  metrics.checks += 1;
  document.body.dataset.checked = String(metrics.checks);
}

function renderDiagnostics(diagnostics) {
  const list = $("diagnostics");
  list.replaceChildren();
  if (!diagnostics.length) {
    const item = document.createElement("li");
    item.textContent = formulaText().trim() ? "No problems found." : "Type a formula.";
    item.dataset.empty = "true";
    list.append(item);
    return;
  }
  diagnostics.forEach((d, index) => {
    const item = document.createElement("li");
    item.className = d.severity;
    item.dataset.code = d.code;
    const code = document.createElement("a");
    code.href = d.docs;
    code.textContent = d.code;
    code.target = "_blank";
    code.rel = "noopener";
    code.title = `What ${d.code} means`;
    const where = document.createElement("span");
    where.className = "where";
    where.textContent = ` ${d.severity} at ${d.start.line}:${d.start.column}: `;
    const message = document.createElement("span");
    message.className = "message";
    message.textContent = d.message;
    item.append(code, where, message);
    d.fixes.forEach((fix, fixIndex) => {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.testid = "fix";
      button.textContent = "Fix: " + fix.title;
      button.addEventListener("click", () => applyFix(index, fixIndex));
      item.append(" ", button);
    });
    list.append(item);
  });
}

async function applyFix(index, fixIndex) {
  const text = formulaText();
  if (text !== checkedText) return; // the list is stale; a new check is on its way
  const response = await ask({ op: "fix", ...inputs(), index, fix: fixIndex });
  if (response.error || formulaText() !== text) return;
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: response.formula } });
  view.focus();
}

// --- details: HubSpot form, SQL, values (after the diagnostics, debounced) -----------------
let detailsTimer = null;
let detailsSerial = 0;
let detailsKey = null;
function scheduleDetails(delay = 150) {
  clearTimeout(detailsTimer);
  detailsTimer = setTimeout(runDetails, delay);
  saveState();
}
async function runDetails() {
  const serial = ++detailsSerial;
  const request = { op: "details", ...inputs() };
  const response = await ask(request);
  if (serial !== detailsSerial) return;
  detailsKey = JSON.stringify({ ...request, op: undefined });
  if (response.error) {
    $("results-problems").textContent = "Error: " + response.error;
    return;
  }
  $("hubspot-form").textContent = response.hubspot ?? "(fix the syntax errors first)";
  $("copy-hubspot").disabled = response.hubspot == null;
  $("sql").textContent = response.sql ?? response.sql_problems.join("\n");
  renderResults(response.results);
  document.body.dataset.details = String(serial);
}

function renderResults(results) {
  const body = $("results").tBodies[0];
  body.replaceChildren();
  $("results-problems").textContent = (results.problems || []).join("\n");
  results.rows.forEach((row, index) => {
    const tr = document.createElement("tr");
    tr.dataset.id = row.id;
    const id = document.createElement("td");
    id.textContent = row.id;
    const value = document.createElement("td");
    value.textContent = row.shown;
    value.dataset.value = row.value ?? "";
    value.dataset.evaluable = String(row.evaluable);
    value.className = "value" + (row.blank || !row.evaluable ? " blank" : "");
    const notes = document.createElement("td");
    notes.textContent = row.notes.map((n) => `${n.code} ${n.message}`).join("; ");
    const why = document.createElement("td");
    why.className = "trace-column";
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.testid = "trace-button";
    button.textContent = "Trace";
    button.setAttribute("aria-label", `Trace record ${row.id}`);
    button.addEventListener("click", () => showTrace(index));
    why.append(button);
    tr.append(id, value, notes, why);
    body.append(tr);
  });
}

// --- trace ----------------------------------------------------------------------------------
async function showTrace(index) {
  const response = await ask({ op: "trace", ...inputs(), index });
  const panel = $("trace");
  const body = $("trace-body");
  body.replaceChildren();
  panel.hidden = false;
  if (response.error || response.problem) {
    body.textContent = response.error || response.problem;
    return;
  }
  const head = document.createElement("p");
  head.dataset.testid = "trace-explanation";
  head.textContent = `Record ${response.id}: ${response.value}. ${response.explanation}`;
  body.append(head);
  if (response.blank_causes && response.blank_causes.length) {
    const causes = document.createElement("p");
    causes.dataset.testid = "blank-causes";
    causes.textContent = "Blank because of: " + response.blank_causes.join(", ");
    body.append(causes);
  }
  const tree = document.createElement("ul");
  tree.append(traceStep(response.trace));
  body.append(tree);
  panel.focus();
}

function traceStep(step) {
  const item = document.createElement("li");
  item.textContent = `${step.text} → ${step.value}` + (step.reason ? ` (${step.reason})` : "");
  if (step.evaluated === false) item.className = "skipped";
  else if (step.value === "(blank)") item.className = "blank";
  if (step.children && step.children.length) {
    const list = document.createElement("ul");
    for (const child of step.children) list.append(traceStep(child));
    item.append(list);
  }
  return item;
}

// --- share: the whole state in the URL fragment ---------------------------------------------
const STATE_KEYS = ["formula", "schema", "object", "declared_type", "records", "records_format", "now", "dialect"];
function currentState() {
  const values = inputs();
  return Object.fromEntries(STATE_KEYS.map((key) => [key, values[key]]));
}
function stateLink() {
  const packed = compressToEncodedURIComponent(JSON.stringify(currentState()));
  return `${location.origin}${location.pathname}#s=${packed}`;
}
let saveTimer = null;
function saveState() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => history.replaceState(null, "", stateLink()), 300);
}
function loadState() {
  const match = /^#s=(.+)$/.exec(location.hash);
  if (!match) return false;
  let state;
  try {
    state = JSON.parse(decompressFromEncodedURIComponent(match[1]) || "null");
  } catch {
    state = null;
  }
  if (!state || typeof state !== "object") {
    $("status").textContent = "The link's state cannot be read; starting empty.";
    return false;
  }
  applyState(state);
  return true;
}
function applyState(state) {
  $("schema").value = state.schema ?? "";
  $("object").value = state.object ?? "";
  $("declared-type").value = state.declared_type ?? "";
  $("records").value = state.records ?? "";
  $("records-format").value = state.records_format ?? "";
  $("now").value = state.now ?? "";
  $("dialect").value = state.dialect || "duckdb";
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: state.formula ?? "" } });
  scheduleCheck();
}

$("share").addEventListener("click", async () => {
  const link = stateLink();
  history.replaceState(null, "", link);
  $("share-link").value = link;
  try {
    await navigator.clipboard.writeText(link);
    $("status").textContent = "Link copied.";
  } catch {
    $("share-link").select();
    $("status").textContent = "Link ready: copy it from the box.";
  }
});
$("copy-hubspot").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText($("hubspot-form").textContent);
    $("status").textContent = "HubSpot's form copied.";
  } catch {
    $("status").textContent = "The browser did not allow copying; select the text instead.";
  }
});

// --- inputs -----------------------------------------------------------------------------------
for (const id of ["schema", "object", "declared-type"]) {
  $(id).addEventListener("input", () => scheduleCheck());
}
for (const id of ["records", "records-format", "now", "dialect"]) {
  $(id).addEventListener("input", () => scheduleDetails());
}
$("example").addEventListener("change", () => {
  const chosen = examples.formulas[Number($("example").value)];
  if (!chosen) return;
  applyState({
    formula: chosen.formula,
    schema: chosen.object ? examples.schemas[chosen.object] : "",
    object: chosen.object ?? "",
    declared_type: chosen.type ?? "",
    records: chosen.object ? examples.records[chosen.object] : "",
    records_format: "",
    now: $("now").value,
    dialect: $("dialect").value,
  });
});

async function start() {
  const [info, bundled] = await Promise.all([
    ask({ op: "ready" }),
    fetch("examples.json").then((r) => r.json()),
  ]);
  if (info.error) {
    $("status").textContent = "Python did not start: " + info.error;
    return;
  }
  examples = bundled;
  for (const type of info.declared_types) $("declared-type").append(new Option(type, type));
  for (const dialect of info.dialects) $("dialect").append(new Option(dialect, dialect));
  examples.formulas.forEach((f, i) => $("example").append(new Option(f.name, String(i))));
  $("version").textContent = info.version;
  loadState();
  await new Promise((resolve) => {
    const done = () => (metrics.checks > 0 ? resolve() : setTimeout(done, 10));
    scheduleCheck();
    done();
  });
  metrics.readyAt = performance.now();
  metrics.phases = info.phases;
  document.body.dataset.ready = "true";
  $("status").textContent = "Ready.";
}
start();
