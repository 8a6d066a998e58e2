"""Verify against a portal: does HubSpot compute what calcformula computes?

Two ways (docs/verify.md):

- `verify_from_portal`: read-only. For each managed calculation property that exists in the
  portal, page through records with `GET /crm/objects/<version>/{object}`, reading the formula's
  inputs and the value HubSpot stored, evaluate HubSpot's stored formula locally, compare.
- `verify_with_records`: on a sandbox or developer test account only. Push the manifest's
  properties, import sample records through the imports API with a unique key column, wait
  for HubSpot's calculation backfill, read the records back in batches of 100 by that key,
  compare, and archive the imported records.

Every mismatch names the decisions and functions it implicates; nothing here changes the
evaluator to match one portal.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from calcformula.checker import CheckResult, check
from calcformula.evaluator import CompiledFormula, CompileError, EvalContext, PortalContext
from calcformula.evaluator.runtime import Evaluation
from calcformula.functions import REGISTRY, Evidence, Type
from calcformula.hubspot.client import HubSpotClient, HubSpotError, segment
from calcformula.hubspot.plan import formulas_equal
from calcformula.manifest import ManagedProperty, Manifest
from calcformula.nodes import Binary, BinaryOp, Call, If, Property, walk
from calcformula.records import RecordProblem, read_records
from calcformula.schema import Schema
from calcformula.trace import Trace, trace
from calcformula.values import format_value

BATCH = 100  # HubSpot's batch endpoints take at most 100 inputs
KEY_PROPERTY = "calcformula_verify_key"
TEST_ACCOUNTS = {"DEVELOPER_TEST", "SANDBOX", "STANDARD_SANDBOX", "DEVELOPMENT_SANDBOX"}
OBJECT_TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "tickets": "0-5"}
FINISHED = {"DONE", "FAILED", "CANCELED"}

Say = Callable[[str], None]


class VerifyError(Exception):
    """Verification cannot go on (production account, failed import, ...)."""


@dataclass
class Mismatch:
    record_id: str
    inputs: dict[str, object]
    ours: str
    hubspot: str
    implicates: list[str]
    formula: str = ""
    object: str = ""
    trace: Trace | None = None  # how calcformula's value comes about on this record

    def case(self) -> str:
        """The finding as a conformance case (tests/conformance/eval), HubSpot's value as the
        expected one: see docs/verify.md for where it goes."""
        return "\n".join(
            [
                f"=== HubSpot: {self.implicates[0] if self.implicates else 'finding'} "
                f"({self.object} record {self.record_id})",
                self.formula,
                *(["--- object", self.object] if self.object else []),
                "--- record",
                json.dumps(self.inputs, ensure_ascii=False),
                "--- value",
                self.hubspot,
            ]
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "record": self.record_id,
            "inputs": self.inputs,
            "calcformula": self.ours,
            "hubspot": self.hubspot,
            "implicates": self.implicates,
            "case": self.case(),
            **({"trace": self.trace.to_json()} if self.trace is not None else {}),
        }


@dataclass
class PropertyResult:
    object: str
    name: str
    formula: str = ""
    compared: int = 0
    agreeing: int = 0
    not_evaluable: int = 0
    waited_out: int = 0  # compared after the backfill timeout, HubSpot's value still blank
    mismatches: list[Mismatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "property": self.name,
            "formula": self.formula,
            "compared": self.compared,
            "agreeing": self.agreeing,
            "mismatching": len(self.mismatches),
            "not_evaluable": self.not_evaluable,
            "no_value_after_timeout": self.waited_out,
            "mismatches": [m.to_json() for m in self.mismatches],
            "notes": self.notes,
            "skipped": self.skipped,
        }


@dataclass
class Report:
    properties: list[PropertyResult] = field(default_factory=list)
    import_errors: list[str] = field(default_factory=list)
    archived: int = 0

    @property
    def agrees(self) -> bool:
        return not any(p.mismatches for p in self.properties) and not self.import_errors

    def to_json(self) -> dict[str, Any]:
        return {
            "agrees": self.agrees,
            "properties": [p.to_json() for p in self.properties],
            "import_errors": self.import_errors,
            "archived": self.archived,
        }


# --- comparing --------------------------------------------------------------------------------


def _hubspot_value(raw: object, kind: Type) -> object:
    """HubSpot's stored text as a calcformula value (None: blank); text that does not read as
    the property's type is kept as text, so it shows as a mismatch."""
    if raw is None or raw == "":
        return None
    text = str(raw)
    if kind.is_number:
        try:
            return Decimal(text.strip())
        except InvalidOperation:
            return text
    if kind is Type.BOOL:
        lowered = text.strip().lower()
        return lowered == "true" if lowered in ("true", "false") else text
    return text


