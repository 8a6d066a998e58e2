"""Evaluates formulas over record files with Spark, running their compiled Spark SQL.

A local Spark session (calcformula.spark.local_session) or Spark Connect (`sc://host:port`)
reads the CSV, NDJSON or Parquet input, a file or a folder of part files, and computes every
formula (calcformula.sql, dialect `spark`). Results come back as rows, or are written by Spark as
a folder of part files. CSV and NDJSON cells are read as text, never typed by Spark's inference,
so a formula sees what the Python engine sees; Parquet keeps its typed columns. Rows Spark cannot
read (a CSV row of the wrong width, a line that is not a JSON object) are counted and reported,
never dropped silently. What differs from the Python engine is what differs for the DuckDB engine
(docs/scale.md): numbers keep 10 decimals and per-record notes are not reported.
"""

from __future__ import annotations

import contextlib
import csv
import os
import socket
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import urlsplit

from sqlglot import exp

from calcformula.checker import CheckResult
from calcformula.diagnostics import Diagnostic
from calcformula.duckdb_engine import (
    SUFFIXES,
    EngineError,
    Problem,
    Run,
    _read_properties,
    _shown,
)
from calcformula.evaluator import PortalContext
from calcformula.functions import Value
from calcformula.records import resolve_headers
from calcformula.schema import Schema
from calcformula.spark import INSTALL_HINT

__all__ = [
    "INSTALL_HINT",
    "EngineError",
    "Problem",
    "Run",
    "SparkEngine",
    "available",
    "input_kind",
]
from calcformula.sql import Column, ColumnType, SqlFormula, compile_sql

CORRUPT = "_calcformula_unreadable"


def available() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True


def input_kind(path: str | Path) -> str | None:
    """csv, ndjson or parquet for a file, or for a folder of part files of one kind."""
    path = Path(path)
    if not path.is_dir():
        return SUFFIXES.get(path.suffix.lower())
    kinds = {SUFFIXES.get(p.suffix.lower()) for p in _parts(path)} - {None}
    return kinds.pop() if len(kinds) == 1 else None


