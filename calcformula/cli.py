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
from typing import IO, TYPE_CHECKING

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
from calcformula.schema import PropertyInfo, Schema
from calcformula.values import format_number

if TYPE_CHECKING:
    from calcformula.duckdb_engine import DuckDBEngine
    from calcformula.sql import ColumnType

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
TYPES = ["number", "bool", "string", "enumeration"]


def _fail(message: str) -> None:
    raise click.UsageError(message)


# The commands that talk to HubSpot load on first use: their HTTP stack costs every other
# command (check in pre-commit, fmt in an editor) tens of milliseconds at start.
HUBSPOT_COMMANDS = ("plan", "push", "pull", "schema", "verify")


class _Commands(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *HUBSPOT_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in HUBSPOT_COMMANDS and cmd_name not in self.commands:
            from calcformula.hubspot.commands import COMMANDS

            for command in COMMANDS:
                self.add_command(command)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
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
    type=click.Path(),
    help="Records: HubSpot API JSON, NDJSON or CSV (internal names or labels); with --engine "
    "spark, also a folder of part files.",
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
@click.option(
    "--engine",
    type=click.Choice(["auto", "python", "duckdb", "spark"]),
    default="auto",
    show_default=True,
    help="python: record by record, with per-record notes. duckdb: the compiled SQL on "
    "DuckDB, for large files and Parquet. spark: the compiled SQL on Spark (a file or a folder "
    "of part files; --output writes a folder). auto: duckdb for Parquet and files over 32 MB.",
)
@click.option(
    "--spark-remote",
    metavar="sc://HOST:PORT",
    help="With --engine spark: a Spark Connect server instead of a local Spark session.",
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
    engine: str,
    spark_remote: str | None,
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
    if spark_remote is not None and engine != "spark":
        _fail("--spark-remote is for --engine spark")
    if engine == "spark":  # the coordinator folds this into the eval module's engine choice
        _eval_with_spark(
            targets, records_path, schema, now, portal, spark_remote, output, output_path
        )
    if records_path is not None and Path(records_path).is_dir():
        _fail(f"{records_path}: a folder of part files is read by --engine spark")
    if records_path is not None and not Path(records_path).is_file():
        _fail(f"{records_path}: no such file")
    if engine != "python" and records_path is not None:
        chosen = _duckdb_engine(engine, targets, records_path, schema, now)
        if chosen is not None:
            _eval_with_duckdb(chosen, targets, output, output_path)
            return
    elif engine == "duckdb":
        _fail("--engine duckdb evaluates a file of records: give --records")
    rows: Iterator[RecordRow | RecordProblem]
    if records_path is not None:
        if Path(records_path).suffix.lower() == ".parquet":
            _fail(f"{records_path}: Parquet is read by the DuckDB engine (--engine duckdb)")
        rows = read_records(records_path, schema, _read_names(targets))
    elif record_json is not None:
        rows = iter([parse_record_json(record_json)])
    else:
        rows = iter([RecordRow(0, None, {})])
    counts = _Counts()
    results = _python_results(targets, rows, counts)
    problems = _write_to(output_path, targets, results, output, records_path is not None, counts)
    sys.exit(EXIT_FOUND if problems else EXIT_OK)


AUTO_BYTES = 32 * 1024 * 1024  # --engine auto: files this large go to DuckDB


def _duckdb_engine(
    engine: str,
    targets: list[Target],
    records_path: str,
    schema: Schema | None,
    now: int | None,
) -> DuckDBEngine | None:
    """The DuckDB engine for this job, or None when `auto` keeps the Python engine."""
    from calcformula import duckdb_engine

    path = Path(records_path)
    kind = duckdb_engine.input_kind(path)
    if engine == "auto":
        large = path.stat().st_size >= AUTO_BYTES
        if kind is None or not (kind == "parquet" or large) or not duckdb_engine.available():
            return None
    checked = [(t.name, t.formula.checked) for t in targets]
    moment = now if now is not None else EvalContext().now_ms
    try:
        chosen = duckdb_engine.DuckDBEngine(checked, path, schema, moment)
    except duckdb_engine.EngineError as error:
        if engine == "auto" and kind != "parquet":
            return None
        _fail(str(error))
        raise  # pragma: no cover
    if not chosen.ok:
        if engine == "auto" and kind != "parquet":
            chosen.close()
            return None
        for target in targets:
            text = target.formula.checked.parse.text
            found = [d for d in chosen.diagnostics if d in _sql_diagnostics(chosen, target.name)]
            if found:
                click.echo(render_text(found, text, target.name, sys.stderr.isatty()), err=True)
        _fail("the DuckDB engine cannot evaluate these formulas; use --engine python")
    if engine == "auto":
        size = path.stat().st_size / 1_048_576  # MB
        click.echo(
            f"evaluating with the DuckDB engine ({size:,.1f} MB of records); "
            "numbers keep 10 decimals; --engine python keeps every digit and gives per-record "
            "notes",
            err=True,
        )
    return chosen


def _eval_with_spark(
    targets: list[Target],
    records_path: str | None,
    schema: Schema | None,
    now: int | None,
    portal: PortalContext | None,
    remote: str | None,
    output: str,
    output_path: str | None,
) -> None:
    """`--engine spark`: the DuckDB engine's path, with Spark reading and computing."""
    from calcformula import spark_engine

    if records_path is None:
        _fail("--engine spark evaluates records: give --records (a file or a folder)")
        return  # pragma: no cover
    if not spark_engine.available():
        _fail(f"--engine spark: {spark_engine.INSTALL_HINT}")
    checked = [(t.name, t.formula.checked) for t in targets]
    moment = now if now is not None else EvalContext().now_ms
    try:
        chosen = spark_engine.SparkEngine(
            checked, records_path, schema, moment, remote=remote, portal=portal
        )
    except spark_engine.EngineError as error:
        _fail(str(error))
        raise  # pragma: no cover
    if not chosen.ok:
        for target in targets:
            text = target.formula.checked.parse.text
            formula = dict(chosen.formulas)[target.name]
            found = [d for d in chosen.diagnostics if d in formula.diagnostics]
            if found:
                click.echo(render_text(found, text, target.name, sys.stderr.isatty()), err=True)
        chosen.close()
        _fail("the Spark engine cannot evaluate these formulas; use --engine python")
    _eval_with_duckdb(chosen, targets, output, output_path)  # type: ignore[arg-type]


def _sql_diagnostics(engine: DuckDBEngine, name: str) -> tuple[Diagnostic, ...]:
    for target_name, formula in engine.formulas:
        if target_name == name:
            return formula.diagnostics
    return ()


def _eval_with_duckdb(
    engine: DuckDBEngine, targets: list[Target], output: str, output_path: str | None
) -> None:
    from calcformula.duckdb_engine import EngineError, Problem

    try:
        if output_path is not None and (
            output == "csv" or (output == "ndjson" and len(targets) == 1)
        ):
            run = engine.write(output, output_path)
            for problem in run.problems:
                click.echo(f"line {problem.line}: {problem.message}; record skipped", err=True)
            label = getattr(engine, "label", "DuckDB engine")
            click.echo(
                f"{run.records} record(s): {run.blank} blank, 0 not evaluable, "
                f"{len(run.problems)} unreadable ({run.seconds:.2f} s, {label})",
                err=True,
            )
            sys.exit(EXIT_FOUND if run.problems else EXIT_OK)
        counts = _Counts()
        problems: list[Problem] = []

        def results() -> Iterator[tuple[str, list[Result]]]:
            for record_id, values in engine.rows():
                yield record_id, [(value, True, ()) for value in values]
            # Known once the scan is over, and reported before the summary that counts them.
            problems.extend(engine.problems())
            counts.unreadable = len(problems)
            for problem in problems:
                click.echo(f"line {problem.line}: {problem.message}; record skipped", err=True)

        _write_to(output_path, targets, _counting(results(), counts), output, True, counts)
    except EngineError as error:
        _fail(str(error))
    finally:
        engine.close()
    sys.exit(EXIT_FOUND if problems else EXIT_OK)


@dataclass
class _Counts:
    records: int = 0
    blank: int = 0
    unknown: int = 0
    unreadable: int = 0


Result = tuple[Value, bool, tuple[Diagnostic, ...]]


def _counting(
    results: Iterator[tuple[str, list[Result]]], counts: _Counts
) -> Iterator[tuple[str, list[Result]]]:
    for record_id, values in results:
        counts.records += 1
        counts.blank += sum(1 for value, _, _ in values if value is None)
        yield record_id, values


def _python_results(
    targets: list[Target], rows: Iterator[RecordRow | RecordProblem], counts: _Counts
) -> Iterator[tuple[str, list[Result]]]:
    """Each record's results from the compiled Python functions, with per-record notes."""
    functions = [target.formula.function for target in targets]
    for row in rows:
        if row.__class__ is RecordProblem:
            counts.unreadable += 1
            click.echo(f"line {row.line}: {row.message}; record skipped", err=True)
            continue
        line, identifier, properties = row  # type: ignore[misc]
        counts.records += 1
        record_id = identifier if identifier is not None else str(line or counts.records)
        results: list[Result] = []
        for function in functions:
            sink: list[Diagnostic] = []
            try:
                value = function(properties, sink)
            except NotEvaluable as error:
                counts.unknown += 1
                results.append((None, False, not_evaluable(error, sink, None).diagnostics))
                continue
            if value is None:
                counts.blank += 1
            results.append((value, True, tuple(sink) if sink else ()))
        yield record_id, results


def _write_to(
    output_path: str | None,
    targets: list[Target],
    results: Iterator[tuple[str, list[Result]]],
    output: str,
    from_file: bool,
    counts: _Counts,
) -> int:
    stream: IO[str] = sys.stdout
    if output_path is not None:
        stream = open(output_path, "w", encoding="utf-8", newline="")  # noqa: SIM115
    try:
        return _run_eval(targets, results, output, stream, from_file, counts)
    finally:
        if output_path is not None:
            stream.close()


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
    results: Iterator[tuple[str, list[Result]]],
    output: str,
    stream: IO[str],
    from_file: bool,
    counts: _Counts,
) -> int:
    started = time.perf_counter()
    show_progress = from_file and sys.stderr.isatty()
    table: list[list[str]] = []
    json_items: list[str] = []
    several = len(targets) > 1
    write = stream.write
    if output == "csv":
        write("id," + ",".join(_csv_cell(t.name) for t in targets) + "\n")
    for record_id, values in results:
        if show_progress and counts.records % 10_000 == 0:
            click.echo(f"\r{counts.records:,} records", err=True, nl=False)
        if output == "csv":
            cells = ",".join(_csv_cell(_plain(v)) if known else "" for v, known, _ in values)
            write(f"{_csv_cell(record_id)},{cells}\n")
        elif output in ("ndjson", "json"):
            for target, (value, evaluable, diagnostics) in zip(targets, values, strict=True):
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
            notes = "; ".join(f"{d.code} {d.message}" for _, _, found in values for d in found)
            table.append([record_id, *(_shown(v, known) for v, known, _ in values), notes])
    if show_progress:
        click.echo("\r", err=True, nl=False)
    elapsed = time.perf_counter() - started
    if output == "json":
        summary = {
            "records": counts.records,
            "blank": counts.blank,
            "not_evaluable": counts.unknown,
            "unreadable": counts.unreadable,
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
            f"{counts.records} record(s): {counts.blank} blank, {counts.unknown} not evaluable, "
            f"{counts.unreadable} unreadable ({elapsed:.2f} s)",
            err=True,
        )
    return counts.unreadable


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


# --- sql ---------------------------------------------------------------------------------


def _dialect_names() -> list[str]:
    from calcformula.dialects import DIALECTS

    return list(DIALECTS)


@main.command("sql")
@click.argument("path", required=False)
@click.option("--expr", "expression", help="Translate this formula.")
@click.option(
    "--dialect",
    type=click.Choice(_dialect_names()),
    default="duckdb",
    show_default=True,
    help="The SQL engine (docs/scale.md says which are tested).",
)
@click.option("--table", "table_name", help="Print a SELECT over this table (schema.table).")
@click.option(
    "--id-column",
    default="hs_object_id",
    show_default=True,
    help="With --table: the column selected as the record id.",
)
@click.option(
    "--columns",
    "column_mode",
    type=click.Choice(["text", "typed"]),
    default="text",
    show_default=True,
    help="text: columns hold HubSpot's values as text. typed: numbers, booleans and "
    "timestamps are typed as the schema says.",
)
@click.option("--schema", "schema_path", help="HubSpot property JSON (file or folder).")
@click.option("--object", "object_name", help="The object whose schema applies.")
@click.option(
    "--property",
    "property_names",
    multiple=True,
    help="With a manifest: translate only this property (repeatable).",
)
@click.option("--type", "declared_type", type=click.Choice(TYPES))
@click.option("--now", "now_text", help="Fix NOW (default: the engine's clock).")
@click.option("--pretty", is_flag=True, help="Indent the SQL.")
def sql_command(
    path: str | None,
    expression: str | None,
    dialect: str,
    table_name: str | None,
    id_column: str,
    column_mode: str,
    schema_path: str | None,
    object_name: str | None,
    property_names: tuple[str, ...],
    declared_type: str | None,
    now_text: str | None,
    pretty: bool,
) -> None:
    """Print a formula as SQL with calcformula's semantics (blanks as NULL, exact decimals)."""
    from sqlglot import exp

    from calcformula.sql import Column, compile_sql, parse_table, select

    if (path is None) == (expression is None):
        _fail("give a PATH (.calc file or calcformula.yaml) or --expr, not both")
    now = _parse_now(now_text)
    try:
        targets, schema, _ = _eval_targets(
            path, expression, schema_path, object_name, property_names, declared_type, now, None
        )
        table = parse_table(table_name, dialect) if table_name is not None else None
    except (UsageError, ValueError) as error:
        _fail(str(error))
        raise  # pragma: no cover
    columns: dict[str, Column] = {}
    if column_mode == "typed":
        if schema is None:
            _fail("--columns typed needs a schema (--schema, or the manifest's)")
        assert schema is not None
        for info in schema.properties.values():
            columns[info.name] = Column(exp.column(info.name, quoted=True), _typed_column(info))
    formulas = []
    failed = False
    for target in targets:
        checked = target.formula.checked
        formula = compile_sql(checked, dialect, columns, now)
        errors = [d for d in formula.diagnostics if d.is_error]
        if errors:
            failed = True
            click.echo(render_text(errors, checked.parse.text, target.name, False), err=True)
        formulas.append((target.name, formula))
    if failed:
        sys.exit(EXIT_FOUND)
    if table is not None:
        identifier = exp.column(id_column, quoted=True)
        query = select(formulas, table, identifier)
        click.echo(query.sql(dialect=dialect, pretty=pretty) + ";")
        return
    for name, formula in formulas:
        if len(formulas) > 1:
            click.echo(f"-- {name}")
        click.echo(formula.sql(pretty=pretty))


def _typed_column(info: PropertyInfo) -> ColumnType:
    from calcformula.sql import ColumnType

    if info.type == "number":
        return ColumnType.NUMBER
    if info.type == "datetime":
        return ColumnType.TIMESTAMP
    if info.type == "date":
        return ColumnType.DATE
    if info.type == "bool":
        return ColumnType.BOOLEAN
    return ColumnType.TEXT


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
