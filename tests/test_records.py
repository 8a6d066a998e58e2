"""Reading records: HubSpot API JSON, NDJSON, CSV with labels."""

from __future__ import annotations

from pathlib import Path

from calcformula.records import RecordProblem, RecordRow, read_records
from calcformula.schema import Schema

SCHEMA = Schema.from_json(
    {
        "results": [
            {"name": "amount", "label": "Amount", "type": "number"},
            {"name": "closedate", "label": "Close Date", "type": "datetime"},
        ]
    }
)


def test_hubspot_api_json(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text('{"results": [{"id": "7", "properties": {"Amount": "1"}}, 5]}')
    items = list(read_records(path))
    assert isinstance(items[0], RecordRow) and items[0].id == "7"
    assert items[0].properties == {"amount": "1"}
    assert isinstance(items[1], RecordProblem)


def test_csv_labels_and_record_id(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("Record ID,Amount,Close Date,Other\n1,5,2024-01-01,x\n2,6\n")
    items = list(read_records(path, SCHEMA))
    assert items[0] == RecordRow(2, "1", {"amount": "5", "closedate": "2024-01-01", "other": "x"})
    assert isinstance(items[1], RecordProblem) and items[1].line == 3


def test_csv_invalid_utf8_row(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"amount\n1\n\xff\xfe\n3\n")
    items = list(read_records(path))
    assert [type(i).__name__ for i in items] == ["RecordRow", "RecordProblem", "RecordRow"]


def test_ndjson_nested_values_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.ndjson"
    path.write_text('{"properties": {"a": {"b": 1}}}\n')
    [item] = list(read_records(path))
    assert isinstance(item, RecordProblem) and "object" in item.message
