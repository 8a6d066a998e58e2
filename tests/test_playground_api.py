"""calcformula.playground_api, the playground's JSON entry point, in CPython (no browser).

The browser test (test_playground.py) runs the same module in Pyodide; these cases pin what
the page relies on and are quick: bad requests answer with an error (never raise), offsets are
JavaScript's UTF-16 units, pasted records are read as the command reads files.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from calcformula.playground_api import Offsets, handle

ROOT = Path(__file__).resolve().parent.parent
DEALS = (ROOT / "examples" / "schema" / "deals.json").read_text()


def ask(**request: Any) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(handle(json.dumps(request)))
    return answer


@pytest.mark.parametrize(
    ("request_text", "message"),
    [
        ("not json", "Expecting value"),
        ("[1, 2]", "a request is a JSON object"),
        ('{"op": "nope"}', "unknown op 'nope'"),
        ('{"op": "check", "formula": 3}', "`formula` must be a string"),
        ('{"op": "check", "formula": "1", "declared_type": "x"}', "declared_type must be"),
        ('{"op": "fix", "formula": "1 +", "index": 99}', "`index` must name"),
        ('{"op": "complete", "formula": "ab", "offset": 9}', "`offset` must be"),
        ('{"op": "details", "formula": "1", "now": "yesterday"}', "not an ISO 8601"),
    ],
)
def test_bad_requests_get_an_error_not_an_exception(request_text: str, message: str) -> None:
    answer = json.loads(handle(request_text))
    assert message in answer["error"]


def test_a_bad_schema_is_reported_with_its_position() -> None:
    answer = ask(op="check", formula="amount", schema='{"results": [')
    assert answer["schema_problem"].startswith("schema: line 1, column 14: not JSON")
    answer = ask(op="check", formula="amount", schema='{"results": [{"name": "a"}]}')
    assert answer["schema_problem"] == "schema: property 1 (a): `type` must be a string"


def test_offsets_are_utf16_units() -> None:
    text = "'😀' + x"
    offsets = Offsets(text)
    assert [offsets.to_js(i) for i in range(len(text) + 1)] == [0, 1, 3, 4, 5, 6, 7, 8]
    assert [offsets.from_js(offsets.to_js(i)) for i in range(len(text) + 1)] == list(
        range(len(text) + 1)
    )
    answer = ask(op="check", formula="'😀' + amout", schema=DEALS, object="deals")
    unknown = next(d for d in answer["diagnostics"] if d["code"] == "CF203")
    assert (unknown["from"], unknown["to"]) == (7, 12)  # "amout" in JavaScript's units
    completion = ask(op="complete", formula="'😀' + amou", offset=11, schema=DEALS)
    assert completion["from"] == 7
    assert "amount" in [item["label"] for item in completion["items"]]


def test_fix_applies_the_chosen_fix() -> None:
    answer = ask(op="check", formula="if(a, b, c)")
    index = next(i for i, d in enumerate(answer["diagnostics"]) if d["code"] == "CF107")
    fixed = ask(op="fix", formula="if(a, b, c)", index=index)
    assert fixed == {"formula": "if a then b else c", "applied": 1}


def _cli_values(formula: str, records: Path) -> list[Any]:
    result = subprocess.run(
        [sys.executable, "-m", "calcformula", "eval", "--expr", formula, "--records",
         str(records), "--schema", str(ROOT / "examples" / "schema" / "deals.json"),
         "--format", "json", "--engine", "python"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [item["value"] for item in json.loads(result.stdout, parse_float=Decimal)["results"]]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("r.csv", "Record ID,Amount,Exchange rate\n1,10,2\n2,5,\n3,x,1\n"),
        (
            "r.json",
            '{"results": [{"id": "1", "properties": {"amount": "10", "hs_exchange_rate": "2"}},'
            '\n {"id": "2", "properties": {"amount": "5"}}]}',
        ),
        ("r.ndjson", '{"id": "1", "amount": "10", "hs_exchange_rate": "2"}\n{"id": "2"}\n'),
    ],
)
def test_pasted_records_read_like_the_command(tmp_path: Path, name: str, text: str) -> None:
    formula = "amount * hs_exchange_rate"
    path = tmp_path / name
    path.write_text(text)
    answer = ask(op="details", formula=formula, schema=DEALS, object="deals", records=text)
    assert answer["results"]["format"] == name.split(".")[1]
    page = [
        json.loads(row["value"], parse_float=Decimal) if row["evaluable"] else "?"
        for row in answer["results"]["rows"]
    ]
    assert page == _cli_values(formula, path)


def test_unreadable_records_are_reported_by_line() -> None:
    answer = ask(op="details", formula="amount", records="Amount,b\n1,2\n3\n")
    assert answer["results"]["problems"] == [
        "line 3: 1 fields where the header has 2; record skipped"
    ]


def test_trace_names_the_blank_input_with_exact_values() -> None:
    records = "Record ID,Amount,Exchange rate\n1,100,1.1\n2,250,\n"
    formula = "amount * hs_exchange_rate + 0.1"
    answer = ask(
        op="trace", formula=formula, schema=DEALS, object="deals", records=records, index=1
    )
    assert answer["id"] == "2" and answer["value"] == "(blank)"
    assert answer["blank_causes"] == ["hs_exchange_rate"]
    first = ask(op="trace", formula=formula, schema=DEALS, object="deals", records=records, index=0)
    assert first["value"] == "110.1"


def test_at_most_max_records_are_shown() -> None:
    from calcformula.playground_api import MAX_RECORDS

    header = "Record ID,Amount\n"
    exactly = header + "".join(f"{i},{i}\n" for i in range(MAX_RECORDS))
    answer = ask(op="details", formula="amount", records=exactly)
    assert len(answer["results"]["rows"]) == MAX_RECORDS
    assert answer["results"]["problems"] == []
    more = exactly + "x,1\n"
    answer = ask(op="details", formula="amount", records=more)
    assert len(answer["results"]["rows"]) == MAX_RECORDS
    assert answer["results"]["problems"] == [f"only the first {MAX_RECORDS} records are shown"]
