"""`calcformula eval` over record files, as a user meets it: warnings for missing columns,
malformed input reported with line numbers, stage labels, stdin, progress on a terminal; and
one answer whatever the engine (a differential test of the printed bytes through
`calcformula.batch.run`, the library the CLI is a thin shell over)."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from calcformula import check
from calcformula.batch import FORMATS, BatchError, Formula, Notice, Source, run
from calcformula.diagnostics import Severity
from calcformula.evaluator import CompiledFormula, EvalContext, PortalContext
from calcformula.schema import Schema
from tests.cases import CONFORMANCE, Case, eval_inputs, load_cases
from tests.test_cli import EXAMPLES
from tests.test_cli import run as cli
from tests.test_sql import DIFF_SCHEMA, NOW, formulas, records

CASES = load_cases("eval")
# The engines that run in this process. Spark prints the same bytes too, but one JVM per case
# would take minutes: tests/test_spark.py runs every case on one Spark session and
# tests/test_spark_engine.py compares the command's output.
ENGINES = ("auto", "python", "duckdb")


# --- one answer whatever the engine ----------------------------------------------------------


def _outputs(
    formula: str,
    rows: list[dict[str, object]],
    schema: Schema | None,
    portal: PortalContext | None,
    now_ms: int,
) -> None:
    """Every engine prints the same bytes in every format, unless the DuckDB engine said
    (a warning) that its numbers can differ for this formula."""
    checked = check(formula, schema=schema)
    assert checked.ok, checked.diagnostics
    compiled = CompiledFormula(checked, schema, EvalContext(now_ms=now_ms, portal=portal))
    targets = [Formula("value", compiled)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "records.ndjson"
        path.write_text(
            "".join(json.dumps({"id": str(i), "properties": r}) + "\n" for i, r in enumerate(rows))
        )
        for output in FORMATS:
            printed: dict[str, str] = {}
            warned: dict[str, bool] = {}
            for engine in ENGINES:
                stream = io.StringIO()
                notices: list[Notice] = []
                try:
                    run(
                        targets,
                        Source.from_path(path),
                        output=output,
                        stream=stream,
                        engine=engine,
                        schema=schema,
                        portal=portal,
                        now_ms=now_ms,
                        on_notice=notices.append,
                    )
                except BatchError as error:  # CF701: no SQL for this formula; said, not wrong
                    assert engine == "duckdb" and "--engine python" in str(error)
                    continue
                printed[engine] = stream.getvalue()
                # DECIMAL(38,10) holds numbers of up to 5 decimals and their products exactly
                # (the formulas here multiply two such values at most), so for such records
                # only quotients excuse a difference.
                reasons = " ".join(n.message for n in notices if n.severity is Severity.WARNING)
                warned[engine] = "quotients" in reasons or (
                    "DECIMAL(38,10)" in reasons and _long_numbers(rows)
                )
            assert printed["auto"] == printed["python"], (formula, output)
            assert not warned["python"] and not warned["auto"]
            if "duckdb" in printed and not warned["duckdb"]:
                assert printed["duckdb"] == printed["python"], (formula, output, rows)


def _long_numbers(rows: list[dict[str, object]]) -> bool:
    for row in rows:
        for value in row.values():
            mantissa = re.split("[eE]", str(value).strip())[0]
            found = re.fullmatch(r"[+-]?(\d*)(?:\.(\d*))?", mantissa)
            if found and (len(found.group(2) or "") > 5 or len(found.group(1)) > 14):
                return True
    return False


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_engines_print_the_same_bytes_on_the_conformance_cases(case: Case) -> None:
    inputs = eval_inputs(case)
    schema = (
        Schema.load(CONFORMANCE / "schemas" / f"{inputs.object_name}.json")
        if inputs.object_name
        else None
    )
    portal = (
        PortalContext.load(CONFORMANCE / "portal.json")
        if case.sections.get("portal") == "yes"
        else None
    )
    rows = [r.get("properties", r) if isinstance(r, dict) else r for r in inputs.records]
    _outputs(case.formula, rows, schema, portal, inputs.now_ms or NOW)  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(formulas(), records())
def test_engines_print_the_same_bytes_on_generated_formulas(
    formula: str, rows: list[dict[str, object]]
) -> None:
    _outputs(formula, rows, DIFF_SCHEMA, None, NOW)


def test_explicit_duckdb_says_what_differs(tmp_path: Path) -> None:
    records = tmp_path / "r.csv"
    records.write_text("id,a\n1,1\n2,0.12345678901234\n")
    exact = cli("eval", "--expr", "a / 3", "--records", str(records), "--format", "csv")
    fast = cli(
        "eval", "--expr", "a / 3", "--records", str(records), "--format", "csv",
        "--engine", "duckdb",
    )  # fmt: skip
    assert exact.returncode == fast.returncode == 0, fast.stderr
    assert "can differ" not in exact.stderr
    assert "quotients" in fast.stderr and "10 decimals" in fast.stderr
    assert exact.stdout != fast.stdout  # the difference the warning announces
    # A 30-digit number does not stop the DuckDB engine: its value is blank, as warned.
    records.write_text("id,a\n1,123456789012345678901234567890\n2,5\n")
    long = cli(
        "eval", "--expr", "a + 1", "--records", str(records), "--format", "csv",
        "--engine", "duckdb",
    )  # fmt: skip
    assert long.returncode == 0, long.stderr
    assert long.stdout.splitlines() == ["id,value", "1,", "2,6"]
    assert "28 integer digits" in long.stderr


# --- records the formula cannot find ---------------------------------------------------------


def test_a_missing_column_is_one_warning_with_a_did_you_mean() -> None:
    deals = str(EXAMPLES / "records" / "deals.csv")
    for engine in ("python", "duckdb"):
        result = cli(
            "eval", "--expr", "amout * 2", "--records", deals, "--format", "csv",
            "--engine", engine,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stderr.count("`amout` is not a column") == 1, result.stderr
        assert "did you mean `amount`?" in result.stderr
        # The export's headers are labels and no schema was given.
        assert "pass the object's schema (--schema)" in result.stderr
    schema = str(EXAMPLES / "schema" / "deals.json")
    fine = cli("eval", "--expr", "amount * 2", "--records", deals, "--schema", schema)
    assert fine.returncode == 0 and "warning" not in fine.stderr, fine.stderr


def test_a_key_no_json_record_has_is_a_warning(tmp_path: Path) -> None:
    records = tmp_path / "r.ndjson"
    records.write_text('{"amount": "1"}\n{"amount": "2"}\n')
    result = cli("eval", "--expr", "amuont + 1", "--records", str(records), "--format", "csv")
    assert result.stderr.count("no record of") == 1
    assert "did you mean `amount`?" in result.stderr


def test_stage_labels_are_read_as_stage_ids(tmp_path: Path) -> None:
    records = tmp_path / "deals.csv"
    records.write_text("Record ID,dealstage\n1,Contract sent\n2,closedwon\n3,Nope\n")
    portal = str(EXAMPLES / "portal.json")
    result = cli(
        "eval", "--expr", "pipeline_probability(string(dealstage))", "--records", str(records),
        "--portal", portal, "--format", "csv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:3] == ["id,value", "1,0.9", "2,1"]
    assert "stage labels (`Contract sent`)" in result.stderr
    for engine in ("python", "duckdb"):
        same = cli(
            "eval", "--expr", "string(dealstage) = 'contractsent'", "--records", str(records),
            "--portal", portal, "--format", "csv", "--engine", engine,
        )  # fmt: skip
        assert same.stdout.splitlines() == ["id,value", "1,true", "2,false", "3,false"], engine


# --- malformed input -------------------------------------------------------------------------

MALFORMED = {
    "unterminated quote": (b'id,a\n1,2\n2,"x\n3,4\n', "line 3:", ["1,3"]),
    "wrong number of fields": (b"id,a\n1,2\n2,3,4\n3,4\n", "line 3:", ["1,3", "3,5"]),
    "undecodable byte": (b"id,a\n1,2\n2,\xff\xfe\n3,4\n", "line 3:", ["1,3", "3,5"]),
    "binary file": (b"PAR1\x00\x00\x01id,a\n1,2\n", "line 1:", []),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_csv_is_reported_with_its_line_in_both_engines(name: str, tmp_path: Path) -> None:
    data, where, rows = MALFORMED[name]
    records = tmp_path / "r.csv"
    records.write_bytes(data)
    for engine in ("python", "duckdb"):
        result = cli(
            "eval", "--expr", "a + 1", "--records", str(records), "--format", "csv",
            "--engine", engine,
        )  # fmt: skip
        assert result.returncode == 1, (engine, result.stderr)
        assert where in result.stderr and "skipped" in result.stderr, (engine, result.stderr)
        assert result.stdout.splitlines()[1:] == rows, (engine, result.stdout)
        assert "Traceback" not in result.stderr


def test_unreadable_records_are_skipped_and_the_others_evaluated(tmp_path: Path) -> None:
    from calcformula.records import MAX_LINE_BYTES

    records = tmp_path / "r.ndjson"
    lines = [
        '{"id": "1", "a": "2"}',
        '{"id": "2", "a": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"id": "3", "a": ' + "9" * 5000 + "}",
        '{"id": "4", "a": "' + "x" * (MAX_LINE_BYTES + 10) + '"}',
        '{"id": "5", "a": "6"}',
    ]
    records.write_text("\n".join(lines) + "\n")
    for output, engine in (("csv", "python"), ("table", "python"), ("csv", "duckdb")):
        result = cli(
            "eval", "--expr", "a + 1", "--records", str(records), "--format", output,
            "--engine", engine,
        )  # fmt: skip
        assert result.returncode == 1, result.stderr
        for line in (2, 3, 4):
            assert f"line {line}:" in result.stderr, result.stderr
        assert "digits" in result.stderr and "longer than" in result.stderr
        assert "2 record(s)" in result.stderr and "3 skipped" in result.stderr
        if output == "csv":
            assert result.stdout.splitlines() == ["id,value", "1,3", "5,7"], engine
        if engine == "python":
            assert "nested more than" in result.stderr


def test_a_glob_in_a_file_name_is_read_literally(tmp_path: Path) -> None:
    (tmp_path / "a*.csv").write_text("id,a\n1,2\n")
    (tmp_path / "ab.csv").write_text("id,a\n9,9\n")
    (tmp_path / "[x].csv").write_text("id,a\n1,2\n")
    (tmp_path / "x.csv").write_text("id,a\n9,9\n")
    for name in ("a*.csv", "[x].csv"):
        result = cli(
            "eval", "--expr", "a + 1", "--records", str(tmp_path / name), "--format", "csv",
            "--engine", "duckdb",
        )  # fmt: skip
        assert result.stdout.splitlines() == ["id,value", "1,3"], (name, result.stderr)


# --- the command line ------------------------------------------------------------------------


def test_eval_dash_reads_the_formula_and_records_dash_the_records(tmp_path: Path) -> None:
    formula = cli("eval", "-", "--record", '{"a": "2"}', "--format", "csv", stdin="a * 3\n")
    assert formula.returncode == 0, formula.stderr
    assert formula.stdout.splitlines() == ["id,value", "1,6"]
    records = cli("eval", "--expr", "a * 3", "--records", "-", "--format", "csv", stdin="a\n2\n")
    assert records.returncode == 0, records.stderr
    assert records.stdout.splitlines() == ["id,value", "2,6"]
    both = cli("eval", "-", "--records", "-", stdin="a\n")
    assert both.returncode == 2


@pytest.mark.parametrize("record", ["{broken", "[1, 2]", '[{"a": 1}, {"a": 2}]', "5"])
def test_a_bad_record_is_a_usage_error(record: str) -> None:
    result = cli("eval", "--expr", "a", "--record", record)
    assert result.returncode == 2, result.stderr
    assert "--record" in result.stderr and "Traceback" not in result.stderr


def test_json_summary_counts_say_what_they_count(tmp_path: Path) -> None:
    records = tmp_path / "r.csv"
    records.write_text("id,a\n1,2\n2,apples\n3,4,5\n4,pears\n5,\n")
    result = cli("eval", "--expr", "a + 1", "--records", str(records), "--format", "json")
    summary = json.loads(result.stdout)["summary"]
    assert summary == {
        "records": 4,
        "blank": 3,
        "not_evaluable": 0,
        "unreadable_values": 2,
        "skipped": 1,
    }
    assert "3 blank, 0 not evaluable, 2 unreadable value(s), 1 skipped" in result.stderr


def _big(tmp_path: Path) -> Path:
    records = tmp_path / "big.csv"
    with records.open("w") as stream:
        stream.write("id,a\n")
        for number in range(300_000):
            stream.write(f"{number},{number}\n")
    return records


def test_progress_on_a_terminal_not_on_a_pipe(tmp_path: Path) -> None:
    records = _big(tmp_path)
    command = [sys.executable, "-m", "calcformula", "eval", "--expr", "a * 2", "--records"]
    command += [str(records), "--format", "csv", "--output", str(tmp_path / "out.csv")]
    piped = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0
    assert "records/s" not in piped.stderr and "\r" not in piped.stderr
    main, child = pty.openpty()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=child)
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    process.wait(timeout=120)
    os.close(main)
    text = seen.decode()
    assert process.returncode == 0, text
    assert "records/s" in text and " of " in text and "MB (" in text, text
    assert "300000 record(s)" in text


def test_pasted_text_is_read_like_a_file() -> None:
    """The library a front end calls: records as text, format guessed from the content."""
    compiled = CompiledFormula(check("a * 2"))
    formulas = [Formula("double", compiled)]
    texts = {
        "csv": "id,a\n1,2\n2,x,y\n",
        "ndjson": '{"id": "1", "a": "2"}\n{"id": "2", "a": [1]}\n',
        "json": '{"results": [{"id": "1", "properties": {"a": "2"}}, 5]}',
    }
    for kind, text in texts.items():
        stream = io.StringIO()
        notices: list[Notice] = []
        summary = run(
            formulas,
            Source.from_text(text),
            output="csv",
            stream=stream,
            on_notice=notices.append,
        )
        assert stream.getvalue() == "id,double\n1,4\n", kind
        assert (summary.records, summary.skipped) == (1, 1), kind
        assert [n.severity for n in notices] == [Severity.WARNING], kind