def _parts(folder: Path) -> list[Path]:
    """The data files of a folder as Spark writes it (no `_SUCCESS`, `.crc` or hidden files)."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(("_", ".")) and p.suffix.lower() in SUFFIXES
    )


def _name(name: str) -> exp.Expr:
    return exp.column(name, quoted=True)


def _string(name: str) -> exp.Expr:
    return exp.Cast(this=_name(name), to=exp.DataType.build("STRING"))


def _number_rows(offset: int, first: str) -> exp.Expr:
    # In file order (the scan's ids grow with it); the Python engine numbers records this way.
    # The first column rides along: Spark refuses a scan of a raw file that needs only the
    # unreadable-row column.
    order = exp.Order(
        expressions=[
            exp.Ordered(this=exp.Anonymous(this="monotonically_increasing_id")),
            exp.Ordered(this=_name(first)),
        ]
    )
    number: exp.Expr = exp.Window(this=exp.RowNumber(), order=order)
    if offset:
        number = exp.Add(this=number, expression=exp.Literal.number(offset))
    return exp.Cast(this=number, to=exp.DataType.build("STRING"))


def _column_type(data_type: Any) -> ColumnType | None:
    from pyspark.sql import types

    if isinstance(data_type, types.StringType | types.VarcharType | types.CharType):
        return ColumnType.TEXT
    if isinstance(data_type, types.BooleanType):
        return ColumnType.BOOLEAN
    if isinstance(data_type, types.DateType):
        return ColumnType.DATE
    if isinstance(data_type, types.TimestampType | types.TimestampNTZType):
        return ColumnType.TIMESTAMP
    if isinstance(data_type, types.NumericType):
        return ColumnType.NUMBER
    return None


class SparkEngine:
    """One evaluation job on Spark: formulas, a record file or folder, where results go."""

    label = "Spark engine"

    def __init__(
        self,
        targets: Sequence[tuple[str, CheckResult]],
        path: str | Path,
        schema: Schema | None,
        now_ms: int,
        remote: str | None = None,
        master: str = "local[*]",
        portal: PortalContext | None = None,
        session: Any = None,
    ) -> None:
        if not available():
            raise EngineError(f"the Spark engine: {INSTALL_HINT}")
        self.path = Path(path)
        # Spark reads the location, not this process: a path here is made absolute (the server
        # of --spark-remote has another working folder); one only the server sees (a lake URI, a
        # mount) is passed on as given.
        self.local = self.path.exists()
        if not self.local and remote is None:
            raise EngineError(f"{self.path}: no such file or folder")
        self.location = str(self.path.resolve()) if self.local else str(path)
        kind = input_kind(self.path) if self.local else SUFFIXES.get(Path(str(path)).suffix.lower())
        if kind is None:
            raise EngineError(
                f"{path}: the Spark engine reads .csv, .ndjson/.jsonl and .parquet files, "
                "or a folder (here) of part files of one of these kinds"
            )
        self.kind = kind
        self.session = session if session is not None else _start(remote, master)
        self.own_session = session is None
        self.view = f"calcformula_{uuid.uuid4().hex}"
        self.header_lines = 0
        wanted = sorted(_read_properties(targets))
        try:
            if kind == "csv":
                columns, identifier = self._csv(schema)
            elif kind == "parquet":
                columns, identifier = self._parquet(schema)
            else:
                columns, identifier = self._ndjson(wanted)
        except EngineError:
            self.close()
            raise
        except Exception as error:  # pyspark's errors differ between classic and Connect
            self.close()
            raise EngineError(f"{path}: {_first_line(error)}") from None
        for name in wanted:  # a property the file lacks is blank, as in the Python engine
            if name not in columns:
                columns[name] = Column(exp.Cast(this=exp.Null(), to=exp.DataType.build("STRING")))
        self.columns = columns
        self.id_expression = identifier
        self.formulas: list[tuple[str, SqlFormula]] = []
        failed: list[Diagnostic] = []
        for name, checked in targets:
            formula = compile_sql(checked, "spark", columns, now_ms, portal)
            if not formula.ok:
                failed.extend(d for d in formula.diagnostics if d.is_error)
            self.formulas.append((name, formula))
        self.diagnostics = tuple(failed)

    @property
    def ok(self) -> bool:
        return not self.diagnostics

    def _reader(self, fields: list[Any]) -> Any:
        from pyspark.sql import types

        schema = types.StructType([*fields, types.StructField(CORRUPT, types.StringType())])
        return (
            self.session.read.schema(schema)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", CORRUPT)
        )

    def _first_file(self) -> Path:
        if not self.path.is_dir():
            return self.path
        parts = _parts(self.path)
        if not parts:
            raise EngineError(f"{self.path}: the folder holds no part files")
        return parts[0]

    def _header(self) -> list[str]:
        if self.local:
            first = self._first_file()
            with first.open(encoding="utf-8-sig", errors="replace", newline="") as stream:
                lines: Iterator[str] = iter(stream)
                return self._header_of(first, lines)
        found = self.session.read.text(self.location).limit(1).collect()
        return self._header_of(self.location, iter([str(row[0]).lstrip("\ufeff") for row in found]))

    @staticmethod
    def _header_of(where: object, lines: Iterator[str]) -> list[str]:
        try:
            return next(csv.reader(lines))
        except StopIteration:
            raise EngineError(f"{where}: the file is empty") from None
        except csv.Error as error:
            raise EngineError(f"{where}: the header row cannot be read: {error}") from None

    def _csv(self, schema: Schema | None) -> tuple[dict[str, Column], exp.Expr]:
        from pyspark.sql import types

        headers = self._header()
        names, id_column = resolve_headers(headers, schema)
        self.width = len(headers)
        positions = [f"c{i}" for i in range(len(headers))]
        fields = [types.StructField(p, types.StringType()) for p in positions]
        frame = (
            self._reader(fields)
            .option("header", "true")
            .option("enforceSchema", "true")  # by position: headers may repeat or be labels
            .option("quote", '"')
            .option("escape", '"')
            .option("multiLine", "true")
            .option("encoding", "UTF-8")
            .csv(self.location)
        )
        self.header_lines = 1
        self._register(frame)
        columns = {name: Column(_name(positions[i])) for i, name in enumerate(names) if name}
        identifier = _name(positions[id_column]) if id_column >= 0 else _name("_row")
        self.numbered = id_column < 0
        return columns, identifier

    def _parquet(self, schema: Schema | None) -> tuple[dict[str, Column], exp.Expr]:
        frame = self.session.read.parquet(self.location)
        fields = list(frame.schema.fields)
        names, id_column = resolve_headers([f.name for f in fields], schema)
        columns: dict[str, Column] = {}
        for data_field, name in zip(fields, names, strict=True):
            if not name:
                continue
            kind = _column_type(data_field.dataType)
            reference = _name(data_field.name)
            if kind is None:  # arrays, structs, binary: read as text, like a CSV cell
                reference = exp.Cast(this=reference, to=exp.DataType.build("STRING"))
                kind = ColumnType.TEXT
            columns[name] = Column(reference, kind)
        self.numbered = id_column < 0
        identifier = _string(fields[id_column].name) if id_column >= 0 else _name("_row")
        self._register(frame, corrupt=False)
        return columns, identifier

    def _ndjson(self, wanted: Sequence[str]) -> tuple[dict[str, Column], exp.Expr]:
        from pyspark.sql import types

        def text(name: str) -> Any:
            return types.StructField(name, types.StringType())

        flat = [n for n in dict.fromkeys([*wanted, "id", "hs_object_id"])]
        nested = types.StructType([text(n) for n in dict.fromkeys([*wanted, "hs_object_id"])])
        fields = [*(text(n) for n in flat), types.StructField("properties", nested)]
        # Strings stay strings; numbers and booleans come as their JSON text (Spark reads any
        # JSON value into a STRING field), never a type Spark guessed.
        frame = self._reader(fields).option("encoding", "UTF-8").json(self.location)
        self._register(frame)
        has_properties = exp.Not(this=exp.Is(this=_name("properties"), expression=exp.Null()))

        def value(name: str) -> exp.Expr:
            nested_value = exp.Dot(
                this=_name("properties"), expression=exp.to_identifier(name, quoted=True)
            )
            return exp.Case(
                ifs=[exp.If(this=has_properties.copy(), true=nested_value)], default=_name(name)
            )

        identifier = exp.Coalesce(
            this=_name("id"),
            expressions=[
                exp.Dot(this=_name("properties"), expression=exp.to_identifier("hs_object_id")),
                _name("hs_object_id"),
                _name("_row"),
            ],
        )
        self.numbered = True
        return {name: Column(value(name)) for name in wanted}, identifier

    def _register(self, frame: Any, corrupt: bool = True) -> None:
        self.has_corrupt = corrupt
        self.first = frame.schema.fields[0].name
        frame.createOrReplaceTempView(self.view)

    def _numbered(self) -> str:
        """The input with `_row`, its record's number (CSV: its line), before bad rows leave."""
        row = _number_rows(self.header_lines, self.first).sql(dialect="spark")
        return f"(SELECT *, {row} AS `_row` FROM {self.view})"

    def _relation(self) -> str:
        source = self._numbered() if self.numbered else self.view
        if not self.has_corrupt:
            return source
        return f"(SELECT * FROM {source} WHERE `{CORRUPT}` IS NULL)"

    def _query(self, output: str) -> str:
        projections = [exp.alias_(self.id_expression.copy(), "id", quoted=True)]
        for name, formula in self.formulas:
            assert formula.expression is not None
            value = formula.expression.copy()
            if output in ("csv", "ndjson"):
                value = _shown(formula, value, output) if output == "csv" else _json(formula, value)
            projections.append(exp.alias_(value, name, quoted=True))
        columns = ", ".join(p.sql(dialect="spark") for p in projections)
        return f"SELECT {columns} FROM {self._relation()}"

    def _sql(self, query: str) -> Any:
        try:
            return self.session.sql(query)
        except Exception as error:
            raise _stopped(error) from None

    def write(self, output: str, destination: str) -> Run:
        """Results as a folder of part files in `csv` or `ndjson` (one formula), by Spark."""
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        started = time.perf_counter()
        if "://" not in destination:  # Spark Connect's server has another working folder
            destination = str(Path(destination).resolve())
        names = [name for name, _ in self.formulas]
        # The summary's counts are taken while Spark writes (observed metrics): no second
        # pass over the input or the output.
        written = Observation(f"calcformula_{uuid.uuid4().hex}")
        try:
            frame = self._sql(self._query(output))
            blank = sum(
                (F.col(f"`{name}`").isNull().cast("long") for name in names), F.lit(0).cast("long")
            )
            frame = frame.observe(
                written, F.count(F.lit(1)).alias("records"), F.sum(blank).alias("blank")
            )
            if output == "ndjson":
                lines = frame.selectExpr(
                    f"to_json(named_struct('id', `id`, 'value', `{names[0]}`, 'diagnostics', "
                    "array()), map('ignoreNullFields', 'false')) AS line"
                )
                lines.write.text(destination)
            else:
                (
                    frame.write.option("header", "true")
                    .option("quote", '"')
                    .option("escape", '"')
                    .option("emptyValue", '""')
                    .csv(destination)
                )
            counted = written.get
        except EngineError:
            raise
        except Exception as error:
            raise _stopped(error) from None
        run = Run(
            records=int(counted.get("records") or 0),
            blank=int(counted.get("blank") or 0),
            problems=self.problems(),
        )
        run.seconds = time.perf_counter() - started
        return run

    def rows(self, batch: int = 20_000) -> Iterator[tuple[str, list[Value]]]:
        """(id, values) for every record, values as the Python engine gives them."""
        frame = self._sql(self._query("values"))
        try:
            for row in frame.toLocalIterator(prefetchPartitions=True):
                yield str(row[0]), list(row[1:])
        except Exception as error:
            raise _stopped(error) from None

    def problems(self) -> list[Problem]:
        """Rows Spark could not read: a CSV row whose width is not the header's, an NDJSON line
        that is not a JSON object; each with its line in its file (a record is one line)."""
        if not self.has_corrupt:
            return []
        # The corrupt-record column alone cannot be queried from a raw file (Spark refuses
        # it): the first column comes along. A plain scan first: the lines need a sort.
        any_found = self._sql(
            f"SELECT count_if(`{CORRUPT}` IS NOT NULL), count(`{self.first}`) FROM {self.view}"
        )
        try:
            if not any_found.collect()[0][0]:
                return []
        except Exception as error:
            raise _stopped(error) from None
        order = f"monotonically_increasing_id(), `{self.first}`"
        line = (
            f"row_number() OVER (PARTITION BY input_file_name() ORDER BY {order}) "
            f"+ {self.header_lines}"
        )
        found = self._sql(
            f"SELECT `file`, `line`, `{CORRUPT}` FROM (SELECT `{CORRUPT}`, `{self.first}`, "
            f"input_file_name() AS `file`, {line} AS `line` FROM {self.view}) "
            f"WHERE `{CORRUPT}` IS NOT NULL ORDER BY `file`, `line`"
        )
        try:
            rows = found.collect()
        except Exception as error:
            raise _stopped(error) from None
        problems: list[Problem] = []
        for file, number, text in rows:
            message = self._unreadable(str(text))
            if self.path.is_dir() or not self.local:  # which part file
                message = f"{PurePosixPath(str(file)).name}: {message}"
            problems.append(Problem(int(number), message))
        return problems

    def _unreadable(self, text: str) -> str:
        if self.kind == "csv":
            # The Python engine's words: Spark flags a row whose width is not the header's.
            cells = next(csv.reader([text]), [])
            return f"{len(cells)} fields where the header has {self.width}"
        excerpt = " ".join(text.split())
        if len(excerpt) > 60:
            excerpt = excerpt[:57] + "..."
        return f"not a JSON object: {excerpt}"

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the session may be gone already
            self.session.catalog.dropTempView(self.view)
        if self.own_session:
            self.session.stop()


