"""The `calcformula` command: a thin layer over the library.

Exit codes (as ruff's): 0 no errors, 1 errors found (or `fmt --check` would change a file,
or a record could not be read), 2 usage error or internal failure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from calcformula import __version__, codes, terminal
from calcformula.batch import (
    ENGINES,
    FORMATS,
    BatchError,
    Formula,
    Notice,
    Progress,
    Source,
    SqlRefused,
    read_names,
)
from calcformula.batch import run as batch_run
from calcformula.checker import check
from calcformula.diagnostics import Diagnostic, Severity
from calcformula.evaluator import CompiledFormula, CompileError, EvalContext, PortalContext
from calcformula.formatter import format_tree
from calcformula.functions import ALIASES, REGISTRY, lookup
from calcformula.parser import decode, parse
from calcformula.project import (
    FileReport,
    Targets,
    UsageError,
    check_formula_file,
    check_manifest,
    collect,
    load_schema_option,
    managed_schema,
    manifest_schemas,
)
from calcformula.records import RecordProblem, RecordRow
from calcformula.render import (
    diagnostic_record,
    render_github,
    render_sarif,
    render_text,
)
from calcformula.safe_io import write_atomic
from calcformula.schema import PropertyInfo, Schema
from calcformula.tables import write_table

if TYPE_CHECKING:
    from calcformula.manifest import ManagedProperty, Manifest
    from calcformula.sql import ColumnType

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
EXPR = "<expr>"  # how diagnostics name a formula given with --expr (standard input: <stdin>)
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
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            _add_colour_option(found)
        return found


def _add_colour_option(command: click.Command) -> None:
    """Every command takes `--color`, the same way (subcommands of `schema` too)."""
    if not any(p.name == "color" for p in command.params):
        command.params.append(_colour_option())
    if isinstance(command, click.Group):
        for subcommand in command.commands.values():
            _add_colour_option(subcommand)


def _colour_option() -> click.Option:
    """`--color` after the command too (`calcformula check --color never`), as before it."""

    def apply(context: click.Context, _: click.Parameter, value: str | None) -> None:
        if value is not None:
            terminal.configure(context, value)

    return click.Option(
        ["--color"],
        type=click.Choice(terminal.CHOICES),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=apply,
        help="Colour: auto (a terminal, unless NO_COLOR; FORCE_COLOR colours a pipe too), "
        "always or never.",
    )


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, package_name="calcformula")
@click.option(
    "--color",
    "color",
    type=click.Choice(terminal.CHOICES),
    default="auto",
    show_default=True,
    help="Colour in the output, for every command: auto colours a terminal unless NO_COLOR "
    "is set (FORCE_COLOR colours a pipe too); the option beats both.",
)
@click.pass_context
def main(context: click.Context, color: str) -> None:
    """Check, evaluate, format and push HubSpot calculation-property formulas."""
    terminal.configure(context, color)


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
@click.option(
    "--fix",
    "apply_fix",
    is_flag=True,
    help="Apply the safe fixes in place (.calc files and the formulas inside manifests), then "
    "report what remains.",
)
@click.option(
    "--diff", "show_diff", is_flag=True, help="Print the fixes as a unified diff; write nothing."
)
@click.option(
    "--unsafe-fixes",
    is_flag=True,
    help="With --fix or --diff: also apply fixes that may change what a formula computes "
    "(guessed names, coalesce(…) around blank values).",
)
def check_command(
    paths: tuple[str, ...],
    expression: str | None,
    schema_path: str | None,
    object_name: str | None,
    declared_type: str | None,
    output: str,
    strict: bool,
    apply_fix: bool,
    show_diff: bool,
    unsafe_fixes: bool,
) -> None:
    """Check formulas: .calc files, calcformula.yaml manifests, folders (searched for both)
    or - for standard input. With no PATH, the current folder."""
    if unsafe_fixes and not (apply_fix or show_diff):
        _fail("--unsafe-fixes goes with --fix or --diff")
    write_failed = False
    if apply_fix or show_diff:
        if expression is not None or "-" in paths:
            _fail("--fix and --diff rewrite files: give paths, not --expr or -")
        try:
            schema = load_schema_option(schema_path, object_name)
            changed = _fix_files(paths, schema, declared_type, unsafe_fixes, show_diff)
        except UsageError as error:
            _fail(str(error))
            raise  # pragma: no cover
        if show_diff:
            sys.exit(EXIT_FOUND if changed else EXIT_OK)
        write_failed = changed < 0
    try:
        schema = load_schema_option(schema_path, object_name)
        reports: list[FileReport] = []
        if expression is not None:
            if paths:
                _fail("give either --expr or paths, not both")
            result = check(expression, schema=schema, declared_type=declared_type)
            reports.append(FileReport(EXPR, expression, list(result.diagnostics)))
        else:
            targets = collect(paths or (".",))
            _say_skipped(targets)
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
    sys.exit(EXIT_FOUND if failed or write_failed else EXIT_OK)


main.add_command(check_command, "check")


def _say_skipped(targets: Targets) -> None:
    for path, why in targets.skipped:
        click.echo(f"skipped {path}: {why}", err=True)


def _fix_files(
    paths: tuple[str, ...],
    schema: Schema | None,
    declared_type: str | None,
    unsafe: bool,
    diff_only: bool,
) -> int:
    """`check --fix` / `--diff`: the number of files changed (or that would change), or -1
    when a file could not be written."""
    from calcformula.fixing import FileFix, fix_formula_file, fix_manifest

    targets = collect(paths or (".",))
    if diff_only:
        _say_skipped(targets)  # with --fix, the check that follows says it
    results: list[FileFix] = []
    try:
        for manifest in targets.manifests:
            results.extend(fix_manifest(manifest, str(manifest), unsafe))
        for formula in targets.formulas:
            results.append(fix_formula_file(formula, str(formula), schema, declared_type, unsafe))
    except OSError as error:
        raise UsageError(f"{error.filename}: {error.strerror}") from None
    changed = failed = 0
    applied = 0
    for result in results:
        for line in result.skipped:
            click.echo(line, err=True)
        if not result.changed:
            continue
        changed += 1
        applied += len(result.applied)
        if diff_only:
            before, _ = decode(result.before)
            after, _ = decode(result.after)
            click.echo(
                "".join(
                    difflib.unified_diff(
                        before.splitlines(keepends=True),
                        after.splitlines(keepends=True),
                        fromfile=result.display,
                        tofile=result.display,
                    )
                ),
                nl=False,
            )
            continue
        try:
            write_atomic(result.path, result.after)
        except OSError as error:
            click.echo(f"cannot write {result.display}: {error.strerror}; left unchanged", err=True)
            failed += 1
            continue
        for item in result.applied:
            click.echo(f"fixed {result.display}:{item.line}: {item.code} {item.title}", err=True)
    verb = "would be applied" if diff_only else "applied"
    click.echo(f"{applied} fix(es) {verb} in {changed - failed} file(s)", err=True)
    return -1 if failed else changed


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
        colour = terminal.colour(sys.stdout)
        for report in reports:
            if report.diagnostics:
                click.echo(render_text(report.diagnostics, report.text, report.path, colour))
        summary = _summary(reports)
        checked = f"{summary['files']} file(s)" if summary["files"] or not reports else "--expr"
        click.echo(
            f"{checked} checked: {summary['errors']} error(s), "
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
        "files": sum(1 for report in reports if report.path != EXPR),  # --expr is no file
        "errors": counts["error"],
        "warnings": counts["warning"],
        "infos": counts["info"],
    }


# --- eval ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormulaSource:
    """Where a formula's text comes from, so that its diagnostics name that file and point at
    the right line: --expr, a .calc file, or a property of a manifest (inline or in a file)."""

    path: str = EXPR
    manifest: Manifest | None = None
    prop: ManagedProperty | None = None

    def render(self, diagnostics: Sequence[Diagnostic], text: str, colour: bool) -> str:
        manifest, prop = self.manifest, self.prop
        if manifest is None or prop is None or prop.formula_file is not None:
            return render_text(diagnostics, text, self.path, colour)
        # An inline formula: spans into the formula become spans into the manifest's YAML.
        mapped = [
            dataclasses.replace(d, span=manifest.map_span(prop, d.span), fixes=(), related=())
            for d in diagnostics
        ]
        return render_text(mapped, manifest.text, self.path, colour)


@dataclass(frozen=True)
class Target(Formula):
    """One formula to evaluate (from --expr, a .calc file, or a manifest property) and where
    its text comes from, so that its diagnostics name that file."""

    source: FormulaSource = dataclasses.field(default_factory=lambda: FormulaSource())


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
    source: FormulaSource | None = None,
) -> CompiledFormula:
    checked = check(text, schema=schema, declared_type=declared, options=options)
    try:
        return CompiledFormula(checked, schema, context)
    except CompileError:
        source = source or FormulaSource()
        errors = [d for d in checked.diagnostics if d.is_error]
        click.echo(source.render(errors, text, terminal.colour(sys.stderr)), err=True)
        subject = "the formula" if source.prop is None else f"property {name}"
        click.echo(f"{source.path}: {subject} has errors; nothing was evaluated", err=True)
        sys.exit(EXIT_FOUND)


@main.command("eval")
@click.argument("path", required=False)
@click.option("--expr", "expression", help="Evaluate this formula.")
@click.option("--record", "record_json", help='One record as JSON: \'{"amount": "10"}\'.')
@click.option(
    "--records",
    "records_path",
    help="Records: HubSpot API JSON, NDJSON, CSV (internal names or labels) or Parquet; "
    "- reads standard input; with --engine spark, also a folder of part files.",
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
    "with --format csv, the compiled SQL on DuckDB (fast; says what can differ). spark: the "
    "compiled SQL on Spark (a file or a folder of part files; --output writes a folder). auto: "
    "the evaluator, DuckDB reading Parquet; every engine prints the same results.",
)
@click.option(
    "--spark-remote",
    metavar="sc://HOST:PORT",
    help="With --engine spark: a Spark Connect server instead of a local Spark session.",
)
@click.option(
    "--trace",
    "show_trace",
    is_flag=True,
    help="Show how each value comes about: the formula as a tree with each step's value, and "
    "why a result is blank (docs/debugging.md).",
)
@click.option(
    "--id", "record_ids", multiple=True, help="Only the record with this id (repeatable)."
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
    spark_remote: str | None = None,
    show_trace: bool = False,
    record_ids: tuple[str, ...] = (),
) -> None:
    """Evaluate a formula (.calc file, manifest, - for standard input, or --expr) against
    records."""
    if spark_remote is not None and engine != "spark":
        _fail("--spark-remote is for --engine spark")
    if show_trace or record_ids:
        if engine in ("duckdb", "spark"):
            _fail("--trace and --id evaluate record by record: use --engine python")
        if show_trace and output == "csv":
            _fail("--trace prints a tree: use --format table, json or ndjson")
        engine = "python"
    if (path is None) == (expression is None):
        _fail("give a PATH (.calc file or calcformula.yaml, - for standard input) or --expr")
    if record_json is not None and records_path is not None:
        _fail("give --record or --records, not both")
    if path == "-" and records_path == "-":
        _fail("standard input holds either the formula (-) or the records (--records -)")
    now = _parse_now(now_text)
    portal = _load_portal(portal_path) if portal_path else None
    try:
        source = _records_source(records_path, record_json, folders=engine == "spark")
        targets, schema, portal = _eval_targets(
            path, expression, schema_path, object_name, property_names, declared_type, now, portal
        )
    except (UsageError, BatchError) as error:
        _fail(str(error))
        raise  # pragma: no cover
    if show_trace:
        _eval_traced(targets, source, output, output_path, schema, record_ids)
    show = _ProgressLine() if source.path is not None and sys.stderr.isatty() else None
    try:
        summary = batch_run(
            list(targets),
            source,
            output=output,
            destination=output_path,
            engine=engine,
            schema=schema,
            portal=portal,
            now_ms=now,
            on_notice=lambda notice: _notice(notice, show),
            on_progress=show,
            only=set(record_ids) or None,
            spark_remote=spark_remote,
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
    missing = set(record_ids) - summary.ids
    if missing:
        click.echo(f"no record with id {', '.join(sorted(missing))}", err=True)
    click.echo(summary.line(), err=True)
    sys.exit(EXIT_FOUND if summary.skipped or missing else EXIT_OK)


def _eval_traced(
    targets: list[Target],
    source: Source,
    output: str,
    output_path: str | None,
    schema: Schema | None,
    record_ids: tuple[str, ...],
) -> None:
    """`eval --trace`: each record (or those of --id) as a tree of the formula's steps."""
    from calcformula.batch import records
    from calcformula.trace import write_traces

    rows = records(source, schema, read_names(targets), lambda n: click.echo(str(n), err=True))
    missing: set[str] = set()
    if record_ids:
        rows = _only_ids(rows, record_ids, missing)
    stream: IO[str] = sys.stdout
    if output_path is not None:
        stream = open(output_path, "w", encoding="utf-8", newline="")  # noqa: SIM115
    started = time.perf_counter()
    try:
        formulas = [(t.name, t.compiled.checked, t.compiled.context) for t in targets]
        colour = output_path is None and terminal.colour(sys.stdout)
        counts = write_traces(
            formulas, rows, output, stream, schema, colour, lambda m: click.echo(m, err=True)
        )
    finally:
        if output_path is not None:
            stream.close()
    if missing:
        click.echo(f"no record with id {', '.join(sorted(missing))}", err=True)
    click.echo(
        f"{counts.records} record(s): {counts.blank} blank, {counts.unknown} not evaluable, "
        f"{counts.unreadable} unreadable ({time.perf_counter() - started:.2f} s)",
        err=True,
    )
    sys.exit(EXIT_FOUND if counts.unreadable or missing else EXIT_OK)


