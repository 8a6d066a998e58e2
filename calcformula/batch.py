"""Evaluating formulas over many records: where the records come from, which engine computes
them, and the results in the output formats (table, csv, json, ndjson).

The `eval` command, `verify` and any other front end (the browser playground passes pasted
text) call this module; they only parse their options and print what it gives.

    formulas = [Formula("value", CompiledFormula(check("amount * 2")))]
    summary = run(formulas, Source.from_text("id,amount\\n1,5\\n"), output="csv",
                  stream=sys.stdout, on_notice=print)

One answer whatever the engine: the evaluator (Python) computes every value unless the DuckDB
engine is asked for by name and the output is CSV; then DuckDB computes the SQL translation
(calcformula.sql) and a warning says what can differ (decimal places, quotients). `auto` reads
Parquet with DuckDB and evaluates each record with the evaluator, so it prints the same bytes as
`python` for every input.
"""

from __future__ import annotations

import difflib
import io
import itertools
import json
import sys
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from calcformula.diagnostics import Diagnostic, Severity
from calcformula.evaluator import CompiledFormula, EvalContext, PortalContext
from calcformula.evaluator.reference import not_evaluable
from calcformula.evaluator.runtime import NotEvaluable
from calcformula.functions import Value
from calcformula.nodes import (
    Binary,
    BinaryOp,
    Call,
    Constant,
    ConstantName,
    Property,
    PropertyKind,
    walk,
)
from calcformula.records import (
    ID_HEADERS,
    Columns,
    Item,
    RecordProblem,
    RecordRow,
    is_binary,
    kind_of,
    parse_record_json,
    read_stream,
)
from calcformula.schema import Schema
from calcformula.tables import write_table
from calcformula.values import format_number, json_value

ENGINES = ("auto", "python", "duckdb", "spark")
FORMATS = ("table", "csv", "json", "ndjson")
# Properties whose values are pipeline stages: exports hold the stage's label, the API its id.
STAGE_PROPERTIES = ("dealstage", "hs_pipeline_stage")
# Functions whose DuckDB translation goes through double precision (docs/scale.md).
INEXACT_IN_SQL = frozenset({"sqrt", "power", "exp", "ln", "log", "log10", "average"})
PROGRESS_EVERY = 5_000


class BatchError(Exception):
    """The job cannot run (an unknown engine, a file the engine cannot read); the message says
    why and what to do instead."""


@dataclass(frozen=True)
class Formula:
    """One formula to evaluate, under the name its results are shown with."""

    name: str
    compiled: CompiledFormula


@dataclass(frozen=True)
class Notice:
    """Something the user should know about the records or the engine (never per value)."""

    severity: Severity
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{self.severity.value}: {where}{self.message}"


@dataclass(frozen=True)
class Progress:
    records: int
    done_bytes: int
    total_bytes: int | None
    seconds: float


@dataclass
class Source:
    """Records to evaluate: a file, a binary stream (standard input), text, one JSON record,
    or none (a formula that reads no record). `kind`: csv, ndjson, json or parquet (None: from
    the file's suffix, else from its first bytes)."""

    label: str
    path: Path | None = None
    stream: IO[bytes] | None = None
    text: str | None = None
    record: str | None = None
    kind: str | None = None

    @classmethod
    def from_path(cls, path: str | Path, kind: str | None = None) -> Source:
        return cls(str(path), path=Path(path), kind=kind or kind_of(path))

    @classmethod
    def from_stream(
        cls, stream: IO[bytes], label: str = "<stdin>", kind: str | None = None
    ) -> Source:
        return cls(label, stream=stream, kind=kind)

    @classmethod
    def from_text(cls, text: str, label: str = "<records>", kind: str | None = None) -> Source:
        return cls(label, text=text, kind=kind)

    @classmethod
    def from_record(cls, json_text: str) -> Source:
        """One record as JSON (`{"amount": "10"}`); `BatchError` if it is not one record."""
        item = parse_record_json(json_text)
        if isinstance(item, RecordProblem):
            raise BatchError(f"--record is not one JSON record: {item.message}")
        return cls("--record", record=json_text)

    @classmethod
    def empty(cls) -> Source:
        return cls("<none>")

    @property
    def is_file(self) -> bool:
        return self.path is not None

    def size(self) -> int | None:
        if self.path is not None:
            return self.path.stat().st_size
        if self.text is not None:
            return len(self.text.encode("utf-8"))
        return None


