"""The `calcformula` command: a thin layer over the library.

Exit codes (as ruff's): 0 no errors, 1 errors found (or `fmt --check` would change a file,
or a record could not be read), 2 usage error or internal failure.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO

import click

from calcformula import __version__, codes
from calcformula.checker import check
from calcformula.diagnostics import Diagnostic, Severity
from calcformula.evaluator import CompiledFormula, CompileError, EvalContext, PortalContext
from calcformula.evaluator.reference import not_evaluable
from calcformula.evaluator.runtime import NotEvaluable
from calcformula.formatter import format_tree
from calcformula.functions import REGISTRY, Value, lookup
from calcformula.manifest import load_manifest
from calcformula.nodes import Property, PropertyKind, walk
from calcformula.parser import decode, parse
from calcformula.project import (
    FileReport,
    UsageError,
    check_formula_file,
    check_manifest,
    collect,
    load_schema_option,
    managed_schema,
    manifest_schemas,
)
from calcformula.records import RecordProblem, RecordRow, parse_record_json, read_records
from calcformula.render import (
    diagnostic_record,
    render_github,
    render_sarif,
    render_text,
)
from calcformula.schema import Schema
from calcformula.values import format_number

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
TYPES = ["number", "bool", "string", "enumeration"]


def _fail(message: str) -> None:
    raise click.UsageError(message)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, package_name="calcformula")
def main() -> None:
    """Check, evaluate, format and push HubSpot calculation-property formulas."""


# --- check ---------------------------------------------------------------------------------


@main.command()
@click.argument("paths", nargs=-1)
@click.option("--expr", "expression", help="Check this formula instead of files.")
@click.option(
    "--schema",
    "schema_path",
    help="HubSpot property JSON: a file, or a folder "
    "of <object>.json (for .calc files and --expr).",
)
@click.option("--object", "object_name", help="The object whose schema applies.")
@click.option(
    "--type",
    "declared_type",
    type=click.Choice(TYPES),
    help="The declared type of the property (for .calc files and --expr).",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json", "github", "sarif"]),
    default="text",
    show_default=True,
)
@click.option("--strict", is_flag=True, help="Warnings fail the check too.")
def check_command(
    paths: tuple[str, ...],
    expression: str | None,
    schema_path: str | None,
    object_name: str | None,
    declared_type: str | None,
    output: str,
    strict: bool,
) -> None:
    """Check formulas: .calc files, calcformula.yaml manifests, folders (searched for both)
    or - for standard input. With no PATH, the current folder."""
    try:
        schema = load_schema_option(schema_path, object_name)
        reports: list[FileReport] = []
        if expression is not None:
            if paths:
                _fail("give either --expr or paths, not both")
            result = check(expression, schema=schema, declared_type=declared_type)
            reports.append(FileReport("<expr>", expression, list(result.diagnostics)))
        else:
            targets = collect(paths or (".",))
            for manifest in targets.manifests:
                reports.extend(check_manifest(manifest, str(manifest)))
            for formula in targets.formulas:
                reports.append(check_formula_file(formula, schema, declared_type))
            if targets.stdin:
                text, problems = decode(sys.stdin.buffer.read())
                result = check(text, schema=schema, declared_type=declared_type)
                reports.append(FileReport("<stdin>", text, [*problems, *result.diagnostics]))
    except UsageError as error:
        _fail(str(error))
    _emit_reports(reports, output)
    counts = {s: 0 for s in Severity}
    for report in reports:
        for diagnostic in report.diagnostics:
            counts[diagnostic.severity] += 1
    failed = counts[Severity.ERROR] > 0 or (strict and counts[Severity.WARNING] > 0)
    sys.exit(EXIT_FOUND if failed else EXIT_OK)


main.add_command(check_command, "check")


def _emit_reports(reports: list[FileReport], output: str) -> None:
    pairs = [(r.path, d) for r in reports for d in r.diagnostics]
    if output == "json":
        summary = _summary(reports)
        records = [diagnostic_record(d, path) for path, d in pairs]
        click.echo(
            json.dumps({"diagnostics": records, "summary": summary}, indent=2, ensure_ascii=False)
        )
    elif output == "github":
        if pairs:
            click.echo(render_github(pairs))
    elif output == "sarif":
        click.echo(render_sarif(pairs, __version__))
    else:
        colour = sys.stdout.isatty()
        for report in reports:
            if report.diagnostics:
                click.echo(render_text(report.diagnostics, report.text, report.path, colour))
        summary = _summary(reports)
        click.echo(
            f"{summary['files']} file(s) checked: {summary['errors']} error(s), "
            f"{summary['warnings']} warning(s), {summary['infos']} note(s)",
            err=True,
        )


def _summary(reports: list[FileReport]) -> dict[str, int]:
    counts = {"error": 0, "warning": 0, "info": 0}
    for report in reports:
        for diagnostic in report.diagnostics:
            key = "info" if diagnostic.severity is Severity.HINT else diagnostic.severity.value
            counts[key] += 1
    return {
        "files": len(reports),
        "errors": counts["error"],
        "warnings": counts["warning"],
        "infos": counts["info"],
    }


# --- eval ----------------------------------------------------------------------------------


@dataclass
class Target:
    """One formula to evaluate: from --expr, a .calc file, or a manifest property."""

    name: str
    formula: CompiledFormula


def _json_value(value: Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format_number(value)  # exact: the number as JSON text, not a float
    return json.dumps(value, ensure_ascii=False)


def _parse_now(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"--now {text!r} is not an ISO 8601 date or datetime (e.g. 2026-01-31T12:00:00Z)")
        raise  # pragma: no cover
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def _compile_or_report(
    name: str,
    text: str,
    schema: Schema | None,
    declared: str | None,
    context: EvalContext,
    options: tuple[str, ...] | None = None,
    path: str = "<expr>",
) -> CompiledFormula:
    checked = check(text, schema=schema, declared_type=declared, options=options)
    try:
        return CompiledFormula(checked, schema, context)
    except CompileError:
        errors = [d for d in checked.diagnostics if d.is_error]
        click.echo(render_text(errors, text, path, sys.stderr.isatty()), err=True)
        click.echo(f"{name}: the formula has errors; nothing was evaluated", err=True)
        sys.exit(EXIT_FOUND)


@main.command("eval")
@click.argument("path", required=False)
@click.option("--expr", "expression", help="Evaluate this formula.")
@click.option("--record", "record_json", help='One record as JSON: \'{"amount": "10"}\'.')
@click.option(
    "--records",
    "records_path",
    type=click.Path(dir_okay=False),
    help="Records: HubSpot API JSON, NDJSON or CSV (internal names or labels).",
)
@click.option("--schema", "schema_path", help="HubSpot property JSON (file or folder).")
@click.option("--object", "object_name", help="The object of the records.")
@click.option(
    "--property",
    "property_names",
    multiple=True,
    help="With a manifest: evaluate only this property (repeatable).",
)
@click.option("--type", "declared_type", type=click.Choice(TYPES))
@click.option("--now", "now_text", help="Fix NOW, e.g. 2026-01-31T12:00:00Z.")
@click.option(
    "--portal",
    "portal_path",
    type=click.Path(dir_okay=False),
    help="Portal context JSON (pipelines, currencies).",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "csv", "json", "ndjson"]),
    default="table",
    show_default=True,
)
@click.option(
    "--output",
    "output_path",
    type=click.Path(dir_okay=False),
    help="Write results here instead of standard output.",
)
def eval_command(
    path: str | None,
    expression: str | None,
    record_json: str | None,
    records_path: str | None,
    schema_path: str | None,
    object_name: str | None,
    property_names: tuple[str, ...],
    declared_type: str | None,
    now_text: str | None,
    portal_path: str | None,
    output: str,
    output_path: str | None,
) -> None:
    """Evaluate a formula (.calc file, manifest or --expr) against records."""
    if (path is None) == (expression is None):
        _fail("give a PATH (.calc file or calcformula.yaml) or --expr, not both")
    if record_json is not None and records_path is not None:
        _fail("give --record or --records, not both")
    now = _parse_now(now_text)
    portal = _load_portal(portal_path) if portal_path else None
    try:
        targets, schema, portal = _eval_targets(
            path, expression, schema_path, object_name, property_names, declared_type, now, portal
        )
    except UsageError as error:
        _fail(str(error))
    rows: Iterator[RecordRow | RecordProblem]
    if records_path is not None:
        if not Path(records_path).is_file():
            _fail(f"{records_path}: no such file")
        rows = read_records(records_path, schema, _read_names(targets))
    elif record_json is not None:
        rows = iter([parse_record_json(record_json)])
    else:
        rows = iter([RecordRow(0, None, {})])
    stream: IO[str] = sys.stdout
    if output_path is not None:
        stream = open(output_path, "w", encoding="utf-8", newline="")  # noqa: SIM115
    try:
        problems = _run_eval(targets, rows, output, stream, records_path is not None)
    finally:
        if output_path is not None:
            stream.close()
    sys.exit(EXIT_FOUND if problems else EXIT_OK)


def _read_names(targets: list[Target]) -> set[str]:
    """The record keys the formulas read (CSV rows keep only these columns)."""
    names: set[str] = set()
    for target in targets:
        for node in walk(target.formula.checked.tree):
            if isinstance(node, Property):
                names.add(
                    f"timestamp({node.name})" if node.kind is PropertyKind.TIMESTAMP else node.name
                )
    return names


def _load_portal(path: str) -> PortalContext:
    try:
        return PortalContext.load(path)
    except (OSError, ValueError) as error:
        _fail(f"portal context: {error}")
        raise  # pragma: no cover


def _eval_targets(
    path: str | None,
    expression: str | None,
    schema_path: str | None,
    object_name: str | None,
    property_names: tuple[str, ...],
    declared_type: str | None,
    now: int | None,
    portal: PortalContext | None,
) -> tuple[list[Target], Schema | None, PortalContext | None]:
    def context(portal_context: PortalContext | None) -> EvalContext:
        if now is None:
            return EvalContext(portal=portal_context)
        return EvalContext(now_ms=now, portal=portal_context)

    if expression is not None or (path is not None and not path.endswith((".yaml", ".yml"))):
        schema = load_schema_option(schema_path, object_name)
        if expression is not None:
            text, display = expression, "<expr>"
        else:
            assert path is not None
            try:
                text, _ = decode(Path(path).read_bytes())
            except OSError as error:
                raise UsageError(f"{path}: {error.strerror}") from None
            display = path
        compiled = _compile_or_report(
            "value", text, schema, declared_type, context(portal), path=display
        )
        return [Target("value", compiled)], schema, portal
    assert path is not None
    try:
        manifest = load_manifest(path)
    except OSError as error:
        raise UsageError(f"{path}: {error.strerror}") from None
    if not manifest.ok:
        errors = [d for d in manifest.diagnostics if d.is_error]
        click.echo(render_text(errors, manifest.text, path, sys.stderr.isatty()), err=True)
        sys.exit(EXIT_FOUND)
    selected = [p for p in manifest.properties if not property_names or p.name in property_names]
    unknown = set(property_names) - {p.name for p in manifest.properties}
    if unknown:
        raise UsageError(f"not in {path}: {', '.join(sorted(unknown))}")
    if object_name is not None:
        selected = [p for p in selected if p.object == object_name]
    objects = {p.object for p in selected}
    if not selected:
        raise UsageError(f"{path}: no properties to evaluate")
    if len(objects) > 1:
        raise UsageError(
            f"{path} manages properties of {', '.join(sorted(objects))}; "
            f"choose the records' object with --object"
        )
    if portal is None and manifest.portal is not None and manifest.portal.is_file():
        portal = _load_portal(str(manifest.portal))
    schemas, _ = manifest_schemas(manifest)
    target_object = objects.pop()
    schema = managed_schema(manifest, target_object, schemas)
    targets = [
        Target(
            p.name,
            _compile_or_report(
                p.name,
                p.formula,
                schema,
                p.type,
                context(portal),
                p.option_values or None,
                str(p.formula_file or path),
            ),
        )
        for p in selected
    ]
    return targets, schema, portal


def _diagnostics_json(diagnostics: tuple[Diagnostic, ...]) -> str:
    return json.dumps(
        [{"code": d.code, "severity": d.severity.value, "message": d.message} for d in diagnostics],
        ensure_ascii=False,
    )


def _run_eval(
    targets: list[Target],
    rows: Iterator[RecordRow | RecordProblem],
    output: str,
    stream: IO[str],
    from_file: bool,
) -> int:
    started = time.perf_counter()
    records = blank = unknown = unreadable = 0
    show_progress = from_file and sys.stderr.isatty()
    table: list[list[str]] = []
    json_items: list[str] = []
    several = len(targets) > 1
    functions = [target.formula.function for target in targets]
    write = stream.write
    if output == "csv":
        write("id," + ",".join(_csv_cell(t.name) for t in targets) + "\n")
    for row in rows:
        if row.__class__ is RecordProblem:
            unreadable += 1
            click.echo(f"line {row.line}: {row.message}; record skipped", err=True)
            continue
        line, identifier, properties = row  # type: ignore[misc]
        records += 1
        if show_progress and records % 10_000 == 0:
            click.echo(f"\r{records:,} records", err=True, nl=False)
        record_id = identifier if identifier is not None else str(line or records)
        results: list[tuple[Value, bool, tuple[Diagnostic, ...]]] = []
        for function in functions:
            sink: list[Diagnostic] = []
            try:
                value = function(properties, sink)
            except NotEvaluable as error:
                unknown += 1
                results.append((None, False, not_evaluable(error, sink, None).diagnostics))
                continue
            if value is None:
                blank += 1
            results.append((value, True, tuple(sink) if sink else ()))
        if output == "csv":
            cells = ",".join(_csv_cell(_plain(v)) if known else "" for v, known, _ in results)
            write(f"{_csv_cell(record_id)},{cells}\n")
        elif output in ("ndjson", "json"):
            for target, (value, evaluable, diagnostics) in zip(targets, results, strict=True):
                item = (
                    f'{{"id": {json.dumps(record_id)}, '
                    + (f'"property": {json.dumps(target.name)}, ' if several else "")
                    + f'"value": {_json_value(value)}, '
                    + ('"evaluable": false, ' if not evaluable else "")
                    + f'"diagnostics": {_diagnostics_json(diagnostics) if diagnostics else "[]"}}}'
                )
                if output == "ndjson":
                    write(item + "\n")
                else:
                    json_items.append(item)
        else:
            notes = "; ".join(f"{d.code} {d.message}" for _, _, found in results for d in found)
            table.append([record_id, *(_shown(v, known) for v, known, _ in results), notes])
    if show_progress:
        click.echo("\r", err=True, nl=False)
    elapsed = time.perf_counter() - started
    if output == "json":
        summary = {
            "records": records,
            "blank": blank,
            "not_evaluable": unknown,
            "unreadable": unreadable,
            "seconds": round(elapsed, 3),
        }
        write(
            '{"results": ['
            + ",\n".join(json_items)
            + '],\n"summary": '
            + json.dumps(summary)
            + "}\n"
        )
    else:
        if output == "table":
            _write_table(stream, ["id", *(t.name for t in targets), "notes"], table)
        click.echo(
            f"{records} record(s): {blank} blank, {unknown} not evaluable, "
            f"{unreadable} unreadable ({elapsed:.2f} s)",
            err=True,
        )
    return unreadable


def _plain(value: Value) -> str:
    if value is None:
        return ""
    if value.__class__ is Decimal:
        return format_number(value)
    if value is True or value is False:
        return "true" if value else "false"
    return value  # type: ignore[return-value]


def _shown(value: Value, evaluable: bool) -> str:
    if not evaluable:
        return "(not evaluable)"
    return "(blank)" if value is None else _plain(value)


def _csv_cell(text: str) -> str:
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _write_table(stream: IO[str], headers: list[str], rows: list[list[str]]) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = min(max(widths[i], len(cell)), 40)

    def line(cells: list[str]) -> str:
        parts = [cell[:40].ljust(widths[i]) for i, cell in enumerate(cells[:-1])]
        return "  ".join([*parts, cells[-1]]).rstrip()

    stream.write(line(headers) + "\n")
    stream.write("  ".join("-" * w for w in widths) + "  " + "-" * 5 + "\n")
    for row in rows:
        stream.write(line(row) + "\n")


# --- fmt, explain, functions ---------------------------------------------------------------


@main.command()
@click.argument("paths", nargs=-1)
@click.option("--check", "check_only", is_flag=True, help="Exit 1 if a file would change.")
@click.option("--diff", is_flag=True, help="Print a diff instead of rewriting.")
@click.option(
    "--style", type=click.Choice(["canonical", "hubspot"]), default="canonical", show_default=True
)
def fmt(paths: tuple[str, ...], check_only: bool, diff: bool, style: str) -> None:
    """Format .calc files in place (folders are searched; - formats standard input to
    standard output; a manifest formats the formula files it names)."""
    try:
        targets = collect(paths or (".",))
    except UsageError as error:
        _fail(str(error))
    files: list[str] = [str(p) for p in targets.formulas]
    for manifest_path in targets.manifests:
        manifest = load_manifest(manifest_path)
        files.extend(str(p.formula_file) for p in manifest.properties if p.formula_file)
    if targets.stdin:
        files.append("-")
    changed = broken = False
    for path in dict.fromkeys(files):
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        text, _ = decode(data)
        result = parse(text)
        if not result.ok:
            click.echo(
                render_text([d for d in result.diagnostics if d.is_error], text, path), err=True
            )
            broken = True
            continue
        formatted = format_tree(result.tree, style) + "\n"  # type: ignore[arg-type]
        if path == "-" and not (check_only or diff):
            click.echo(formatted, nl=False)
            continue
        if formatted == text:
            continue
        changed = True
        if diff:
            click.echo(
                "".join(
                    difflib.unified_diff(
                        text.splitlines(keepends=True),
                        formatted.splitlines(keepends=True),
                        fromfile=path,
                        tofile=path,
                    )
                ),
                nl=False,
            )
        elif check_only:
            click.echo(f"would reformat {path}", err=True)
        else:
            Path(path).write_text(formatted, encoding="utf-8")
            click.echo(f"reformatted {path}", err=True)
    if broken:
        sys.exit(EXIT_FOUND)
    sys.exit(EXIT_FOUND if changed and (check_only or diff) else EXIT_OK)


@main.command()
@click.argument("code")
def explain(code: str) -> None:
    """Print the documentation of a diagnostic code (e.g. CF106)."""
    entry = codes.CODES.get(code.upper())
    if entry is None:
        _fail(f"unknown code {code}; `calcformula explain` knows {', '.join(codes.CODES)}")
        return
    click.echo(f"{entry.code} {entry.name} ({entry.severity.value})\n")
    click.echo(entry.summary)
    click.echo(f"\nEvidence: {entry.evidence}")
    if entry.example.strip():
        click.echo(f"\nExample:\n    {entry.example}\n")
        for diagnostic in check(entry.example).diagnostics:
            if diagnostic.code == entry.code:
                click.echo(render_text([diagnostic], entry.example, "example"))


@main.command()
@click.argument("name", required=False)
def functions(name: str | None) -> None:
    """List the functions, or show one."""
    if name is None:
        for function in sorted(REGISTRY.values(), key=lambda f: (f.family, f.name)):
            click.echo(f"{function.family:7} {function.signature:70} {function.evidence.value}")
        return
    entry = lookup(name)
    if entry is None:
        _fail(f"unknown function {name}")
        return
    click.echo(entry.signature)
    click.echo(f"\n{entry.summary}\n\nEvidence: {entry.evidence.value}")
    click.echo(f"Blanks: {entry.blanks.value}")
    if entry.notes:
        click.echo(f"Note: {entry.notes}")
    for example in entry.examples:
        record = ", ".join(f"{k}={v!r}" for k, v in example.record)
        suffix = f"   ({record})" if record else ""
        click.echo(f"\n    {example.formula}  =>  {example.result}{suffix}")


@main.command()
def lsp() -> None:
    """Run the language server over standard input and output (for editors)."""
    from calcformula_lsp.server import main as serve

    serve()


from calcformula.hubspot.commands import COMMANDS  # noqa: E402  (after the main group)

for _command in COMMANDS:
    main.add_command(_command)


def run() -> None:
    """Entry point: unexpected failures become exit code 2 with one line, not a traceback."""
    try:
        main(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("calcformula: interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # the documented contract is exit 2, never a traceback
        click.echo(f"calcformula: internal error: {type(error).__name__}: {error}", err=True)
        sys.exit(EXIT_USAGE)


__all__ = ["main", "run"]
