"""`calcformula eval --trace` and `--id`, driven as a subprocess."""

from __future__ import annotations

import doctest
import json
import shlex
from pathlib import Path

import pytest

import calcformula
import calcformula.trace
from tests.test_cli import run

RECORDS = [
    {"id": "101", "properties": {"c": "5", "d": ""}},
    {"id": "102", "properties": {"c": "5", "d": "2"}},
]


def _records(tmp_path: Path) -> str:
    path = tmp_path / "records.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    return str(path)


def test_trace_prints_the_tree_and_the_reason(tmp_path: Path) -> None:
    result = run("eval", "--expr", "c - d", "--records", _records(tmp_path), "--trace")
    assert result.returncode == 0, result.stderr
    expected = calcformula.trace("c - d", RECORDS[0]["properties"])  # type: ignore[arg-type]
    assert result.stdout.startswith("record 101: (blank)\n" + expected.render_text() + "\n")
    assert "record 102: 3\n" in result.stdout
    assert (
        "blank because `d` is blank on this record (a blank term blanks `c - d`); "
        "use `coalesce(d, 0)` if blank should count as 0\n" in result.stdout
    )
    assert "\033[" not in result.stdout  # no colour when the output is not a terminal
    assert "2 record(s): 1 blank" in result.stderr


def test_trace_json_rows_gain_the_trace(tmp_path: Path) -> None:
    result = run(
        "eval", "--expr", "c - d", "--records", _records(tmp_path), "--trace", "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    first, second = data["results"]
    assert first["id"] == "101" and first["value"] is None
    assert first["blank_causes"] == ["d"]
    assert first["trace"]["children"][1] == {
        "start": 4,
        "end": 5,
        "text": "d",
        "value": None,
        "evaluated": True,
        "reason": "blank on this record",
        "children": [],
    }
    assert second["value"] == 3 and second["blank_causes"] == []
    assert data["summary"]["blank"] == 1


def test_trace_ndjson_keeps_every_digit_and_marks_branches_not_taken(tmp_path: Path) -> None:
    result = run(
        "eval",
        "--expr",
        "if a > 0 then a / 3 else 0",
        "--record",
        '{"a": "2"}',
        "--trace",
        "--format",
        "ndjson",
    )
    assert result.returncode == 0, result.stderr
    assert '"value": 0.6666666666666666666666666666666667' in result.stdout
    row = json.loads(result.stdout)
    assert [c["evaluated"] for c in row["trace"]["children"]] == [True, True, False]
    assert row["trace"]["children"][2]["reason"] == "not evaluated: an earlier condition is true"


def test_id_selects_one_record_and_a_missing_id_is_an_error(tmp_path: Path) -> None:
    records = _records(tmp_path)
    only = run("eval", "--expr", "c - d", "--records", records, "--trace", "--id", "102")
    assert only.returncode == 0, only.stderr
    assert "record 102" in only.stdout and "record 101" not in only.stdout
    plain = run("eval", "--expr", "c - d", "--records", records, "--id", "101", "--format", "csv")
    assert plain.stdout == "id,value\n101,\n"
    missing = run("eval", "--expr", "c - d", "--records", records, "--id", "999")
    assert missing.returncode == 1
    assert "no record with id 999" in missing.stderr


def test_trace_refuses_csv_and_duckdb(tmp_path: Path) -> None:
    records = _records(tmp_path)
    csv = run("eval", "--expr", "c", "--records", records, "--trace", "--format", "csv")
    assert csv.returncode == 2 and "--trace prints a tree" in csv.stderr
    duck = run("eval", "--expr", "c", "--records", records, "--trace", "--engine", "duckdb")
    assert duck.returncode == 2 and "--engine python" in duck.stderr


DEBUGGING = Path(__file__).parent.parent / "docs" / "debugging.md"


def _examples() -> list[tuple[str, str]]:
    """Each `$ calcformula …` line of docs/debugging.md with the output shown under it."""
    examples: list[tuple[str, str]] = []
    command: str | None = None
    shown: list[str] = []
    in_block = False
    for line in DEBUGGING.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            if in_block and command is not None:
                examples.append((command, "\n".join(shown) + "\n"))
            in_block, command, shown = not in_block, None, []
        elif in_block and line.startswith("$ "):
            if command is not None:
                examples.append((command, "\n".join(shown) + "\n"))
            command, shown = line[2:], []
        elif in_block and command is not None:
            shown.append(line)
    return examples


EXAMPLES = _examples()


def test_the_debugging_page_has_an_example_for_each_cause() -> None:
    commands = " ".join(command for command, _ in EXAMPLES)
    for formula in ("c - d", "if amount > 1000", " or bool(", "hs_is_closed = 1", " / quantity"):
        assert formula in commands
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize(("command", "expected"), EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_debugging_examples_print_what_the_page_shows(command: str, expected: str) -> None:
    program, *args = shlex.split(command)
    assert program == "calcformula"
    result = run(*args, cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip("\n") == expected.rstrip("\n")  # a page cannot end in blanks


def test_trace_module_examples() -> None:
    failures, _ = doctest.testmod(calcformula.trace, verbose=False)  # type: ignore[arg-type]
    assert failures == 0
