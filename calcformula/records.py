"""Reads records to evaluate: HubSpot API JSON, NDJSON, or CSV exports, from a file or a stream.

- JSON: HubSpot's `{"results": [{"id", "properties": {...}}]}`, or a list of such objects, or
  a list of flat property objects.
- NDJSON (`.ndjson`, `.jsonl`): one such object per line. Streamed.
- CSV: a header row of internal names or HubSpot export labels (resolved through the schema);
  `Record ID` becomes the record's id. Streamed, so exports of any size work.

Nothing is reshaped silently: a record that cannot be read (a row with the wrong number of
fields, an unterminated quote, a byte that is not UTF-8, a line over `MAX_LINE_BYTES`, JSON nested
deeper than `MAX_JSON_DEPTH` or a number of more than `MAX_NUMBER_DIGITS` digits) is a
`RecordProblem` with its line number, and reading goes on with the next record. A binary file
(a NUL byte in its first block) is one problem and no records.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, NamedTuple

from calcformula.schema import Schema

ID_HEADERS = ("record id", "id", "hs_object_id", "object id")
# One record's line (a CSV row, an NDJSON line) may hold this many bytes: HubSpot's text
# properties hold up to 65,536 characters each, so this leaves room for wide exports while a
# corrupt file (a quote never closed) cannot make one "record" of gigabytes.
MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_JSON_DEPTH = 64  # HubSpot's records nest two levels; deeper JSON is not a record
MAX_NUMBER_DIGITS = 1000  # a JSON number this long is not a HubSpot value (Python stops at 4300)
csv.field_size_limit(MAX_LINE_BYTES)
_SNIFF = 8192


class RecordRow(NamedTuple):
    line: int
    id: str | None
    properties: dict[str, object]


@dataclass(frozen=True, slots=True)
class RecordProblem:
    line: int
    message: str


Item = RecordRow | RecordProblem


class _Unreadable(ValueError):
    pass


def _number(text: str) -> Decimal:
    # JSON numbers stay exact (a float would turn 0.1 into 0.1000000000000000055...).
    if len(text) > MAX_NUMBER_DIGITS:
        raise _Unreadable(f"a number of {len(text):,} digits (at most {MAX_NUMBER_DIGITS:,})")
    return Decimal(text)


def _loads(text: str) -> Any:
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _depth(text) > MAX_JSON_DEPTH:
        raise _Unreadable(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(text, parse_float=_number, parse_int=_number)
    except RecursionError:
        raise _Unreadable(f"JSON nested more than {MAX_JSON_DEPTH} levels deep") from None


def _depth(text: str) -> int:
    """The deepest nesting of brackets outside strings (before parsing, which recurses)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _undecodable(text: str) -> bool:
    # Read with errors="surrogateescape": a byte that is not UTF-8 becomes a lone surrogate,
    # so a genuine U+FFFD in the file is not mistaken for one.
    return any("\udc80" <= char <= "\udcff" for char in text) if not text.isascii() else False


def _from_object(item: Any, line: int, index: int) -> Item:
    if not isinstance(item, dict):
        return RecordProblem(line, f"record {index + 1} is not a JSON object")
    if "properties" in item:
        properties = item["properties"]
        if not isinstance(properties, dict):
            return RecordProblem(line, f"record {index + 1}: `properties` is not an object")
        record_id = item.get("id", properties.get("hs_object_id"))
    else:
        properties = item
        record_id = item.get("id", item.get("hs_object_id"))
    for name, value in properties.items():
        if isinstance(value, dict | list):
            return RecordProblem(
                line,
                f"record {index + 1}: `{name}` holds a JSON "
                f"{'object' if isinstance(value, dict) else 'list'}",
            )
    lowered = {str(k).lower(): v for k, v in properties.items()}
    return RecordRow(line, None if record_id is None else str(record_id), lowered)


def _json(text: str) -> Iterator[Item]:
    if _undecodable(text):
        line = next(n for n, part in enumerate(text.splitlines(), 1) if _undecodable(part))
        yield RecordProblem(line, "a byte that is not UTF-8; the file cannot be read")
        return
    try:
        data = _loads(text)
    except json.JSONDecodeError as error:
        yield RecordProblem(error.lineno, f"not JSON: {error.msg} (column {error.colno})")
        return
    except _Unreadable as error:
        yield RecordProblem(1, f"{error}; the file cannot be read")
        return
    if isinstance(data, dict) and "results" in data:
        data = data["results"]
    elif isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        yield RecordProblem(1, 'expected a list of records or HubSpot\'s {"results": [...]}')
        return
    for index, item in enumerate(data):
        yield _from_object(item, 1, index)


