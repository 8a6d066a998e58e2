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
from pathlib import Path
from typing import TYPE_CHECKING

import click

from calcformula import __version__, codes
from calcformula.batch import (
    ENGINES,
    FORMATS,
    BatchError,
    Formula,
    Notice,
    Progress,
    Source,
    SqlRefused,
)
from calcformula.batch import run as batch_run
from calcformula.checker import check
from calcformula.diagnostics import Severity
from calcformula.evaluator import CompiledFormula, CompileError, EvalContext, PortalContext
from calcformula.formatter import format_tree
from calcformula.functions import REGISTRY, lookup
from calcformula.manifest import load_manifest
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
from calcformula.render import (
    diagnostic_record,
    render_github,
    render_sarif,
    render_text,
)
from calcformula.schema import PropertyInfo, Schema

if TYPE_CHECKING:
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
            f"{summary['warnings']} warning(s), {summary['infos']} info(s)",
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


Target = Formula  # one formula to evaluate: from --expr, a .calc file, or a manifest property


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
    help="Records: HubSpot API JSON, NDJSON, CSV (internal names or labels) or Parquet; "
    "- reads standard input.",
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
    type=click.Choice(list(FORMATS)),
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
    type=click.Choice(list(ENGINES)),
    default="auto",
    show_default=True,
    help="python: the evaluator, record by record, with per-record diagnostics. duckdb: "
    "with --format csv, the compiled SQL on DuckDB (fast; says what can differ). auto: the "
    "evaluator, DuckDB reading Parquet; every engine prints the same results.",
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
) -> None:
    """Evaluate a formula (.calc file, manifest, - for standard input, or --expr) against
    records."""
    if (path is None) == (expression is None):
        _fail("give a PATH (.calc file or calcformula.yaml, - for standard input) or --expr")
    if record_json is not None and records_path is not None:
        _fail("give --record or --records, not both")
    if path == "-" and records_path == "-":
        _fail("standard input holds either the formula (-) or the records (--records -)")
    now = _parse_now(now_text)
    portal = _load_portal(portal_path) if portal_path else None
    try:
        source = _records_source(records_path, record_json)
        targets, schema, portal = _eval_targets(
            path, expression, schema_path, object_name, property_names, declared_type, now, portal
        )
    except (UsageError, BatchError) as error:
        _fail(str(error))
        raise  # pragma: no cover
    show = _ProgressLine() if source.path is not None and sys.stderr.isatty() else None
    try:
        summary = batch_run(
            targets,
            source,
            output=output,
            destination=output_path,
            engine=engine,
            schema=schema,
            portal=portal,
            now_ms=now,
            on_notice=lambda notice: _notice(notice, show),
            on_progress=show,
        )
    except SqlRefused as refused:
        for target in targets:
            found = refused.diagnostics.get(target.name, ())
            if found:
                text = target.compiled.checked.parse.text
                click.echo(render_text(found, text, target.name, sys.stderr.isatty()), err=True)
        _fail(str(refused))
        raise  # pragma: no cover
    except BatchError as error:
        _fail(str(error))
        raise  # pragma: no cover
    finally:
        if show is not None:
            show.clear()
    click.echo(summary.line(), err=True)
    sys.exit(EXIT_FOUND if summary.skipped else EXIT_OK)


def _records_source(records_path: str | None, record_json: str | None) -> Source:
    if records_path == "-":
        return Source.from_stream(sys.stdin.buffer)
    if records_path is not None:
        if not Path(records_path).is_file():
            raise UsageError(f"{records_path}: no such file")
        return Source.from_path(records_path)
    if record_json is not None:
        return Source.from_record(record_json)
    return Source.empty()


def _notice(notice: Notice, progress: _ProgressLine | None) -> None:
    if progress is not None:
        progress.clear()
    click.echo(str(notice), err=True)


class _ProgressLine:
    """`120,000 records, 35.2 of 120.0 MB (29%), 48,000 records/s` on a terminal's stderr,
    redrawn at most five times a second."""

    def __init__(self) -> None:
        self.shown = False
        self.last = 0.0

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self.last < 0.2:
            return
        self.last = now
        rate = progress.records / progress.seconds if progress.seconds > 0 else 0.0
        done = progress.done_bytes / 1_048_576
        if progress.total_bytes:
            total = progress.total_bytes / 1_048_576
            share = min(100.0, 100 * progress.done_bytes / progress.total_bytes)
            where = f"{done:,.1f} of {total:,.1f} MB ({share:.0f}%)"
        else:
            where = f"{done:,.1f} MB"
        sys.stderr.write(f"\r{progress.records:,} records, {where}, {rate:,.0f} records/s\x1b[K")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False


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
                data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
                text, _ = decode(data)
            except OSError as error:
                raise UsageError(f"{path}: {error.strerror}") from None
            display = "<stdin>" if path == "-" else path
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
        checked = target.compiled.checked
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