def _only_ids(
    rows: Iterator[RecordRow | RecordProblem], wanted: tuple[str, ...], missing: set[str]
) -> Iterator[RecordRow | RecordProblem]:
    """The records named by --id (an id, or the line number of a record without one); the
    ids never seen stay in `missing`."""
    missing.update(wanted)
    for index, row in enumerate(rows, 1):
        if isinstance(row, RecordProblem):
            yield row
            continue
        line, identifier, _ = row
        record_id = identifier if identifier is not None else str(line or index)
        if record_id in wanted:
            missing.discard(record_id)
            yield row


def _records_source(
    records_path: str | None, record_json: str | None, folders: bool = False
) -> Source:
    if records_path == "-":
        return Source.from_stream(sys.stdin.buffer)
    if records_path is not None:
        if Path(records_path).is_dir():
            if not folders:
                raise UsageError(
                    f"{records_path}: a folder of part files is read by --engine spark"
                )
            return Source.from_path(records_path)
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
            text, display = expression, EXPR
        else:
            assert path is not None
            try:
                data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
                text, _ = decode(data)
            except OSError as error:
                raise UsageError(f"{path}: {error.strerror}") from None
            display = "<stdin>" if path == "-" else path
        source = FormulaSource(display)
        compiled = _compile_or_report(
            "value", text, schema, declared_type, context(portal), source=source
        )
        return [Target("value", compiled, source)], schema, portal
    assert path is not None
    from calcformula.manifest import load_manifest

    try:
        manifest = load_manifest(path)
    except OSError as error:
        raise UsageError(f"{path}: {error.strerror}") from None
    if not manifest.ok:
        errors = [d for d in manifest.diagnostics if d.is_error]
        click.echo(render_text(errors, manifest.text, path, terminal.colour(sys.stderr)), err=True)
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
    targets = []
    for p in selected:
        source = FormulaSource(str(p.formula_file or path), manifest, p)
        compiled = _compile_or_report(
            p.name, p.formula, schema, p.type, context(portal), p.option_values or None, source
        )
        targets.append(Target(p.name, compiled, source))
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
            shown = target.source.render(errors, checked.parse.text, terminal.colour(sys.stderr))
            click.echo(shown, err=True)
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
    standard output; a manifest formats the formula files it names). With no PATH, the
    current folder."""
    try:
        targets = collect(paths or (".",))
    except UsageError as error:
        _fail(str(error))
    _say_skipped(targets)
    problem = False
    files: list[str] = []
    for formula in targets.formulas:
        if formula.suffix != ".calc":
            # Only formula files are rewritten: a .calc file, or a file a manifest names.
            click.echo(f"{formula}: not a .calc file; left unchanged", err=True)
            problem = True
            continue
        files.append(str(formula))
    from calcformula.manifest import load_manifest

    for manifest_path in targets.manifests:
        try:
            manifest = load_manifest(manifest_path)
        except OSError as error:
            click.echo(f"{manifest_path}: {error.strerror}", err=True)
            problem = True
            continue
        refused = [d for d in manifest.diagnostics if d.code == codes.MANIFEST_OUTSIDE.code]
        if refused:
            click.echo(render_text(refused, manifest.text, str(manifest_path)), err=True)
            problem = True
        files.extend(str(p.formula_file) for p in manifest.properties if p.formula_file)
    if targets.stdin:
        files.append("-")
    changed = False
    for path in dict.fromkeys(files):
        outcome = _format_one(path, style, check_only, diff)
        changed = changed or outcome == "changed"
        problem = problem or outcome == "problem"
    if problem:
        sys.exit(EXIT_FOUND)
    sys.exit(EXIT_FOUND if changed and (check_only or diff) else EXIT_OK)


BOM = b"\xef\xbb\xbf"


def _format_one(path: str, style: str, check_only: bool, diff: bool) -> str:
    """Format one file: "changed", "unchanged" or "problem" (reported, file untouched)."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        click.echo(f"cannot read {path}: {error.strerror}", err=True)
        return "problem"
    text, undecodable = decode(data)
    if undecodable:
        # Rewriting would replace the bytes that cannot be decoded: never do that.
        click.echo(render_text(undecodable, text, path), err=True)
        click.echo(f"{path}: not valid UTF-8; left unchanged", err=True)
        return "problem"
    result = parse(text)
    if not result.ok:
        click.echo(render_text([d for d in result.diagnostics if d.is_error], text, path), err=True)
        return "problem"
    formatted = format_tree(result.tree, style) + "\n"  # type: ignore[arg-type]
    if "\r\n" in text and "\n" not in text.replace("\r\n", ""):
        formatted = formatted.replace("\n", "\r\n")  # keep the file's Windows line breaks
    if path == "-" and not (check_only or diff):
        click.echo(formatted, nl=False)
        return "unchanged"
    if formatted == text:
        return "unchanged"
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
        try:
            write_atomic(path, (BOM if data.startswith(BOM) else b"") + formatted.encode("utf-8"))
        except OSError as error:
            click.echo(f"cannot write {path}: {error.strerror}; left unchanged", err=True)
            return "problem"
        click.echo(f"reformatted {path}", err=True)
    return "changed"