def _ndjson(stream: IO[str]) -> Iterator[Item]:
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith("\n"):
            while line and not line.endswith("\n"):  # skip the rest of the line, unread
                line = stream.readline(MAX_LINE_BYTES)
            yield RecordProblem(number, f"the line is longer than {MAX_LINE_BYTES:,} characters")
            continue
        if not line.strip():
            continue
        if _undecodable(line):
            yield RecordProblem(number, "the line holds a byte that is not UTF-8")
            continue
        try:
            item = _loads(line)
        except json.JSONDecodeError as error:
            yield RecordProblem(number, f"not JSON: {error.msg} (column {error.colno})")
            continue
        except _Unreadable as error:
            yield RecordProblem(number, str(error))
            continue
        yield _from_object(item, number, number - 1)


def label_map(schema: Schema | None) -> dict[str, str]:
    """Lower-cased property labels to internal names (HubSpot exports use labels)."""
    by_label: dict[str, str] = {}
    if schema is not None:
        for info in schema.properties.values():
            if info.label:
                by_label.setdefault(info.label.strip().lower(), info.name)
    return by_label


def resolve_headers(headers: list[str], schema: Schema | None) -> tuple[list[str | None], int]:
    """Internal property names for CSV headers (labels resolved through the schema), and the
    column of the record id (-1 if none)."""
    by_label = label_map(schema)
    names: list[str | None] = []
    id_column = -1
    for position, header in enumerate(headers):
        key = header.strip().lower()
        if key in ID_HEADERS and id_column == -1:
            id_column = position
            names.append(None)
        elif schema is not None and schema.get(key) is not None:
            names.append(key)
        elif key in by_label:
            names.append(by_label[key])
        else:
            names.append(key)
    return names, id_column


class Columns(NamedTuple):
    """What a file's header row says: its headers and the property name of each column."""

    headers: list[str]
    names: list[str | None]


def _csv(
    stream: IO[str],
    schema: Schema | None,
    wanted: set[str] | None,
    on_columns: Any = None,
) -> Iterator[Item]:
    reader = csv.reader(stream, strict=True)
    try:
        headers = next(reader)
    except StopIteration:
        return
    except csv.Error as error:
        yield RecordProblem(1, f"the header row cannot be read: {error}")
        return
    if _undecodable("".join(headers)):
        yield RecordProblem(1, "the header row holds a byte that is not UTF-8")
        return
    names, id_column = resolve_headers(headers, schema)
    if on_columns is not None:
        on_columns(Columns(headers, names))
    width = len(headers)
    # Only the columns a formula reads are copied into each record: exports are wide.
    columns = [
        (i, name) for i, name in enumerate(names) if name and (wanted is None or name in wanted)
    ]
    pick = _picker(columns)
    # The loop runs once per record of exports with millions: locals, no helper calls on
    # the common path (an ASCII row of the right width).
    make = tuple.__new__
    line = reader.line_num
    while True:
        start = line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            line = reader.line_num
            yield RecordProblem(start, _csv_error(error, start, line))
            continue
        line = reader.line_num
        if len(row) != width:
            if row:
                yield RecordProblem(line, f"{len(row)} fields where the header has {width}")
            continue
        if not "".join(row).isascii() and _undecodable("".join(row)):
            yield RecordProblem(line, "the row holds a byte that is not UTF-8")
            continue
        yield make(RecordRow, (line, row[id_column] if id_column >= 0 else None, pick(row)))


def _picker(columns: list[tuple[int, str]]) -> Callable[[list[str]], dict[str, object]]:
    """The record of a CSV row: the columns a formula reads, by name. A dict display for
    the usual one to three columns costs half a comprehension."""
    if len(columns) == 1:
        ((i0, n0),) = columns
        return lambda row: {n0: row[i0]}
    if len(columns) == 2:
        (i0, n0), (i1, n1) = columns
        return lambda row: {n0: row[i0], n1: row[i1]}
    if len(columns) == 3:
        (i0, n0), (i1, n1), (i2, n2) = columns
        return lambda row: {n0: row[i0], n1: row[i1], n2: row[i2]}
    return lambda row: {name: row[i] for i, name in columns}