def _implicated(checked: CheckResult, ours: object, theirs: object) -> list[str]:
    """The decisions (../shared/reference/decisions.md) and functions a mismatch puts in doubt."""
    found: list[str] = []
    nodes = list(walk(checked.tree))
    if (ours is None) != (theirs is None):
        found.append("E2 (blank propagation)")
        if any(isinstance(n, If) for n in nodes):
            found.append("E4 (blank conditions)")
        if any(isinstance(n, Binary) and n.op is BinaryOp.DIV for n in nodes):
            found.append("E5 (division by zero)")
    elif isinstance(ours, Decimal):
        if any(isinstance(n, Binary) and n.op is BinaryOp.DIV for n in nodes):
            found.append("E5 (division precision and rounding)")
        if any(isinstance(n, Call) and n.name.startswith("round_") for n in nodes):
            found.append("E7 (rounding functions)")
        if not found:
            found.append("E5 (arithmetic)")
    elif isinstance(ours, str) and any(
        isinstance(n, Call) and n.name == "number_to_string" for n in nodes
    ):
        found.append("E6 (numbers as text)")
    if any(isinstance(n, Property) for n in nodes) and not found:
        found.append("E1 (reading values)")
    for node in nodes:
        if isinstance(node, Call):
            function = REGISTRY.get(node.name)
            if function is not None and function.evidence is not Evidence.DOCUMENTED:
                label = f"{node.name}() ({function.evidence.value})"
                if label not in found:
                    found.append(label)
    return found


def _same(evaluation: Evaluation, theirs: object) -> bool:
    ours = evaluation.value
    if isinstance(ours, Decimal) and isinstance(theirs, Decimal):
        return ours == theirs
    return ours == theirs and type(ours) is type(theirs)


@dataclass
class _Target:
    prop: ManagedProperty
    checked: CheckResult
    compiled: CompiledFormula
    inputs: list[str]
    result: PropertyResult
    schema: Schema | None = None


def _compile(
    prop: ManagedProperty,
    formula: str,
    schema: Schema,
    context: EvalContext,
    result: PropertyResult,
) -> _Target | None:
    checked = check(formula, schema=schema, declared_type=prop.type)
    try:
        compiled = CompiledFormula(checked, schema, context)
    except CompileError:
        first = next(d for d in checked.diagnostics if d.is_error)
        result.skipped = f"calcformula rejects the formula HubSpot stores: {first.message}"
        return None
    inputs = sorted({n.name for n in walk(checked.tree) if isinstance(n, Property)})
    return _Target(prop, checked, compiled, inputs, result, schema)


def _compare(target: _Target, record_id: str, properties: dict[str, Any], late: bool) -> None:
    result = target.result
    record = {k.lower(): v for k, v in properties.items()}
    evaluation = target.compiled.evaluate(record)
    if not evaluation.evaluable:
        result.not_evaluable += 1
        return
    theirs = _hubspot_value(properties.get(target.prop.name), target.checked.result_type)
    result.compared += 1
    if _same(evaluation, theirs):
        result.agreeing += 1
        return
    if late and theirs is None:
        result.waited_out += 1
    result.mismatches.append(
        Mismatch(
            record_id,
            {name: properties.get(name) for name in target.inputs},
            format_value(evaluation.value),
            format_value(theirs),  # type: ignore[arg-type]
            _implicated(target.checked, evaluation.value, theirs),
            target.checked.parse.text,
            target.result.object,
            _trace(target, record),
        )
    )


def _trace(target: _Target, record: dict[str, Any]) -> Trace:
    context = target.compiled.context
    return trace(target.checked, record, target.schema, context.portal, context.now_ms)


def _context(manifest: Manifest) -> EvalContext:
    portal = None
    if manifest.portal is not None and manifest.portal.is_file():
        portal = PortalContext.load(manifest.portal)
    return EvalContext(portal=portal)


def _selected(manifest: Manifest, object_name: str | None) -> list[ManagedProperty]:
    chosen = [p for p in manifest.properties if object_name is None or p.object == object_name]
    if not chosen:
        raise VerifyError(
            "the manifest manages no properties" + (f" of {object_name}" if object_name else "")
        )
    return chosen


# --- read-only: the portal's own records -----------------------------------------------------