@dataclass
class Summary:
    """What a run did. `skipped`: records that could not be read (each reported with its
    line); `unreadable_values`: values that could not be read as their type (CF506), which the
    formula saw as blank; `blank`: results that are blank."""

    records: int = 0
    blank: int = 0
    not_evaluable: int = 0
    unreadable_values: int = 0
    skipped: int = 0
    engine: str = "python"
    seconds: float = 0.0
    ids: set[str] = field(default_factory=set)  # with `only`: the ids that were found

    def as_json(self) -> dict[str, int]:
        # No time here: the printed results are the same bytes on every run and engine.
        return {
            "records": self.records,
            "blank": self.blank,
            "not_evaluable": self.not_evaluable,
            "unreadable_values": self.unreadable_values,
            "skipped": self.skipped,
        }

    def line(self) -> str:
        if self.engine in ("sql", "spark"):  # SQL gives values only, no count of unreadable
            name = "DuckDB" if self.engine == "sql" else "Spark"
            return (
                f"{self.records} record(s): {self.blank} blank, {self.skipped} skipped "
                f"({self.seconds:.2f} s, {name} engine: unreadable values are blank, not counted)"
            )
        return (
            f"{self.records} record(s): {self.blank} blank, {self.not_evaluable} not evaluable, "
            f"{self.unreadable_values} unreadable value(s), {self.skipped} skipped "
            f"({self.seconds:.2f} s)"
        )


Result = tuple[Value, bool, tuple[Diagnostic, ...]]
Notify = Callable[[Notice], None]


def _ignore(_: Any) -> None:
    return None


# --- what the formulas read ------------------------------------------------------------------


def read_names(formulas: Iterable[Formula]) -> set[str]:
    """The record keys the formulas read (CSV rows keep only these columns)."""
    names: set[str] = set()
    for formula in formulas:
        for node in walk(formula.compiled.checked.tree):
            if isinstance(node, Property):
                timestamp = node.kind is PropertyKind.TIMESTAMP
                names.add(f"timestamp({node.name})" if timestamp else node.name)
    return names


def _plain_names(formulas: Iterable[Formula]) -> set[str]:
    return {name for name in read_names(formulas) if not name.startswith("timestamp(")}


def missing_columns(
    wanted: set[str], columns: Columns, schema: Schema | None, label: str
) -> list[Notice]:
    """A warning per property the formulas read that no column holds (with the closest
    column), and a hint to pass a schema when the headers are HubSpot export labels."""
    present = {name for name in columns.names if name}
    missing = sorted(wanted - present)
    if not missing:
        return []
    notices: list[Notice] = []
    candidates = sorted(present)
    for name in missing:
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        notices.append(
            Notice(
                Severity.WARNING,
                f"`{name}` is not a column of {label}{hint}; the formula sees a blank for it "
                "in every record",
            )
        )
    labels = [
        h for h in columns.headers if h.strip().lower() not in ID_HEADERS and _looks_like_label(h)
    ]
    if schema is None and labels:
        shown = ", ".join(f"`{h}`" for h in labels[:3])
        notices.append(
            Notice(
                Severity.WARNING,
                f"the headers of {label} look like HubSpot export labels ({shown}); pass the "
                "object's schema (--schema) so that labels are read as internal names",
            )
        )
    return notices


def _looks_like_label(header: str) -> bool:
    # Internal names are lower-case with underscores; export labels have capitals and spaces.
    text = header.strip()
    return text != text.lower() or " " in text


def _missing_keys(wanted: set[str], seen: set[str], sample: set[str], label: str) -> list[Notice]:
    notices = []
    for name in sorted(wanted - seen):
        close = difflib.get_close_matches(name, sorted(sample), n=1, cutoff=0.6)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        notices.append(
            Notice(
                Severity.WARNING,
                f"no record of {label} has `{name}`{hint}; the formula saw a blank for it",
            )
        )
    return notices


# --- deal stages -----------------------------------------------------------------------------


def stage_labels(portal: PortalContext | None) -> dict[str, str]:
    """Lower-cased stage labels to stage ids, for labels that name one stage only."""
    if portal is None:
        return {}
    found: dict[str, set[str]] = {}
    for stage in portal.stages.values():
        found.setdefault(stage.label.strip().lower(), set()).add(stage.id)
    ids = set(portal.stages)
    return {
        label: next(iter(stage_ids))
        for label, stage_ids in found.items()
        if len(stage_ids) == 1 and label not in ids
    }


