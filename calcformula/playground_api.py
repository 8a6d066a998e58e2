"""The browser playground's entry point: JSON in, JSON out, over the real library.

The playground (playground/, docs/playground.md) runs this module in Pyodide; its JavaScript
only renders what comes back. Every answer is computed by the same parser, checker,
evaluator, formatter, SQL compiler and fix engine as the command, so a formula gives the same
codes, messages and values in the page as in `calcformula check` and `calcformula eval`.

`handle(request)` takes `{"op": ..., ...}` as JSON text and returns JSON text; it never raises
(a request it cannot serve gives `{"error": message}`). Offsets exchanged with the page are
UTF-16 code units, as JavaScript counts them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any

from calcformula import __version__
from calcformula.checker import CheckResult, check
from calcformula.diagnostics import Diagnostic, apply_fixes
from calcformula.evaluator import CompiledFormula, CompileError, EvalContext
from calcformula.formatter import FormatError, format_tree
from calcformula.functions import REGISTRY, Value
from calcformula.nodes import Property, PropertyKind, walk
from calcformula.parser import VALUE_STARTS, expected_terminals
from calcformula.records import RecordProblem, read_records
from calcformula.render import diagnostic_record
from calcformula.schema import Schema, SchemaError
from calcformula.tokens import KEYWORDS_AFTER_VALUE
from calcformula.values import format_number, format_value, json_value

DOCS_URL = "https://github.com/calcformula/calcformula/blob/main/docs/diagnostics.md#{anchor}"
# The declared types the command accepts (`--type`).
DECLARED_TYPES = ("number", "bool", "string", "enumeration")
MAX_RECORDS = 1000  # a table a person reads; the command evaluates files of any size

_KEYWORD_TOKENS = {"IF", "THEN", "ELSE", "ELSEIF", "ENDIF", "AND", "OR", "XOR", "NOT", "EQUALS"}
_CONSTANT_TOKENS = {"TRUE", "FALSE", "E", "NOW", "TARGET"}
_WRAPPER_TOKENS = {"STRING_WRAPPER", "BOOL_WRAPPER", "TIMESTAMP_WRAPPER"}
_OPERATOR_TOKENS = {"PLUS", "MINUS", "STAR", "SLASH", "LT", "GT", "LE", "GE", "EQ", "NE"}


class RequestError(ValueError):
    """A request the page sent wrongly (a bug in the page, not in the user's input)."""


# --- offsets ---------------------------------------------------------------------------------


class Offsets:
    """Converts between Python's code-point offsets and JavaScript's UTF-16 offsets."""

    def __init__(self, text: str) -> None:
        self.wide = [i for i, c in enumerate(text) if ord(c) > 0xFFFF]

    def to_js(self, offset: int) -> int:
        if not self.wide:
            return offset
        return offset + sum(1 for i in self.wide if i < offset)

    def from_js(self, offset: int) -> int:
        if not self.wide:
            return offset
        # Each character outside the BMP that starts before `offset` is two UTF-16 units.
        return offset - sum(1 for k, i in enumerate(self.wide) if i + k < offset)


# --- inputs ----------------------------------------------------------------------------------


def _schema(text: str, object_name: str = "") -> tuple[Schema | None, str | None]:
    """The pasted properties JSON as a schema of `object_name` (what the command takes from
    the file's name), or the reason it cannot be one."""
    return _parsed_schema(text, object_name.strip().lower())


@lru_cache(maxsize=8)
def _parsed_schema(text: str, object_name: str) -> tuple[Schema | None, str | None]:
    if not text.strip():
        return None, None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"schema: line {error.lineno}, column {error.colno}: not JSON: {error.msg}"
    try:
        return Schema.from_json(data, object_name, "schema"), None
    except SchemaError as error:
        return None, str(error)


def _declared(request: dict[str, Any]) -> str | None:
    value = request.get("declared_type") or None
    if value is not None and value not in DECLARED_TYPES:
        raise RequestError(f"declared_type must be one of {', '.join(DECLARED_TYPES)}")
    return value


def _text(request: dict[str, Any], key: str) -> str:
    value = request.get(key, "")
    if not isinstance(value, str):
        raise RequestError(f"`{key}` must be a string")
    return value


def _checked(request: dict[str, Any]) -> CheckResult:
    return _checked_text(
        _text(request, "formula"),
        _text(request, "schema"),
        _text(request, "object"),
        _declared(request),
    )


@lru_cache(maxsize=4)
def _checked_text(
    formula: str, schema_text: str, object_name: str, declared: str | None
) -> CheckResult:
    schema, _ = _schema(schema_text, object_name)
    return check(formula, schema=schema, declared_type=declared)


def _now(request: dict[str, Any]) -> int | None:
    text = request.get("now") or None
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise RequestError(f"now {text!r} is not an ISO 8601 date or datetime") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


# --- outputs ---------------------------------------------------------------------------------


def _diagnostic(diagnostic: Diagnostic, offsets: Offsets) -> dict[str, Any]:
    record = diagnostic_record(diagnostic)
    record["from"] = offsets.to_js(diagnostic.span.start)
    record["to"] = offsets.to_js(diagnostic.span.end)
    record["docs"] = DOCS_URL.format(anchor=diagnostic.code.lower())
    return record


def _tokens(checked: CheckResult, offsets: Offsets) -> list[list[Any]]:
    """Highlighting classes for the editor, from the parser's own tokens."""
    tokens = [t for t in checked.parse.tokens if not t.synthetic]
    found: list[list[Any]] = []
    for index, token in enumerate(tokens):
        kind = token.type
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if kind == "NAME":
            style = "function" if following is not None and following.type == "LPAR" else "property"
        elif kind == "NUMBER":
            style = "number"
        elif kind == "STRING":
            style = "string"
        elif kind in _CONSTANT_TOKENS:
            style = "constant"
        elif kind in _WRAPPER_TOKENS:
            style = "wrapper"
        elif kind in _KEYWORD_TOKENS:
            style = "keyword"
        elif kind in _OPERATOR_TOKENS:
            style = "operator"
        else:
            continue
        found.append([offsets.to_js(token.span.start), offsets.to_js(token.span.end), style])
    return found


def shown_value(value: Value, evaluable: bool) -> str:
    """A value as the command's table shows it."""
    if not evaluable:
        return "(not evaluable)"
    return value if isinstance(value, str) else format_value(value)  # text unquoted


# --- operations ------------------------------------------------------------------------------


def op_info(request: dict[str, Any]) -> dict[str, Any]:
    from calcformula.dialects import DIALECTS

    return {
        "version": __version__,
        "dialects": list(DIALECTS),
        "declared_types": list(DECLARED_TYPES),
    }


def op_check(request: dict[str, Any]) -> dict[str, Any]:
    """Diagnostics and highlighting: what the page asks on every keystroke."""
    formula = _text(request, "formula")
    schema_text = _text(request, "schema")
    _, schema_problem = _schema(schema_text, _text(request, "object"))
    checked = _checked(request)
    offsets = Offsets(formula)
    return {
        "diagnostics": [_diagnostic(d, offsets) for d in checked.diagnostics],
        "tokens": _tokens(checked, offsets),
        "type": checked.result_type.value,
        "schema_problem": schema_problem,
        "schema_properties": len(_schema(schema_text, _text(request, "object"))[0] or ()),
    }


def op_fix(request: dict[str, Any]) -> dict[str, Any]:
    """The formula with one diagnostic's fix applied (`index` into op_check's list), or every
    first fix (`all`): the command's fix engine."""
    formula = _text(request, "formula")
    checked = _checked(request)
    if request.get("all"):
        chosen = list(checked.diagnostics)
    else:
        index = request.get("index")
        if not isinstance(index, int) or not 0 <= index < len(checked.diagnostics):
            raise RequestError("`index` must name one of the diagnostics")
        chosen = [checked.diagnostics[index]]
        fix_index = request.get("fix", 0)
        fixes = chosen[0].fixes
        if not isinstance(fix_index, int) or not 0 <= fix_index < len(fixes):
            raise RequestError("`fix` must name one of the diagnostic's fixes")
        chosen = [_with_first_fix(chosen[0], fix_index)]
    text, applied = apply_fixes(formula, chosen)
    return {"formula": text, "applied": applied}


def _with_first_fix(diagnostic: Diagnostic, index: int) -> Diagnostic:
    from dataclasses import replace

    fixes = diagnostic.fixes
    return replace(diagnostic, fixes=(fixes[index], *fixes[:index], *fixes[index + 1 :]))


def op_details(request: dict[str, Any]) -> dict[str, Any]:
    """HubSpot's stored form, the canonical form, the SQL and the records' values."""
    schema, _ = _schema(_text(request, "schema"), _text(request, "object"))
    checked = _checked(request)
    now = _now(request)
    answer: dict[str, Any] = {"hubspot": None, "canonical": None, "sql": None}
    if checked.parse.ok:
        try:
            answer["hubspot"] = format_tree(checked.tree, "hubspot")
            answer["canonical"] = format_tree(checked.tree, "canonical")
        except FormatError as error:
            answer["format_problem"] = str(error)
    answer["sql"], answer["sql_problems"] = _sql(
        checked, _text(request, "dialect") or "duckdb", now
    )
    answer["results"] = _results(
        checked, schema, now, _text(request, "records"), _text(request, "records_format")
    )
    return answer


def _sql(checked: CheckResult, dialect: str, now: int | None) -> tuple[str | None, list[str]]:
    if not checked.ok:
        return None, ["the formula has errors; fix them to see its SQL"]
    from calcformula.sql import compile_sql

    try:
        formula = compile_sql(checked, dialect, None, now)
    except ValueError as error:
        return None, [str(error)]
    problems = [f"{d.code} {d.message}" for d in formula.diagnostics if d.is_error]
    if problems or not formula.ok:
        return None, problems or ["no SQL for this formula"]
    return formula.sql(pretty=True), []


def _records_suffix(text: str, chosen: str) -> str:
    """The file suffix that makes `read_records` read the pasted text as `chosen` (or as what
    it looks like: a JSON document, JSON lines, or CSV)."""
    if chosen in ("csv", "json", "ndjson"):
        return "." + chosen
    head = text.lstrip()[:1]
    if head == "[":
        return ".json"
    if head == "{":
        try:
            json.loads(text)
        except json.JSONDecodeError:
            return ".ndjson"
        return ".json"
    return ".csv"


def _read_names(checked: CheckResult) -> set[str]:
    """The record keys the formula reads (CSV rows keep only these columns), as the command."""
    names: set[str] = set()
    for node in walk(checked.tree):
        if isinstance(node, Property):
            names.add(
                f"timestamp({node.name})" if node.kind is PropertyKind.TIMESTAMP else node.name
            )
    return names


def _parsed_records(
    text: str, chosen: str, schema: Schema | None, wanted: set[str] | None
) -> tuple[list[tuple[str, dict[str, object]]], list[str], str]:
    """The pasted records through the command's reader: (id, properties) pairs, problems."""
    suffix = _records_suffix(text, chosen)
    handle, path = tempfile.mkstemp(suffix=suffix, prefix="records")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        rows: list[tuple[str, dict[str, object]]] = []
        problems: list[str] = []
        for item in read_records(path, schema, wanted):
            if isinstance(item, RecordProblem):
                problems.append(f"line {item.line}: {item.message}; record skipped")
                continue
            if len(rows) == MAX_RECORDS:
                problems.append(f"only the first {MAX_RECORDS} records are shown")
                break
            line, identifier, properties = item
            rows.append(
                (identifier if identifier is not None else str(line or len(rows) + 1), properties)
            )
        return rows, problems, suffix[1:]
    finally:
        os.unlink(path)


def _results(
    checked: CheckResult, schema: Schema | None, now: int | None, text: str, chosen: str
) -> dict[str, Any]:
    if not text.strip():
        return {"rows": [], "problems": [], "format": None}
    if not checked.ok:
        return {"rows": [], "problems": ["the formula has errors; nothing was evaluated"]}
    try:
        compiled = CompiledFormula(
            checked, schema, EvalContext(now_ms=now) if now is not None else None
        )
    except CompileError:
        return {"rows": [], "problems": ["the formula has errors; nothing was evaluated"]}
    records, problems, found = _parsed_records(text, chosen, schema, _read_names(checked))
    rows = []
    for record_id, properties in records:
        evaluation = compiled.evaluate(properties, record_id)
        rows.append(
            {
                "id": record_id,
                "value": json_value(evaluation.value) if evaluation.evaluable else None,
                "shown": shown_value(evaluation.value, evaluation.evaluable),
                "blank": evaluation.evaluable and evaluation.value is None,
                "evaluable": evaluation.evaluable,
                "notes": [{"code": d.code, "message": d.message} for d in evaluation.diagnostics],
            }
        )
    return {"rows": rows, "problems": problems, "format": found}


def op_trace(request: dict[str, Any]) -> dict[str, Any]:
    """Why one record's value is what it is: `calcformula.trace` on that record."""
    from calcformula.trace import trace

    formula = _text(request, "formula")
    schema_text = _text(request, "schema")
    schema, _ = _schema(schema_text, _text(request, "object"))
    checked = _checked(request)
    if not checked.ok:
        return {"problem": "the formula has errors; nothing was evaluated"}
    records, _, _ = _parsed_records(
        _text(request, "records"), _text(request, "records_format"), schema, None
    )
    index = request.get("index")
    if not isinstance(index, int) or not 0 <= index < len(records):
        raise RequestError("`index` must name one of the records")
    record_id, properties = records[index]
    now = _now(request)
    result = trace(formula, properties, schema=schema, now=now, record_id=record_id)
    # Exact numbers (to_json's numbers are floats).
    data: dict[str, Any] = json.loads(result.to_json_text(), parse_float=Decimal)
    offsets = Offsets(formula)
    data["value"] = _trace_shown(data.get("value"), bool(data.get("evaluable", True)))
    stack = [data.get("trace")]
    while stack:  # traces are as deep as the formula: no recursion
        step = stack.pop()
        if not isinstance(step, dict):
            continue
        for key in ("start", "end"):
            if isinstance(step.get(key), int):
                step[key] = offsets.to_js(step[key])
        step["value"] = _trace_shown(step.get("value"), bool(step.get("evaluated", True)))
        stack.extend(step.get("children") or ())
    return {"id": record_id, **data}


def _trace_shown(value: Any, evaluated: bool) -> str:
    """A trace value as the page shows it; numbers exact, text quoted."""
    if not evaluated:
        return "not evaluated"
    if value is None:
        return "(blank)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int | float):
        return format_number(Decimal(str(value)))
    return json.dumps(value, ensure_ascii=False)


_NAME_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_WRAPPER_BEFORE = re.compile(r"(string|bool|timestamp)\s*\(\s*$", re.IGNORECASE)


def op_complete(request: dict[str, Any]) -> dict[str, Any]:
    """Completions at `offset`: properties with the wrapper their type needs, functions and
    keywords, from the parser's expected terminals (as the language server offers them)."""
    formula = _text(request, "formula")
    offsets = Offsets(formula)
    raw = request.get("offset")
    if not isinstance(raw, int) or not 0 <= raw <= len(formula) + len(offsets.wide):
        raise RequestError("`offset` must be a position in the formula")
    offset = offsets.from_js(raw)
    schema, _ = _schema(_text(request, "schema"), _text(request, "object"))
    before = formula[:offset]
    prefix = _NAME_PREFIX.search(before)
    start = offset - len(prefix.group()) if prefix else offset
    expected = expected_terminals(formula[:start])
    items: list[dict[str, Any]] = []
    wrapper_context = expected == {"NAME"}
    if expected & {"PLUS", "STAR", "AND", "OR", "THEN", "EQ"}:
        expected = expected - VALUE_STARTS  # after a complete value: operators and keywords
    if wrapper_context or expected & (VALUE_STARTS - {"MINUS", "NOT", "MISSING"}):
        wanted: PropertyKind | None = None
        if wrapper_context:
            matched = _WRAPPER_BEFORE.search(formula[:start])
            if matched:
                wanted = {"string": PropertyKind.STRING, "bool": PropertyKind.BOOL}.get(
                    matched.group(1).lower()
                )
        for info in schema.properties.values() if schema is not None else ():
            if wanted is not None and info.reads_as is not wanted:
                continue
            items.append(
                {
                    "label": info.name,
                    "apply": info.name if wanted is not None else info.reference,
                    "detail": f"{info.label} ({info.type})" if info.label else info.type,
                    "type": "property",
                    "boost": 2,
                }
            )
    if not wrapper_context and expected & VALUE_STARTS:
        for function in sorted(REGISTRY.values(), key=lambda f: f.name):
            items.append(
                {
                    "label": function.name,
                    "apply": function.name + "(",
                    "detail": function.signature,
                    "info": function.summary,
                    "type": "function",
                    "boost": 1,
                }
            )
        for word, what in (
            ("string", "text"),
            ("bool", "a checkbox"),
            ("timestamp", "when it last changed"),
        ):
            items.append(
                {
                    "label": f"{word}(…)",
                    "apply": f"{word}(",
                    "detail": f"read a property as {what}",
                    "type": "keyword",
                    "boost": 0,
                }
            )
        for word in ("if", "not", "true", "false", "e", "NOW"):
            items.append({"label": word, "apply": word, "type": "keyword", "boost": 0})
    for terminal, word in KEYWORDS_AFTER_VALUE.items():
        if terminal in expected:
            items.append({"label": word, "apply": word, "type": "keyword", "boost": 0})
    return {"from": offsets.to_js(start), "to": raw, "items": items}


OPERATIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "info": op_info,
    "check": op_check,
    "fix": op_fix,
    "details": op_details,
    "trace": op_trace,
    "complete": op_complete,
}


def handle(request: str) -> str:
    """Serve one request (JSON text) with JSON text; never raises."""
    try:
        parsed = json.loads(request)
        if not isinstance(parsed, dict):
            raise RequestError("a request is a JSON object")
        operation = OPERATIONS.get(str(parsed.get("op")))
        if operation is None:
            raise RequestError(f"unknown op {parsed.get('op')!r}; one of {', '.join(OPERATIONS)}")
        answer = operation(parsed)
    except (RequestError, json.JSONDecodeError) as error:
        answer = {"error": str(error)}
    except Exception as error:  # the page shows it rather than freeze
        answer = {"error": f"internal error ({type(error).__name__}): {error}"}
    return json.dumps(answer, ensure_ascii=False)