def _start(remote: str | None, master: str) -> Any:
    from calcformula.spark import local_session

    if remote is not None and not remote.startswith("sc://"):
        raise EngineError(f"--spark-remote {remote}: give a Spark Connect address, sc://HOST:PORT")
    if remote is not None:
        _reachable(remote)
    with tempfile.TemporaryFile() as log:
        try:
            with warnings.catch_warnings():
                # Spark Connect's client warns about the pandas version on import.
                warnings.simplefilter("ignore", FutureWarning)
                if remote is not None:
                    return local_session(master=master, remote=remote)
                with _jvm_output(log):
                    return local_session(master=master)
        except ImportError as error:  # Spark Connect's own packages (grpcio, pandas, pyarrow)
            raise EngineError(f"the Spark engine: {error}; {INSTALL_HINT}") from None
        except Exception as error:
            where = f"Spark Connect at {remote}" if remote else "a local Spark session"
            log.seek(0)
            said = [line for line in log.read().decode(errors="replace").splitlines() if line]
            detail = f" ({said[-1].strip()})" if said else ""
            raise EngineError(
                f"cannot start {where}: {_first_line(error)}{detail}; Spark needs Java 17 or newer"
            ) from None


@contextlib.contextmanager
def _jvm_output(log: IO[bytes]) -> Iterator[None]:
    """The local JVM's own start-up chatter (log4j defaults, host name warnings) goes to `log`,
    not the terminal: the JVM keeps the standard error it was started with, so this lasts for
    the session. Spark's errors still reach us as exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _reachable(remote: str) -> None:
    """Fail at once when nothing answers at the address: Spark Connect's client would retry
    for minutes before saying so."""
    address = urlsplit(remote)
    try:
        host, port = address.hostname, address.port
    except ValueError:
        host = port = None
    if not host or port is None:
        raise EngineError(f"--spark-remote {remote}: give a Spark Connect address, sc://HOST:PORT")
    try:
        socket.create_connection((host, port), timeout=10).close()
    except OSError as error:
        raise EngineError(
            f"no Spark Connect server answers at {host}:{port} ({error.strerror or error}); "
            "start one (sbin/start-connect-server.sh) or check --spark-remote"
        ) from None


def _json(formula: SqlFormula, value: exp.Expr) -> exp.Expr:
    """The value for `to_json`: numbers as JSON numbers (through VARIANT), others as they are."""
    if formula.checked.result_type.is_number:
        text = _shown(formula, value, "csv")
        return exp.Anonymous(this="PARSE_JSON", expressions=[text])
    return value


def _stopped(error: Exception) -> EngineError:
    return EngineError(
        f"the Spark engine stopped: {_first_line(error)} "
        "(--engine python evaluates this input record by record)"
    )


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