class _StageMapper:
    """Replaces stage labels (`Contract sent`) with the portal's stage ids (`contractsent`)."""

    def __init__(self, labels: dict[str, str], wanted: set[str], notify: Notify) -> None:
        self.labels = labels
        self.names = [name for name in STAGE_PROPERTIES if name in wanted] if labels else []
        self.notify = notify
        self.said = False

    def __call__(self, properties: dict[str, object]) -> None:
        for name in self.names:
            value = properties.get(name)
            if value.__class__ is str:
                stage = self.labels.get(str(value).strip().lower())
                if stage is not None:
                    properties[name] = stage
                    if not self.said:
                        self.said = True
                        self.notify(
                            Notice(
                                Severity.INFO,
                                f"`{name}` holds stage labels (`{value}`); they are read as "
                                f"the portal context's stage ids (`{stage}`)",
                            )
                        )


# --- reading ---------------------------------------------------------------------------------


class _Counter(io.RawIOBase):
    """Counts bytes read from a binary stream (for progress)."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__()
        self.stream = stream
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.stream.readinto(buffer)  # type: ignore[attr-defined]
        self.count += n or 0
        return n  # type: ignore[no-any-return]

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        return data


def records(
    source: Source,
    schema: Schema | None = None,
    wanted: Collection[str] = (),
    on_notice: Notify = _ignore,
) -> Iterator[Item]:
    """The records of a source one by one (a `RecordProblem` for one that cannot be read),
    for front ends that evaluate record by record themselves (`eval --trace`)."""
    return _items(source, schema, set(wanted), on_notice, [])


def _items(
    source: Source, schema: Schema | None, wanted: set[str], notify: Notify, counter: list[Any]
) -> Iterator[Item]:
    """The records of a source, read by the Python reader (Parquet by DuckDB)."""
    if source.record is not None:
        yield parse_record_json(source.record)
        return
    if source.path is None and source.stream is None and source.text is None:
        yield RecordRow(0, None, {})
        return
    if source.kind == "parquet":
        yield from _parquet_items(source, schema, wanted, notify)
        return

    def on_columns(columns: Columns) -> None:
        for notice in missing_columns(_bare(wanted), columns, schema, source.label):
            notify(notice)

    def counted(raw: IO[bytes]) -> Iterator[Item]:
        counting = _Counter(raw)
        counter.append(counting)
        yield from read_stream(io.BufferedReader(counting), source.kind, schema, wanted, on_columns)

    if source.path is not None:
        with source.path.open("rb") as raw:
            yield from counted(raw)
        return
    yield from counted(
        source.stream
        if source.stream is not None
        else io.BytesIO((source.text or "").encode("utf-8"))
    )


def _bare(wanted: set[str]) -> set[str]:
    return {name for name in wanted if not name.startswith("timestamp(")}


def _parquet_items(
    source: Source, schema: Schema | None, wanted: set[str], notify: Notify
) -> Iterator[Item]:
    from calcformula import duckdb_engine

    assert source.path is not None
    try:
        reader = duckdb_engine.RecordReader(source.path, schema, sorted(_bare(wanted)))
    except duckdb_engine.EngineError as error:
        raise BatchError(str(error)) from None
    try:
        for notice in missing_columns(_bare(wanted), reader.columns, schema, source.label):
            notify(notice)
        yield from reader.rows()
    except duckdb_engine.EngineError as error:
        raise BatchError(str(error)) from None
    finally:
        reader.close()


# --- evaluating ------------------------------------------------------------------------------


def evaluate(
    formulas: list[Formula],
    source: Source,
    schema: Schema | None = None,
    portal: PortalContext | None = None,
    summary: Summary | None = None,
    on_notice: Notify = _ignore,
    on_progress: Callable[[Progress], None] | None = None,
    only: Collection[str] | None = None,
) -> Iterator[tuple[str, list[Result]]]:
    """Each record's id and results (value, evaluable, diagnostics), by the evaluator.
    Records that cannot be read are reported through `on_notice` and counted in `summary`.
    `only` keeps the records with these ids (a record without one: its line number)."""
    counts = summary if summary is not None else Summary()
    wanted = read_names(formulas)
    functions = [formula.compiled.function for formula in formulas]
    stages = _StageMapper(stage_labels(portal), wanted, on_notice)
    staged = bool(stages.names)
    counter: list[Any] = []
    total = source.size()
    started = time.perf_counter()
    plain = _plain_names(formulas)
    json_source = source.kind in ("json", "ndjson") or (
        source.kind is None and source.record is None
    )
    seen: set[str] = set()
    sample: set[str] = set()
    unseen = set(plain) if json_source else set()
    single = functions[0] if len(functions) == 1 else None
    sink: list[Diagnostic] = []
    records = blank = 0
    try:
        for row in _items(source, schema, wanted, on_notice, counter):
            if row.__class__ is RecordProblem:
                counts.skipped += 1
                problem: RecordProblem = row
                on_notice(
                    Notice(Severity.WARNING, f"{problem.message}; record skipped", problem.line)
                )
                continue
            line, identifier, properties = row  # type: ignore[misc]
            records += 1
            if unseen:
                found = unseen & properties.keys()
                if found:
                    unseen -= found
                    seen |= found
                if len(sample) < 200:
                    sample.update(properties.keys())
            if staged:
                stages(properties)
            record_id = identifier if identifier is not None else str(line or records)
            if only is not None:
                if record_id not in only:
                    records -= 1
                    continue
                counts.ids.add(record_id)
            if on_progress is not None and records % PROGRESS_EVERY == 0:
                done = counter[0].count if counter else 0
                on_progress(Progress(records, done, total, time.perf_counter() - started))
            if single is not None:
                # One formula (the common case): no list of sinks, one tuple per record, and
                # one diagnostics list for all the records that report nothing.
                try:
                    value = single(properties, sink)
                except NotEvaluable as error:
                    counts.not_evaluable += 1
                    yield record_id, [(None, False, not_evaluable(error, sink, None).diagnostics)]
                    sink = []
                    continue
                if value is None:
                    blank += 1
                if sink:
                    counts.unreadable_values += sum(1 for d in sink if d.code == "CF506")
                    yield record_id, [(value, True, tuple(sink))]
                    sink = []
                else:
                    yield record_id, [(value, True, ())]
                continue
            results: list[Result] = []
            for function in functions:
                sink = []
                try:
                    value = function(properties, sink)
                except NotEvaluable as error:
                    counts.not_evaluable += 1
                    results.append((None, False, not_evaluable(error, sink, None).diagnostics))
                    continue
                if value is None:
                    blank += 1
                if sink:
                    counts.unreadable_values += sum(1 for d in sink if d.code == "CF506")
                    results.append((value, True, tuple(sink)))
                else:
                    results.append((value, True, ()))
            yield record_id, results
    finally:
        counts.records += records
        counts.blank += blank
    # Only a JSON source with records says which keys exist (a CSV says it in its header).
    if unseen and records and source.record is None and _has_records_file(source):
        for notice in _missing_keys(unseen, seen, sample, source.label):
            on_notice(notice)


def _has_records_file(source: Source) -> bool:
    return source.path is not None or source.stream is not None or source.text is not None


# --- choosing the engine ---------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """`python`: the evaluator computes every value (Parquet is read by DuckDB). `sql`: DuckDB
    computes the formulas' SQL over the file and the output is CSV."""

    engine: str
    notices: tuple[Notice, ...] = ()


