"""Evaluates formulas over record files of any size with DuckDB, running their compiled SQL,
and reads Parquet files for the evaluator (`RecordReader`).

With `DuckDBEngine` the records never pass through Python one by one: DuckDB reads the CSV,
NDJSON or Parquet file in parallel, computes every formula (calcformula.sql, dialect `duckdb`)
and, for file output, writes the results itself. What differs from the evaluator is written in
docs/scale.md and said by `calcformula.batch.sql_differences`: numbers are DECIMAL(38,10), and
per-record diagnostics (division by zero, unreadable values) are not reported, only values.
A file name is always read literally, never as a glob pattern.
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlglot import exp

from calcformula.checker import CheckResult
from calcformula.diagnostics import Diagnostic
from calcformula.functions import Type, Value
from calcformula.records import Columns, RecordRow, resolve_headers
from calcformula.schema import Schema
from calcformula.sql import Column, ColumnType, SqlFormula, compile_sql

MEMORY_LIMIT = "1GB"
SUFFIXES = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson", ".parquet": "parquet"}


class EngineError(Exception):
    """The engine cannot run this job; the message says why and what to do instead."""


def available() -> bool:
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return False
    return True


def input_kind(path: str | Path) -> str | None:
    """csv, ndjson or parquet for a file the engine reads, else None."""
    return SUFFIXES.get(Path(path).suffix.lower())


@dataclass
class Problem:
    line: int
    message: str


@dataclass
class Source:
    """A record file as DuckDB reads it: the FROM clause, property columns, the id."""

    relation: str
    columns: dict[str, Column]
    id_expression: exp.Expr
    rejects: bool = False  # CSV: rejected lines are kept in DuckDB's reject tables
    not_objects: str | None = None  # NDJSON: the query finding lines that are not objects
    header: Columns | None = None  # CSV and Parquet: the columns the file has


@dataclass
class Run:
    """The outcome of one evaluation: rows (when not written by DuckDB) and counts."""

    records: int = 0
    blank: int = 0
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0


GLOB_CHARACTERS = frozenset("*?[]{}")


class _LiteralPath:
    """A path DuckDB reads as exactly that file: DuckDB expands `*`, `?`, `[...]` and `{...}`
    in file names, so a name holding them is read through a link with a plain name."""

    def __init__(self, path: Path) -> None:
        self.folder: tempfile.TemporaryDirectory[str] | None = None
        resolved = path.resolve()
        if GLOB_CHARACTERS & set(str(resolved)):
            self.folder = tempfile.TemporaryDirectory(prefix="calcformula-")
            link = Path(self.folder.name) / f"records{path.suffix.lower()}"
            os.symlink(resolved, link)
            resolved = link
        self.text = str(resolved)

    def close(self) -> None:
        if self.folder is not None:
            self.folder.cleanup()


def _literal(text: str) -> str:
    return exp.Literal.string(text).sql(dialect="duckdb")


def _identifier(name: str) -> exp.Expr:
    return exp.column(name, quoted=True)


def _csv_source(path: Path, schema: Schema | None, literal: str) -> Source:
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as stream:
        try:
            headers = next(csv.reader(stream))
        except StopIteration:
            raise EngineError(f"{path}: the file is empty") from None
        except csv.Error as error:
            raise EngineError(f"{path}: the header row cannot be read: {error}") from None
    names, id_column = resolve_headers(headers, schema)
    positions = [f"c{i}" for i in range(len(headers))]
    types = "{" + ", ".join(f"{_literal(p)}: 'VARCHAR'" for p in positions) + "}"
    relation = (
        f"read_csv({_literal(literal)}, header = true, auto_detect = false, "
        f"delim = ',', quote = '\"', escape = '\"', columns = {types}, "
        "store_rejects = true)"
    )
    columns = {name: Column(_identifier(positions[i])) for i, name in enumerate(names) if name}
    identifier: exp.Expr = (
        _identifier(positions[id_column]) if id_column >= 0 else _row_number(offset=1)
    )
    source = Source(relation, columns, identifier, rejects=True)
    source.header = Columns(headers, names)
    return source


def _row_number(offset: int = 0) -> exp.Expr:
    number = exp.Window(this=exp.RowNumber())
    if offset:
        number = exp.Add(this=number, expression=exp.Literal.number(offset))  # type: ignore[assignment]
    return exp.Cast(this=number, to=exp.DataType.build("VARCHAR"))


_TYPES = {
    "BOOLEAN": ColumnType.BOOLEAN,
    "DATE": ColumnType.DATE,
    "VARCHAR": ColumnType.TEXT,
}


def _column_type(sql_type: str) -> ColumnType | None:
    upper = sql_type.upper()
    if upper in _TYPES:
        return _TYPES[upper]
    if upper.startswith("TIMESTAMP"):
        return ColumnType.TIMESTAMP
    numeric = ("DECIMAL", "DOUBLE", "FLOAT", "REAL", "INTEGER", "BIGINT", "SMALLINT", "TINYINT")
    if upper.startswith(numeric) or upper in ("HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT"):
        return ColumnType.NUMBER
    return None


def _parquet_source(connection: Any, literal: str, schema: Schema | None) -> Source:
    relation = f"read_parquet({_literal(literal)})"
    described = connection.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    headers = [str(row[0]) for row in described]
    names, id_column = resolve_headers(headers, schema)
    columns: dict[str, Column] = {}
    for (header, sql_type, *_), name in zip(described, names, strict=True):
        if not name:
            continue
        kind = _column_type(str(sql_type))
        reference = _identifier(str(header))
        if kind is None:  # lists, structs, blobs: read as text, like a CSV cell
            reference = exp.Cast(this=reference, to=exp.DataType.build("VARCHAR"))
            kind = ColumnType.TEXT
        columns[name] = Column(reference, kind)
    identifier: exp.Expr = (
        exp.Cast(this=_identifier(headers[id_column]), to=exp.DataType.build("VARCHAR"))
        if id_column >= 0
        else _row_number()
    )
    source = Source(relation, columns, identifier)
    source.header = Columns(headers, names)
    return source


def _json_text(path: str) -> exp.Expr:
    return exp.Anonymous(
        this="JSON_EXTRACT_STRING", expressions=[_identifier("json"), exp.Literal.string(path)]
    )


def _ndjson_source(literal: str, wanted: Sequence[str]) -> Source:
    relation = (
        f"read_ndjson_objects({_literal(literal)}, format = 'newline_delimited', "
        "ignore_errors = false)"
    )
    has_properties = exp.Anonymous(
        this="JSON_EXISTS", expressions=[_identifier("json"), exp.Literal.string("$.properties")]
    )

    def value(name: str) -> exp.Expr:
        # HubSpot's shape ({"id", "properties": {...}}) or a flat object, as records.py reads.
        quoted = name.replace('"', "")
        return exp.Case(
            ifs=[exp.If(this=has_properties.copy(), true=_json_text(f'$.properties."{quoted}"'))],
            default=_json_text(f'$."{quoted}"'),
        )

    identifier = exp.Coalesce(
        this=_json_text("$.id"),
        expressions=[
            _json_text("$.properties.hs_object_id"),
            _json_text("$.hs_object_id"),
            exp.Cast(this=_identifier("__line"), to=exp.DataType.build("VARCHAR")),
        ],
    )
    checked = (
        f"(SELECT __line, json, {_ndjson_problem()} AS __problem FROM "
        f"(SELECT row_number() OVER () AS __line, json FROM {relation}))"
    )
    objects = f"(SELECT __line, json FROM {checked} WHERE __problem IS NULL)"
    source = Source(objects, {name: Column(value(name)) for name in wanted}, identifier)
    source.not_objects = (
        f"SELECT __line, __problem FROM {checked} WHERE __problem IS NOT NULL ORDER BY __line"
    )
    return source


def _ndjson_problem() -> str:
    """Why records.py would not read a line as a record (NULL: it would). The precise checks
    walk every value, so they run only on lines where a cheap test says they may apply."""
    from calcformula.records import MAX_LINE_BYTES, MAX_NUMBER_DIGITS

    text = "CAST(json AS VARCHAR)"

    def any_value(condition: str) -> str:
        each = (
            f"list_bool_or(list_transform(json_extract(json, '{{path}}'), lambda x: {condition}))"
        )
        inner, flat = each.format(path="$.properties.*"), each.format(path="$.*")
        return f"CASE WHEN json_exists(json, '$.properties') THEN {inner} ELSE {flat} END"

    nested = any_value("json_type(x) IN ('OBJECT', 'ARRAY')")
    long_number = any_value(
        "json_type(x) IN ('UBIGINT', 'BIGINT', 'DOUBLE', 'HUGEINT') "
        f"AND length(CAST(x AS VARCHAR)) > {MAX_NUMBER_DIGITS}"
    )
    return (
        "CASE WHEN json_type(json) <> 'OBJECT' THEN 'the line is a JSON ' || "
        "lower(json_type(json)) || ', not an object' "
        f"WHEN length({text}) > {MAX_LINE_BYTES} THEN "
        f"'the line is longer than {MAX_LINE_BYTES:,} characters' "
        "WHEN json_exists(json, '$.properties') AND "
        "json_type(json, '$.properties') <> 'OBJECT' THEN '`properties` is not an object' "
        f"WHEN (strpos({text}, '[') > 0 OR length({text}) - length(replace({text}, '{{', '')) > 2)"
        f" AND {nested} THEN 'a value is a JSON object or list' "
        f"WHEN length({text}) > {MAX_NUMBER_DIGITS} AND {long_number} THEN "
        f"'a number of more than {MAX_NUMBER_DIGITS:,} digits' END"
    )


def _shown(formula: SqlFormula, value: exp.Expr, output: str) -> exp.Expr:
    """The value as the output format writes it: text for CSV, JSON for NDJSON."""
    from calcformula.sql import SqlBuilder

    builder = SqlBuilder(formula.dialect, None)
    kind = formula.checked.result_type
    if output == "csv":
        if kind.is_number:
            return builder.text_of_number(value)
        if kind is Type.BOOL:
            return exp.Case(
                ifs=[
                    exp.If(this=value, true=exp.Literal.string("true")),
                    exp.If(this=exp.Not(this=value.copy()), true=exp.Literal.string("false")),
                ]
            )
        return value
    if kind.is_number:
        return exp.Cast(this=builder.text_of_number(value), to=exp.DataType.build("JSON"))
    return exp.Anonymous(this="TO_JSON", expressions=[value])


def _connect(duckdb: Any, spill: str | None = None) -> Any:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    if spill is not None:  # not DuckDB's default, a `.tmp` folder in the working directory
        connection.execute(f"SET temp_directory = {_literal(spill)}")
    # Bounded memory whatever the input's size: DuckDB spills to a temporary folder beyond
    # this (its default is 80% of the machine's memory).
    connection.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    return connection


def _import_duckdb() -> Any:
    try:
        import duckdb
    except ImportError:
        raise EngineError(
            "the DuckDB engine needs the duckdb package: pip install 'calcformula[duckdb]'"
        ) from None
    return duckdb


def _staged(column: Column, labels: dict[str, str]) -> Column:
    """Stage labels of an export (`Contract sent`) read as the portal's stage ids."""
    key = exp.Lower(this=exp.Trim(this=column.expression.copy()))
    cases = [
        exp.If(this=exp.EQ(this=key.copy(), expression=exp.Literal.string(label)),
               true=exp.Literal.string(stage))
        for label, stage in sorted(labels.items())
    ]  # fmt: skip
    return Column(exp.Case(ifs=cases, default=column.expression.copy()), column.type)