def _pages(
    client: HubSpotClient, object_name: str, properties: Sequence[str], limit: int
) -> Iterator[dict[str, Any]]:
    yield from client.pages(
        f"{client.objects_prefix}/{segment(object_name)}",
        {"properties": ",".join(properties), "archived": "false"},
        limit=limit,
        page=BATCH,
    )


def verify_from_portal(
    client: HubSpotClient,
    manifest: Manifest,
    object_name: str | None = None,
    limit: int = 1000,
    say: Say = lambda line: None,
) -> Report:
    """Compare HubSpot's stored values with calcformula's, reading only (GET requests)."""
    report = Report()
    context = _context(manifest)
    chosen = _selected(manifest, object_name)
    for obj in sorted({p.object for p in chosen}):
        portal_properties = client.list_properties(obj)
        schema = Schema.from_json(portal_properties, obj)
        stored = {str(p.get("name")): p for p in portal_properties if isinstance(p, dict)}
        for prop in (p for p in chosen if p.object == obj):
            result = PropertyResult(obj, prop.name)
            report.properties.append(result)
            current = stored.get(prop.name)
            formula = current.get("calculationFormula") if current else None
            if not isinstance(formula, str):
                result.skipped = (
                    "not a calculation property in the portal (push it first)"
                    if current is None or current.get("calculationFormula") is None
                    else "HubSpot returned no formula"
                )
                continue
            result.formula = formula
            if not formulas_equal(formula, prop.formula):
                result.notes.append(
                    "the portal's formula differs from the manifest's (a push is pending); "
                    "verifying the portal's"
                )
            target = _compile(prop, formula, schema, context, result)
            if target is None:
                continue
            say(f"{obj}.{prop.name}: reading up to {limit} records")
            for record in _pages(client, obj, [*target.inputs, prop.name], limit):
                properties = record.get("properties")
                if isinstance(properties, dict):
                    _compare(target, str(record.get("id")), properties, late=False)
    return report


# --- on a sandbox: import sample records -----------------------------------------------------


def check_account(client: HubSpotClient, allow_production: bool, say: Say) -> str:
    details = client.account_details()
    kind = str(details.get("accountType", "UNKNOWN"))
    if kind in TEST_ACCOUNTS:
        return kind
    if not allow_production:
        raise VerifyError(
            f"this token belongs to a {kind} account (portal {details.get('portalId')}); "
            "verify --records imports and archives records, so it runs only on sandbox and "
            "developer test accounts (--allow-production overrides)"
        )
    say(
        f"WARNING: --allow-production: importing test records into {kind} account "
        f"{details.get('portalId')}; they are archived afterwards unless --keep"
    )
    return kind


def _ensure_key_property(client: HubSpotClient, object_name: str, group: str) -> None:
    if client.get_property(object_name, KEY_PROPERTY) is not None:
        return
    client.create_property(
        object_name,
        {
            "name": KEY_PROPERTY,
            "label": "calcformula verify key",
            "type": "string",
            "fieldType": "text",
            "groupName": group,
            "hasUniqueValue": True,
            "description": "Identifies records imported by `calcformula verify --records`.",
        },
    )


def _upload(
    client: HubSpotClient, object_name: str, columns: list[str], rows: list[list[str]], run: str
) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    type_id = OBJECT_TYPE_IDS.get(object_name, object_name)
    request = {
        "name": f"calcformula verify {run}",
        "importOperations": {type_id: "CREATE"},
        "files": [
            {
                "fileName": "records.csv",
                "fileFormat": "CSV",
                "fileImportPage": {
                    "hasHeader": True,
                    "columnMappings": [
                        {"columnObjectTypeId": type_id, "columnName": c, "propertyName": c}
                        for c in columns
                    ],
                },
            }
        ],
    }
    response = client.request(
        "POST",
        client.imports_prefix,
        body={"importRequest": json.dumps(request)},
        files={"files": ("records.csv", text.getvalue().encode("utf-8"), "text/csv")},
    )
    data = response.data if isinstance(response.data, dict) else {}
    identifier = data.get("id")
    if not identifier:
        raise VerifyError("HubSpot accepted the import but returned no import id")
    return str(identifier)


def _follow_import(
    client: HubSpotClient,
    import_id: str,
    timeout: float,
    poll: float,
    sleep: Callable[[float], None],
    say: Say,
) -> str:
    waited = 0.0
    path = f"{client.imports_prefix}/{segment(import_id)}"
    while True:
        data = client.request("GET", path).data
        if not isinstance(data, dict) or not isinstance(data.get("state"), str):
            raise client.malformed("GET", path, "no import `state`")
        state = str(data["state"])
        metadata = data.get("metadata")
        counters = metadata.get("counters") if isinstance(metadata, dict) else None
        shown = json.dumps(counters, default=str)[:300] if counters else ""
        say(f"import {import_id}: {state} {shown}".rstrip())
        if state in FINISHED:
            return state
        if waited >= timeout:
            raise VerifyError(f"import {import_id} is still {state} after {timeout:g} s")
        sleep(poll)
        waited += poll