def choose_engine(requested: str, formulas: list[Formula], source: Source, output: str) -> Choice:
    """Which engine computes the values. Only an explicit `duckdb` with CSV output computes in
    SQL: the other formats carry per-record diagnostics, which only the evaluator gives, and
    `auto` never picks an engine whose numbers can differ."""
    if requested not in ENGINES:
        raise BatchError(f"unknown engine {requested!r}; choose one of {', '.join(ENGINES)}")
    if output not in FORMATS:
        raise BatchError(f"unknown format {output!r}; choose one of {', '.join(FORMATS)}")
    if requested == "spark":
        # Only when asked for: Spark computes in SQL, with the limits docs/scale.md states.
        if source.path is None:
            raise BatchError(
                "--engine spark evaluates records: give --records (a file or a folder)"
            )
        return Choice("spark")
    if requested != "duckdb":
        if requested == "python" and source.kind == "parquet":
            raise BatchError(
                f"{source.label}: Parquet is read by the DuckDB engine (--engine duckdb)"
            )
        return Choice("python")
    if source.path is None:
        raise BatchError("--engine duckdb evaluates a file of records: give --records FILE")
    from calcformula import duckdb_engine

    if not duckdb_engine.available():
        raise BatchError(
            "the DuckDB engine needs the duckdb package: pip install 'calcformula[duckdb]'"
        )
    if duckdb_engine.input_kind(source.path) is None and source.kind not in (
        "csv",
        "ndjson",
        "parquet",
    ):
        raise BatchError(
            f"{source.label}: the DuckDB engine reads .csv, .ndjson/.jsonl and .parquet files"
        )
    if output != "csv":
        return Choice(
            "python",
            (
                Notice(
                    Severity.INFO,
                    f"--format {output} carries per-record diagnostics, which the evaluator "
                    "gives: each record is evaluated as with --engine python (the DuckDB "
                    "engine computes in SQL for --format csv)",
                ),
            ),
        )
    return Choice("sql", tuple(sql_differences(formulas)))