@main.command()
@click.argument("code", required=False)
def explain(code: str | None) -> None:
    """Print the documentation of a diagnostic code (CF106, or its name else-with-endif);
    with no CODE, list every code with its severity and title."""
    if code is None:
        rows = [
            [c.code, c.severity.value, c.name, _first_sentence(c.summary)]
            for c in codes.CODES.values()
        ]
        write_table(sys.stdout, ["code", "severity", "name", "title"], rows)
        return
    by_name = {c.name: c for c in codes.CODES.values()}
    entry = codes.CODES.get(code.upper()) or by_name.get(code.lower())
    if entry is None:
        known = [*codes.CODES, *by_name]
        close = difflib.get_close_matches(code.upper(), known, n=3, cutoff=0.6)
        close += difflib.get_close_matches(code.lower(), known, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        _fail(f"unknown code {code}{hint} (`calcformula explain` lists every code)")
        return
    click.echo(f"{entry.code} {entry.name} ({entry.severity.value})\n")
    click.echo(entry.summary)
    click.echo(f"\nEvidence: {entry.evidence}")
    if entry.example.strip():
        click.echo(f"\nExample:\n    {entry.example}\n")
        for diagnostic in check(entry.example).diagnostics:
            if diagnostic.code == entry.code:
                click.echo(
                    render_text([diagnostic], entry.example, "example", terminal.colour(sys.stdout))
                )


def _first_sentence(text: str) -> str:
    """The first sentence of a summary: a title that fits one line of a listing."""
    for index, char in enumerate(text):
        if char in ".!?" and (index + 1 == len(text) or text[index + 1] == " "):
            return text[: index + 1]
    return text


@main.command()
@click.argument("name", required=False)
def functions(name: str | None) -> None:
    """List the functions, or show one."""
    if name is None:
        rows = [
            [function.family, function.signature, function.evidence.value]
            for function in sorted(REGISTRY.values(), key=lambda f: (f.family, f.name))
        ]
        write_table(sys.stdout, ["family", "signature", "evidence"], rows, cap=80)
        return
    entry = lookup(name)
    if entry is None:
        _fail(f"unknown function {name}{_did_you_mean(name)}")
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


def _did_you_mean(name: str) -> str:
    """`; did you mean x?` for an unknown function name: other languages' names (`ifnull`)
    first, then the closest registered names."""
    names = {**ALIASES, **{n: n for n in REGISTRY}}
    matches = difflib.get_close_matches(name.lower(), list(names), n=3, cutoff=0.6)
    close = list(dict.fromkeys(names[match] for match in matches))
    if not close:
        return " (`calcformula functions` lists them all)"
    return f"; did you mean {' or '.join(close)}?"


@main.command()
def lsp() -> None:
    """Run the language server over standard input and output (for editors)."""
    from calcformula_lsp.server import main as serve

    serve()


def run() -> None:
    """Entry point: unexpected failures become exit code 2 with one line, not a traceback."""
    from calcformula.render import RedactingStream, token_is_set

    if token_is_set():  # nothing the command prints may show the token (docs/cli.md)
        sys.stdout = RedactingStream(sys.stdout)
        sys.stderr = RedactingStream(sys.stderr)
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