class DuckDBEngine:
    """One evaluation job: formulas, a record file, and where the results go."""

    def __init__(
        self,
        targets: Sequence[tuple[str, CheckResult]],
        path: str | Path,
        schema: Schema | None,
        now_ms: int,
        stage_labels: dict[str, str] | None = None,
    ) -> None:
        duckdb = _import_duckdb()
        self.path = Path(path)
        kind = input_kind(self.path)
        if kind is None:
            raise EngineError(
                f"{self.path}: the DuckDB engine reads .csv, .ndjson/.jsonl and .parquet files"
            )
        self.duckdb = duckdb
        self.literal = _LiteralPath(self.path)
        self.spill = tempfile.TemporaryDirectory(prefix="calcformula-duckdb-")
        self.connection = _connect(duckdb, self.spill.name)
        wanted = sorted(_read_properties(targets))
        try:
            if kind == "csv":
                self.source = _csv_source(self.path, schema, self.literal.text)
            elif kind == "parquet":
                self.source = _parquet_source(self.connection, self.literal.text, schema)
            else:
                self.source = _ndjson_source(self.literal.text, wanted)
        except duckdb.Error as error:
            self.close()
            raise EngineError(f"{self.path}: {_first_line(error)}") from None
        except EngineError:
            self.close()
            raise
        self.columns = self.source.header
        for name in wanted:  # a property the file lacks is blank, as in the Python engine
            if name not in self.source.columns:
                self.source.columns[name] = Column(
                    exp.Cast(this=exp.Null(), to=exp.DataType.build("VARCHAR"))
                )
        for name in ("dealstage", "hs_pipeline_stage"):
            column = self.source.columns.get(name)
            if stage_labels and column is not None and column.type is ColumnType.TEXT:
                self.source.columns[name] = _staged(column, stage_labels)
        if kind != "parquet":
            _parse_once(targets, self.source)
        self.formulas: list[tuple[str, SqlFormula]] = []
        failed: list[Diagnostic] = []
        for name, checked in targets:
            formula = compile_sql(checked, "duckdb", self.source.columns, now_ms)
            if not formula.ok:
                failed.extend(d for d in formula.diagnostics if d.is_error)
            self.formulas.append((name, formula))
        self.diagnostics = tuple(failed)

    @property
    def ok(self) -> bool:
        return not self.diagnostics

    def _query(self, output: str) -> str:
        projections = [exp.alias_(self.source.id_expression.copy(), "id", quoted=True)]
        for name, formula in self.formulas:
            assert formula.expression is not None
            value = formula.expression.copy()
            if output in ("csv", "ndjson"):
                value = _shown(formula, value, output)
            projections.append(exp.alias_(value, name, quoted=True))
        columns = ", ".join(p.sql(dialect="duckdb") for p in projections)
        return f"SELECT {columns} FROM {self.source.relation}"

    def _execute(self, sql: str) -> Any:
        try:
            return self.connection.execute(sql)
        except self.duckdb.Error as error:
            raise EngineError(
                f"the DuckDB engine stopped: {_first_line(error)} "
                "(--engine python evaluates this input record by record)"
            ) from None

    def write(self, output: str, destination: str) -> Run:
        """Results straight to a file in `csv` or `ndjson` (one formula), written by DuckDB."""
        started = time.perf_counter()
        names = [name for name, _ in self.formulas]
        query = self._query(output)
        target = _literal(destination)
        if output == "ndjson":
            value = _identifier(names[0]).sql(dialect="duckdb")
            self._execute(
                f"COPY (SELECT id, {value} AS value, CAST('[]' AS JSON) AS diagnostics "
                f"FROM ({query})) TO {target} (FORMAT json)"
            )
            blank = (
                f"count_if(json_type(json, '$.value') = 'NULL') FROM read_ndjson_objects({target})"
            )
        else:
            # Computed once into a temporary table (spilled to disk beyond the memory limit),
            # then written and counted from there: counting from the written CSV read the
            # output a second time.
            self._execute(f"CREATE TEMPORARY TABLE __results AS {query}")
            self._execute(f"COPY __results TO {target} (FORMAT csv, HEADER true)")
            cells = " + ".join(
                f"count_if({_identifier(name).sql(dialect='duckdb')} IS NULL)" for name in names
            )
            blank = f"{cells} FROM __results"
        found = self.connection.execute(f"SELECT count(*), {blank}").fetchone()
        records, blanks = found if found is not None else (0, 0)
        run = Run(records=int(records), blank=int(blanks or 0), problems=self.problems())
        run.seconds = time.perf_counter() - started
        return run

    def rows(
        self, batch: int = 20_000, output: str = "values"
    ) -> Iterator[tuple[str, list[Value]]]:
        """(id, values) for every record: values as the evaluator gives them, or with
        `output="csv"` as the CSV file written by `write` shows them (text, None for blank)."""
        cursor = self._execute(self._query(output))
        while True:
            chunk = cursor.fetchmany(batch)
            if not chunk:
                return
            for row in chunk:
                yield str(row[0]), list(row[1:])

    def problems(self) -> list[Problem]:
        """Lines DuckDB could not read (CSV), or NDJSON values that are not records."""
        if self.source.not_objects is not None:
            found = self.connection.execute(self.source.not_objects).fetchall()
            return [Problem(int(line), str(problem)) for line, problem in found]
        if not self.source.rejects:
            return []
        found = self.connection.execute(
            "SELECT line, error_message FROM reject_errors ORDER BY line"
        ).fetchall()
        return [Problem(int(line), _first_line(message)) for line, message in found]

    def close(self) -> None:
        self.connection.close()
        self.literal.close()
        self.spill.cleanup()