def _csv_error(error: csv.Error, start: int, end: int) -> str:
    text = str(error)
    if "unexpected end of data" in text:
        return (
            f"a quoted field opened on this line is never closed (unterminated quote); "
            f"lines {start}-{end} cannot be read"
        )
    if "field larger than field limit" in text:
        return f"a field is longer than {MAX_LINE_BYTES:,} characters"
    return f"cannot read this row: {text}"


def is_binary(head: bytes) -> bool:
    """A NUL byte in the first block: not a text file (Parquet, a spreadsheet, an image)."""
    return b"\x00" in head


def sniff_kind(head: bytes) -> str:
    """json, ndjson or csv from a file's first bytes (for stdin and names without a suffix)."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start == b"[":
        return "json"
    if start == b"{":
        # One object per line is NDJSON; one object over many lines is HubSpot's JSON page.
        first = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0].strip()
        try:
            value = json.loads(first)
        except (ValueError, RecursionError):
            return "json"
        # HubSpot's page of results on one line is JSON, not one record.
        return "json" if isinstance(value, dict) and "results" in value else "ndjson"
    return "csv"


def kind_of(path: str | Path) -> str | None:
    """The format a file name says (None: look at the content)."""
    suffix = Path(path).suffix.lower()
    return {
        ".json": "json",
        ".ndjson": "ndjson",
        ".jsonl": "ndjson",
        ".csv": "csv",
        ".parquet": "parquet",
    }.get(suffix)


def read_stream(
    data: IO[bytes],
    kind: str | None = None,
    schema: Schema | None = None,
    wanted: set[str] | None = None,
    on_columns: Any = None,
) -> Iterator[Item]:
    """Records from a binary stream (a file, standard input, pasted text as bytes).
    `kind`: csv, ndjson or json (None: guessed from the first bytes). `wanted`: the property
    names to keep from CSV rows (None: all). `on_columns` is called with the CSV `Columns`."""
    buffered = (
        data if isinstance(data, io.BufferedReader) else io.BufferedReader(data)  # type: ignore[type-var]
    )
    head = buffered.peek(_SNIFF)[:_SNIFF]
    if is_binary(head):
        yield RecordProblem(1, "this is a binary file, not CSV, NDJSON or JSON text")
        return
    if kind is None:
        kind = sniff_kind(head)
    if kind == "parquet":
        yield RecordProblem(1, "Parquet is read by the DuckDB engine")
        return
    stream = io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="surrogateescape", newline="")
    if kind == "json":
        yield from _json(stream.read())
    elif kind == "ndjson":
        yield from _ndjson(stream)
    else:
        yield from _csv(stream, schema, wanted, on_columns)


def read_records(
    source: str | Path | IO[bytes],
    schema: Schema | None = None,
    wanted: set[str] | None = None,
    kind: str | None = None,
    on_columns: Any = None,
) -> Iterator[Item]:
    """Records of a file or binary stream, one by one (format by the file's extension, else by
    its first bytes). `wanted`: the property names to keep from CSV rows (None: all)."""
    if not isinstance(source, str | Path):
        yield from read_stream(source, kind, schema, wanted, on_columns)
        return
    with Path(source).open("rb") as stream:
        yield from read_stream(stream, kind or kind_of(source), schema, wanted, on_columns)


def read_text(
    text: str,
    kind: str | None = None,
    schema: Schema | None = None,
    wanted: set[str] | None = None,
    on_columns: Any = None,
) -> Iterator[Item]:
    """Records from text (pasted into a front end)."""
    yield from read_stream(io.BytesIO(text.encode("utf-8")), kind, schema, wanted, on_columns)


def parse_record_json(text: str) -> Item:
    """One record given on the command line (`--record '{"amount": "10"}'`)."""
    items = list(_json(text))
    if len(items) != 1:
        return RecordProblem(1, "give exactly one record")
    return items[0]


__all__ = [
    "MAX_LINE_BYTES",
    "Columns",
    "Item",
    "RecordProblem",
    "RecordRow",
    "kind_of",
    "parse_record_json",
    "read_records",
    "read_stream",
    "read_text",
    "sniff_kind",
]