def sql_differences(formulas: list[Formula]) -> list[Notice]:
    """What the DuckDB engine's SQL can compute differently from the evaluator, per formula."""
    notices = []
    for formula in formulas:
        reasons = []
        numbers = quotients = False
        for node in walk(formula.compiled.checked.tree):
            if (
                (isinstance(node, Binary) and node.op is BinaryOp.DIV)
                or (isinstance(node, Call) and node.name.lower() in INEXACT_IN_SQL)
                or (isinstance(node, Constant) and node.name is ConstantName.E)
            ):
                quotients = True
            elif isinstance(node, Property) and node.kind is PropertyKind.NUMBER:
                numbers = True
        if quotients:
            reasons.append(
                "quotients (and sqrt, power, logarithms) are computed in double precision "
                "then kept to 10 decimals, where the evaluator keeps 34 significant digits"
            )
        if numbers:
            reasons.append(
                "numbers are DECIMAL(38,10): a value or product with more than 10 decimals "
                "is rounded, and one with more than 28 integer digits is blank"
            )
        if reasons:
            notices.append(
                Notice(
                    Severity.WARNING,
                    f"{formula.name}: the DuckDB engine can differ from --engine python here: "
                    + "; ".join(reasons),
                )
            )
    return notices


# --- writing ---------------------------------------------------------------------------------


def plain(value: Value) -> str:
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
    return "(blank)" if value is None else plain(value)


def csv_cell(text: str) -> str:
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _diagnostics_json(diagnostics: tuple[Diagnostic, ...]) -> str:
    return json.dumps(
        [{"code": d.code, "severity": d.severity.value, "message": d.message} for d in diagnostics],
        ensure_ascii=False,
    )


