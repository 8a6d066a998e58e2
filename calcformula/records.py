"""Reads records to evaluate: HubSpot API JSON, NDJSON, or CSV exports.

- JSON: HubSpot's `{"results": [{"id", "properties": {...}}]}`, or a list of such objects, or
  a list of flat property objects.
- NDJSON (`.ndjson`, `.jsonl`): one such object per line. Streamed.
- CSV: a header row of internal names or HubSpot export labels (resolved through the schema);
  `Record ID` becomes the record's id. Streamed, so exports of any size work.

A record that cannot be read is a `RecordProblem` with its line number; reading goes on.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

from calcformula.schema import Schema

ID_HEADERS = ("record id", "id", "hs_object_id", "object id")
csv.field_size_limit(2**24)  # HubSpot text properties hold up to 65,536 characters; be generous


class RecordRow(NamedTuple):
    line: int
    id: str | None
    properties: dict[str, object]


@dataclass(frozen=True, slots=True)
class RecordProblem:
    line: int
    message: str


Item = RecordRow | RecordProblem


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
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        yield RecordProblem(error.lineno, f"not JSON: {error.msg} (column {error.colno})")
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
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        if "\ufffd" in line:
            yield RecordProblem(number, "the line is not valid UTF-8")
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            yield RecordProblem(number, f"not JSON: {error.msg} (column {error.colno})")
            continue
        yield _from_object(item, number, number - 1)


def resolve_headers(headers: list[str], schema: Schema | None) -> tuple[list[str | None], int]:
    """Internal property names for CSV headers (labels resolved through the schema), and the
    column of the record id (-1 if none)."""
    by_label: dict[str, str] = {}
    if schema is not None:
        for info in schema.properties.values():
            if info.label:
                by_label.setdefault(info.label.strip().lower(), info.name)
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


def _csv(stream: IO[str], schema: Schema | None, wanted: set[str] | None) -> Iterator[Item]:
    reader = csv.reader(stream)
    try:
        headers = next(reader)
    except StopIteration:
        return
    except csv.Error as error:
        yield RecordProblem(1, f"the header row cannot be read: {error}")
        return
    names, id_column = resolve_headers(headers, schema)
    width = len(headers)
    # Only the columns a formula reads are copied into each record: exports are wide.
    columns = [
        (i, name) for i, name in enumerate(names) if name and (wanted is None or name in wanted)
    ]
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield RecordProblem(reader.line_num, f"cannot read this row: {error}")
            continue
        line = reader.line_num
        if not row:
            continue
        if len(row) != width:
            yield RecordProblem(line, f"{len(row)} columns where the header has {width}")
            continue
        if "\ufffd" in "".join(row):
            yield RecordProblem(line, "the row is not valid UTF-8")
            continue
        properties: dict[str, object] = {name: row[i] for i, name in columns}
        record_id = row[id_column] if id_column >= 0 else None
        yield RecordRow(line, record_id, properties)


def read_records(
    source: str | Path, schema: Schema | None = None, wanted: set[str] | None = None
) -> Iterator[Item]:
    """Records of a file, one by one (format by extension: .csv, .ndjson/.jsonl, .json).
    `wanted`: the property names to keep from CSV rows (None: all)."""
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix == ".json":
        yield from _json(path.read_text(encoding="utf-8-sig", errors="replace"))
        return
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as stream:
        if suffix in (".ndjson", ".jsonl"):
            yield from _ndjson(stream)
        elif suffix == ".csv":
            yield from _csv(stream, schema, wanted)
        else:
            head = stream.read(1)
            stream.seek(0)
            if head in ("{", "["):
                yield from _json(stream.read()) if head == "[" else _ndjson(stream)
            else:
                yield from _csv(stream, schema, wanted)


def parse_record_json(text: str) -> Item:
    """One record given on the command line (`--record '{"amount": "10"}'`)."""
    items = list(_json(text))
    if len(items) != 1:
        return RecordProblem(1, "give exactly one record")
    return items[0]


__all__ = ["Item", "RecordProblem", "RecordRow", "io", "parse_record_json", "read_records"]