class RecordReader:
    """Reads a Parquet file's records for the evaluator: each property the formulas read as
    the text HubSpot's API would give (numbers as written, timestamps as epoch milliseconds,
    dates as YYYY-MM-DD, booleans as true/false)."""

    def __init__(self, path: Path, schema: Schema | None, wanted: Sequence[str]) -> None:
        duckdb = _import_duckdb()
        self.duckdb = duckdb
        self.literal = _LiteralPath(path)
        self.connection = _connect(duckdb)
        self.relation = f"read_parquet({_literal(self.literal.text)})"
        try:
            described = self.connection.execute(
                f"DESCRIBE SELECT * FROM {self.relation}"
            ).fetchall()
        except duckdb.Error as error:
            self.close()
            raise EngineError(f"{path}: {_first_line(error)}") from None
        headers = [str(row[0]) for row in described]
        names, id_column = resolve_headers(headers, schema)
        self.columns = Columns(headers, names)
        self.wanted = [name for name in wanted if name in names]
        selected: list[exp.Expr] = [
            exp.Cast(this=_identifier(headers[id_column]), to=exp.DataType.build("VARCHAR"))
            if id_column >= 0
            else exp.Null()
        ]
        for name in self.wanted:
            position = names.index(name)
            selected.append(_as_text(_identifier(headers[position]), str(described[position][1])))
        self.query = (
            "SELECT "
            + ", ".join(e.sql(dialect="duckdb") for e in selected)
            + f" FROM {self.relation}"
        )

    def rows(self, batch: int = 20_000) -> Iterator[RecordRow]:
        try:
            cursor = self.connection.execute(self.query)
            line = 0
            while True:
                chunk = cursor.fetchmany(batch)
                if not chunk:
                    return
                for row in chunk:
                    line += 1
                    values = dict(zip(self.wanted, row[1:], strict=True))
                    yield RecordRow(line, row[0], values)
        except self.duckdb.Error as error:
            raise EngineError(f"the DuckDB reader stopped: {_first_line(error)}") from None

    def close(self) -> None:
        self.connection.close()
        self.literal.close()