def _import_errors(client: HubSpotClient, import_id: str) -> list[str]:
    """HubSpot's own message for each row it rejected, with the row's line number."""
    found: list[str] = []
    for error in client.pages(
        f"{client.imports_prefix}/{segment(import_id)}/errors",
        {"includeErrorMessage": "true"},
        limit=1000,
    ):
        source = error.get("sourceData")
        line = source.get("lineNumber") if isinstance(source, dict) else None
        what = str(error.get("errorType") or "ERROR")
        message = error.get("errorMessage")
        value = error.get("invalidValue")
        text = f"row {line}: {what}" if line is not None else f"the file: {what}"
        if isinstance(message, str) and message.strip():
            text += f": {' '.join(message.split())[:300]}"
        if value is not None:
            text += f" (value {str(value)[:80]!r})"
        found.append(text)
    return found


def _read_back(
    client: HubSpotClient, object_name: str, keys: list[str], properties: list[str]
) -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), BATCH):
        body = {
            "idProperty": KEY_PROPERTY,
            "inputs": [{"id": key} for key in keys[start : start + BATCH]],
            "properties": [*properties, KEY_PROPERTY],
        }
        data = client.request(
            "POST",
            f"{client.objects_prefix}/{segment(object_name)}/batch/read",
            body=body,
            reads=True,
            ok=(200, 207),
        ).data
        path = f"{client.objects_prefix}/{segment(object_name)}/batch/read"
        for record in client.results("POST", path, data):
            values = record.get("properties")
            if not isinstance(values, dict):
                raise client.malformed("POST", path, "a record without `properties`")
            key = values.get(KEY_PROPERTY)
            if key is not None:
                records[str(key)] = {"id": str(record.get("id")), "properties": values}
    return records


def _archive(client: HubSpotClient, object_name: str, ids: list[str]) -> int:
    for start in range(0, len(ids), BATCH):
        body = {"inputs": [{"id": i} for i in ids[start : start + BATCH]]}
        client.request(
            "POST", f"{client.objects_prefix}/{segment(object_name)}/batch/archive", body=body
        )
    return len(ids)


def verify_with_records(
    client: HubSpotClient,
    manifest: Manifest,
    records_path: Path,
    object_name: str | None,
    push: Callable[[], bool],
    keep: bool = False,
    allow_production: bool = False,
    timeout: float = 600.0,
    poll: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    say: Say = lambda line: None,
) -> Report:
    """Import sample records into a sandbox, wait for HubSpot's values, compare, clean up
    (the imported records are archived even when something fails after the import)."""
    check_waits(timeout, poll)
    check_account(client, allow_production, say)
    chosen = _selected(manifest, object_name)
    objects = sorted({p.object for p in chosen})
    if len(objects) != 1:
        raise VerifyError(
            f"the records are of one object; choose it with --object ({', '.join(objects)})"
        )
    obj = objects[0]
    if not push():
        raise VerifyError("the manifest's properties could not be pushed; nothing was imported")
    portal_properties = client.list_properties(obj)
    schema = Schema.from_json(portal_properties, obj)
    stored = {str(p.get("name")): p for p in portal_properties if isinstance(p, dict)}
    context = _context(manifest)
    report = Report()
    targets: list[_Target] = []
    for prop in chosen:
        result = PropertyResult(obj, prop.name)
        report.properties.append(result)
        formula = (stored.get(prop.name) or {}).get("calculationFormula")
        if not isinstance(formula, str):
            result.skipped = "HubSpot does not list it as a calculation property after the push"
            continue
        result.formula = formula
        target = _compile(prop, formula, schema, context, result)
        if target is not None:
            targets.append(target)
    writable = {
        name
        for name, p in stored.items()
        if not p.get("calculated")
        and not (p.get("modificationMetadata") or {}).get("readOnlyValue")
    }
    inputs = sorted({i for t in targets for i in t.inputs if i in writable})
    _ensure_key_property(client, obj, chosen[0].group)
    run = uuid.uuid4().hex[:10]
    rows: list[list[str]] = []
    keys: list[str] = []
    for item in read_records(records_path, schema, set(inputs)):
        if isinstance(item, RecordProblem):
            report.import_errors.append(f"{records_path} line {item.line}: {item.message}")
            continue
        key = f"{run}-{len(keys) + 1}"
        keys.append(key)
        rows.append(
            [
                key,
                *(
                    "" if item.properties.get(i) is None else str(item.properties.get(i))
                    for i in inputs
                ),
            ]
        )
    if not rows:
        raise VerifyError(f"{records_path}: no records to import")
    say(f"importing {len(rows)} record(s) of {obj} (run {run})")
    found: dict[str, dict[str, Any]] = {}
    try:
        # Inside the clean-up: an upload whose answer is lost may still have imported rows.
        import_id = _upload(client, obj, [KEY_PROPERTY, *inputs], rows, run)
        state = _follow_import(client, import_id, timeout, poll, sleep, say)
        report.import_errors.extend(_import_errors(client, import_id))
        if state != "DONE":
            reasons = "; ".join(report.import_errors) or (
                "HubSpot gave no reason; open the import in HubSpot (Data management > Imports)"
            )
            raise VerifyError(f"import {import_id} ended {state}: {reasons}")
        wanted = sorted({*inputs, *(t.prop.name for t in targets)})
        waited = 0.0
        while True:
            found = _read_back(client, obj, keys, wanted)
            missing = sum(
                1
                for record in found.values()
                for t in targets
                if record["properties"].get(t.prop.name) in (None, "")
                and t.compiled.evaluate(record["properties"]).value is not None
            )
            if not missing or waited >= timeout:
                break
            say(
                f"waiting for HubSpot to calculate: {missing} value(s) still blank ({waited:.0f} s)"
            )
            sleep(poll)
            waited += poll
        late = bool(missing)
        for key in keys:
            record = found.get(key)
            if record is None:
                continue  # the import rejected it; its row is in import_errors
            for target in targets:
                _compare(target, record["id"], record["properties"], late)
    finally:
        if not keep:
            report.archived = _clean_up(client, obj, keys, found, run, say)
    return report