def write_results(
    formulas: list[Formula],
    results: Iterator[tuple[str, list[Result]]],
    output: str,
    stream: IO[str],
    summary: Summary,
) -> None:
    """Results in an output format. The bytes depend on the results only (never on time or
    engine), so every engine prints the same."""
    table: list[list[str]] = []
    json_items: list[str] = []
    several = len(formulas) > 1
    write = stream.write
    if output == "csv":
        write("id," + ",".join(csv_cell(f.name) for f in formulas) + "\n")
        if len(formulas) == 1:
            _write_one_csv(results, write)
            results = iter(())
    for record_id, values in results:
        if output == "csv":
            cells = ",".join(csv_cell(plain(v)) if known else "" for v, known, _ in values)
            write(f"{csv_cell(record_id)},{cells}\n")
        elif output in ("ndjson", "json"):
            for formula, (value, evaluable, diagnostics) in zip(formulas, values, strict=True):
                item = (
                    f'{{"id": {json.dumps(record_id)}, '
                    + (f'"property": {json.dumps(formula.name)}, ' if several else "")
                    + f'"value": {json_value(value)}, '
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
    if output == "json":
        write(
            '{"results": ['
            + ",\n".join(json_items)
            + '],\n"summary": '
            + json.dumps(summary.as_json())
            + "}\n"
        )
    elif output == "table":
        write_table(stream, ["id", *(f.name for f in formulas), "diagnostics"], table)


def _write_one_csv(
    results: Iterator[tuple[str, list[Result]]], write: Callable[[str], Any]
) -> None:
    """CSV of one formula: the loop of `write_results` without its per-cell generator (this is
    the path of exports with millions of records)."""
    special = (",", '"', "\n", "\r")
    for record_id, ((value, known, _),) in results:
        if value is None or not known:
            cell = ""
        elif value.__class__ is Decimal:
            # format_number's common case inline: a nonzero finite number whose str() is
            # plain, with trailing zeros to drop.
            cell = str(value)
            if "E" in cell or not value.is_finite() or not value:
                cell = format_number(value)
            elif cell[-1] == "0" and "." in cell:
                cell = cell.rstrip("0").rstrip(".")
        elif value is True or value is False:
            cell = "true" if value else "false"
        else:
            cell = value  # type: ignore[assignment]
            if any(c in cell for c in special):
                cell = csv_cell(cell)
        if not record_id.isalnum():
            record_id = csv_cell(record_id)
        write(f"{record_id},{cell}\n")


# --- one job ---------------------------------------------------------------------------------


def run(
    formulas: list[Formula],
    source: Source,
    *,
    output: str = "table",
    stream: IO[str] | None = None,
    destination: str | None = None,
    engine: str = "auto",
    schema: Schema | None = None,
    portal: PortalContext | None = None,
    now_ms: int | None = None,
    on_notice: Notify = _ignore,
    on_progress: Callable[[Progress], None] | None = None,
    only: Collection[str] | None = None,
    spark_remote: str | None = None,
) -> Summary:
    """Evaluate `formulas` over `source` and write the results to `stream` (or the file
    `destination`). Raises `BatchError` when the job cannot run."""
    started = time.perf_counter()
    if only is not None:
        engine = "python"  # picking records by id is the evaluator's
    choice = choose_engine(engine, formulas, source, output)
    for notice in choice.notices:
        on_notice(notice)
    if choice.engine == "spark":
        summary = _run_spark(
            formulas, source, output, stream, destination, schema, portal, now_ms, spark_remote,
            on_notice,
        )  # fmt: skip
    elif choice.engine == "sql":
        summary = _run_sql(formulas, source, stream, destination, schema, portal, now_ms, on_notice)
    else:
        summary = Summary()
        results = evaluate(formulas, source, schema, portal, summary, on_notice, on_progress, only)
        _to(
            destination,
            stream,
            lambda target: write_results(formulas, results, output, target, summary),
        )
    summary.seconds = time.perf_counter() - started
    return summary


def _to(destination: str | None, stream: IO[str] | None, write: Callable[[IO[str]], None]) -> None:
    if destination is None:
        write(stream if stream is not None else sys.stdout)
        return
    with open(destination, "w", encoding="utf-8", newline="") as target:
        write(target)


def _run_sql(
    formulas: list[Formula],
    source: Source,
    stream: IO[str] | None,
    destination: str | None,
    schema: Schema | None,
    portal: PortalContext | None,
    now_ms: int | None,
    on_notice: Notify,
) -> Summary:
    from calcformula import duckdb_engine

    assert source.path is not None
    summary = Summary(engine="sql")
    checked = [(f.name, f.compiled.checked) for f in formulas]
    moment = now_ms if now_ms is not None else EvalContext().now_ms
    with source.path.open("rb") as head:
        if is_binary(head.read(8192)) and source.kind != "parquet":
            summary.skipped = 1
            on_notice(Notice(Severity.WARNING, "this is a binary file, not CSV or NDJSON text", 1))
            if destination is not None or stream is not None:
                header = "id," + ",".join(csv_cell(name) for name, _ in checked) + "\n"

                def write_header(target: IO[str]) -> None:
                    target.write(header)

                _to(destination, stream, write_header)
            return summary
    try:
        job = duckdb_engine.DuckDBEngine(checked, source.path, schema, moment, stage_labels(portal))
    except duckdb_engine.EngineError as error:
        raise BatchError(str(error)) from None
    try:
        if not job.ok:
            raise SqlRefused.of(job.formulas)
        wanted = _plain_names(formulas)
        if job.columns is not None:
            for notice in missing_columns(wanted, job.columns, schema, source.label):
                on_notice(notice)
        if destination is not None:
            found = job.write("csv", destination)
            summary.records, summary.blank = found.records, found.blank
            problems = found.problems
        else:
            problems = []

            rows = job.rows(output="csv")  # the text COPY writes: one answer
            # The query runs before anything is written: a file DuckDB stops on is
            # evaluated again by the evaluator without a half-written output.
            first = list(itertools.islice(rows, 1))

            def results() -> Iterator[tuple[str, list[Result]]]:
                for record_id, values in itertools.chain(first, rows):
                    summary.records += 1
                    summary.blank += sum(1 for value in values if value is None)
                    yield record_id, [(value, True, ()) for value in values]
                problems.extend(job.problems())

            write_results(formulas, results(), "csv", stream or sys.stdout, summary)
        for problem in problems:
            on_notice(Notice(Severity.WARNING, f"{problem.message}; record skipped", problem.line))
        summary.skipped = len(problems)
    except duckdb_engine.EngineError as error:
        if source.kind != "ndjson" or (destination is None and summary.records):
            raise BatchError(str(error)) from None
        # DuckDB stops at a malformed NDJSON line; the evaluator skips it and goes on.
        on_notice(
            Notice(
                Severity.WARNING,
                f"{error}; the evaluator evaluates {source.label} instead",
            )
        )
        summary = Summary()
        again = evaluate(formulas, source, schema, portal, summary, on_notice)
        _to(destination, stream, lambda t: write_results(formulas, again, "csv", t, summary))
    finally:
        job.close()
    return summary


def _run_spark(
    formulas: list[Formula],
    source: Source,
    output: str,
    stream: IO[str] | None,
    destination: str | None,
    schema: Schema | None,
    portal: PortalContext | None,
    now_ms: int | None,
    remote: str | None,
    on_notice: Notify,
) -> Summary:
    """`--engine spark`: Spark reads the file (or folder of part files) and computes the
    formulas' SQL. With a destination and CSV (or NDJSON of one formula) Spark writes a folder
    of part files itself; otherwise the rows come back in order, in every format."""
    from calcformula import spark_engine

    assert source.path is not None
    if not spark_engine.available():
        raise BatchError(f"--engine spark: {spark_engine.INSTALL_HINT}")
    summary = Summary(engine="spark")
    checked = [(f.name, f.compiled.checked) for f in formulas]
    moment = now_ms if now_ms is not None else EvalContext().now_ms
    try:
        job = spark_engine.SparkEngine(
            checked, str(source.path), schema, moment, remote=remote, portal=portal
        )
    except spark_engine.EngineError as error:
        raise BatchError(str(error)) from None
    try:
        if not job.ok:
            raise SqlRefused.of(job.formulas, "Spark")
        if destination is not None and (
            output == "csv" or (output == "ndjson" and len(formulas) == 1)
        ):
            found = job.write(output, destination)
            summary.records, summary.blank = found.records, found.blank
            problems = found.problems
        else:
            problems = []

            def results() -> Iterator[tuple[str, list[Result]]]:
                for record_id, values in job.rows():
                    summary.records += 1
                    summary.blank += sum(1 for value in values if value is None)
                    yield record_id, [(value, True, ()) for value in values]
                problems.extend(job.problems())

            _to(
                destination,
                stream,
                lambda t: write_results(formulas, results(), output, t, summary),
            )
        for problem in problems:
            on_notice(Notice(Severity.WARNING, f"{problem.message}; record skipped", problem.line))
        summary.skipped = len(problems)
    except spark_engine.EngineError as error:
        raise BatchError(str(error)) from None
    finally:
        job.close()
    return summary


class SqlRefused(BatchError):
    """An SQL engine cannot translate these formulas (CF701); `diagnostics` say where."""

    def __init__(
        self, diagnostics: dict[str, tuple[Diagnostic, ...]], engine: str = "DuckDB"
    ) -> None:
        super().__init__(f"the {engine} engine cannot evaluate these formulas; use --engine python")
        self.diagnostics = diagnostics

    @classmethod
    def of(cls, formulas: Iterable[tuple[str, Any]], engine: str = "DuckDB") -> SqlRefused:
        """The refusal for an engine's compiled formulas: each one's errors, by name."""
        return cls(
            {name: tuple(d for d in sql.diagnostics if d.is_error) for name, sql in formulas},
            engine,
        )


__all__ = [
    "ENGINES",
    "FORMATS",
    "BatchError",
    "Choice",
    "Formula",
    "Notice",
    "Progress",
    "Source",
    "SqlRefused",
    "Summary",
    "choose_engine",
    "evaluate",
    "read_names",
    "run",
    "write_results",
]