def _as_text(column: exp.Expr, sql_type: str) -> exp.Expr:
    kind = _column_type(sql_type)
    varchar = exp.DataType.build("VARCHAR")
    if kind is ColumnType.TIMESTAMP:
        epoch = exp.Anonymous(this="EPOCH_MS", expressions=[column])
        return exp.Cast(this=epoch, to=varchar)
    if kind is ColumnType.DATE:
        return exp.Anonymous(this="STRFTIME", expressions=[column, exp.Literal.string("%Y-%m-%d")])
    if kind is ColumnType.BOOLEAN:
        return exp.Case(
            ifs=[exp.If(this=column, true=exp.Literal.string("true"))],
            default=exp.Case(
                ifs=[exp.If(this=exp.Not(this=column.copy()), true=exp.Literal.string("false"))]
            ),
        )
    return exp.Cast(this=column, to=varchar)


def _parse_once(targets: Sequence[tuple[str, CheckResult]], source: Source) -> None:
    """Text columns the formulas read only as numbers are parsed once, in a subquery, rather
    than at every reference (a formula like `if is_present(x) then x * y else y` reads each
    twice, and parsing text by the evaluator's rules is most of the query's time)."""
    from calcformula.dialects import DIALECTS
    from calcformula.nodes import Property, PropertyKind, walk
    from calcformula.sql import SqlBuilder

    kinds: dict[str, set[PropertyKind]] = {}
    dates: dict[str, set[bool | None]] = {}
    for _, checked in targets:
        for node in walk(checked.tree):
            if isinstance(node, Property):
                kinds.setdefault(node.name, set()).add(node.kind)
                info = checked.references.get(id(node))
                dates.setdefault(node.name, set()).add(None if info is None else info.is_date)
    builder = SqlBuilder(DIALECTS["duckdb"], None)
    parsed: list[exp.Expr] = []
    for name in sorted(kinds):
        column = source.columns.get(name)
        if column is None or column.type is not ColumnType.TEXT:
            continue
        if kinds[name] != {PropertyKind.NUMBER} or len(dates[name]) != 1:
            continue
        alias = f"__number_{len(parsed)}"
        value = builder.number_of_text(column.expression.copy(), next(iter(dates[name])))
        parsed.append(exp.alias_(value, alias, quoted=True))
        source.columns[name] = Column(_identifier(alias), ColumnType.NUMBER)
    if parsed:
        columns = ", ".join(p.sql(dialect="duckdb") for p in parsed)
        source.relation = f"(SELECT *, {columns} FROM {source.relation})"


def _read_properties(targets: Sequence[tuple[str, CheckResult]]) -> set[str]:
    from calcformula.nodes import Property, walk

    return {
        node.name
        for _, checked in targets
        for node in walk(checked.tree)
        if isinstance(node, Property)
    }


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