def check_waits(timeout: float, poll: float) -> None:
    """--timeout and --poll, checked before anything is written: finite and positive (a zero
    poll would spin, a nan one would crash after the import)."""
    for name, value, most in (("--timeout", timeout, 86400.0), ("--poll", poll, 3600.0)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 < value <= most:
            raise VerifyError(f"{name} must be a number of seconds above 0 and at most {most:g}")


def _clean_up(
    client: HubSpotClient,
    obj: str,
    keys: list[str],
    found: dict[str, dict[str, Any]],
    run: str,
    say: Say,
) -> int:
    """Archive the imported records; when the run failed before they were read back, find
    them by their key first. A failure here is reported, never hides the original error."""
    try:
        if len(found) < len(keys):
            found = _read_back(client, obj, keys, [])
        archived = _archive(client, obj, [r["id"] for r in found.values()])
    except HubSpotError as error:
        say(
            f"could not archive the imported records: {error.message}; archive the {obj} "
            f"whose {KEY_PROPERTY} starts with {run}- by hand"
        )
        return 0
    say(f"archived {archived} imported record(s)")
    return archived


def render(report: Report) -> Iterator[str]:
    """The report for people."""
    for result in report.properties:
        title = f"{result.object}.{result.name}"
        if result.skipped:
            yield f"{title}: skipped: {result.skipped}"
            continue
        yield (
            f"{title}: {result.compared} compared, {result.agreeing} agree, "
            f"{len(result.mismatches)} mismatch(es), {result.not_evaluable} not evaluable offline"
        )
        for note in result.notes:
            yield f"  note: {note}"
        if result.waited_out:
            yield f"  {result.waited_out} HubSpot value(s) were still blank when waiting ended"
        for mismatch in result.mismatches:
            inputs = ", ".join(f"{k}={v!r}" for k, v in mismatch.inputs.items())
            yield (
                f"  record {mismatch.record_id}: calcformula {mismatch.ours}, HubSpot "
                f"{mismatch.hubspot}; inputs {inputs or '(none)'}"
            )
            yield f"    implicates: {', '.join(mismatch.implicates)}"
            if mismatch.trace is not None:
                yield "    calcformula's steps on this record:"
                for line in mismatch.trace.render_text().splitlines():
                    yield f"      {line}"
    for error in report.import_errors:
        yield f"import: {error}"
    if report.archived:
        yield f"archived {report.archived} imported record(s)"
    if any(p.mismatches for p in report.properties):
        yield "calcformula and HubSpot disagree"
    elif report.import_errors:
        yield f"the values agree, but {len(report.import_errors)} row(s) were not imported"
    else:
        yield "all values agree"
