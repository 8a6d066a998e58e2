"""`calcformula eval --engine duckdb` and `calcformula sql`, driven as subprocesses: the DuckDB
engine gives the Python engine's values on CSV, NDJSON and Parquet (text and typed columns),
reports unreadable lines, and refuses what it cannot compute."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import duckdb
import hypothesis.strategies as st
from hypothesis import HealthCheck, event, given, settings

from calcformula import check
from calcformula.duckdb_engine import DuckDBEngine, EngineError
from tests.test_cli import EXAMPLES, run

MANIFEST = str(EXAMPLES / "calcformula.yaml")
DEALS = str(EXAMPLES / "records" / "deals.csv")
CONTACTS = str(EXAMPLES / "records" / "contacts.ndjson")
# The example properties whose formulas SQL can express (the others read portal data).
DEAL_PROPERTIES = ["cf_days_to_close", "cf_size_band", "cf_amount_home"]
NOW = "2026-11-01T00:00:00Z"


def deals(*extra: str) -> list[str]:
    options = ["eval", MANIFEST, "--object", "deals", "--now", NOW]
    for name in DEAL_PROPERTIES:
        options += ["--property", name]
    return [*options, *extra]


def test_csv_results_are_the_python_engines(tmp_path: Path) -> None:
    python = run(*deals("--records", DEALS, "--format", "csv", "--engine", "python"))
    engine = run(*deals("--records", DEALS, "--format", "csv", "--engine", "duckdb"))
    assert python.returncode == engine.returncode == 0, engine.stderr
    assert engine.stdout == python.stdout
    assert python.stdout.count("\n") == 301
    # Written by DuckDB itself (COPY), the file is the same too.
    output = tmp_path / "out.csv"
    direct = run(
        *deals("--records", DEALS, "--format", "csv", "--engine", "duckdb", "--output", str(output))
    )
    assert direct.returncode == 0, direct.stderr
    assert output.read_text(encoding="utf-8") == python.stdout
    assert "DuckDB engine" in direct.stderr
    assert summary(direct.stderr) == summary(python.stderr) == summary(engine.stderr)


def summary(stderr: str) -> tuple[str, ...]:
    found = re.search(r"(\d+) record\(s\): (\d+) blank", stderr)
    assert found is not None, stderr
    return found.groups()


def test_ndjson_results_are_the_python_engines(tmp_path: Path) -> None:
    base = ["eval", MANIFEST, "--object", "contacts", "--property", "cf_lead_tier"]
    base += ["--records", CONTACTS, "--format", "ndjson"]
    python = run(*base, "--engine", "python")
    engine = run(*base, "--engine", "duckdb")
    assert python.returncode == engine.returncode == 0, engine.stderr
    assert engine.stdout == python.stdout
    output = tmp_path / "out.ndjson"
    direct = run(*base, "--engine", "duckdb", "--output", str(output))
    assert direct.returncode == 0, direct.stderr
    lines = [json.loads(line) for line in python.stdout.splitlines()]
    assert [json.loads(line) for line in output.read_text().splitlines()] == lines


def _parquet(tmp_path: Path, typed: bool) -> Path:
    target = tmp_path / ("typed.parquet" if typed else "text.parquet")
    columns = "*"
    if typed:
        columns = (
            '* REPLACE (TRY_CAST("Amount" AS DOUBLE) AS "Amount", '
            'epoch_ms(TRY_CAST("Create Date" AS BIGINT)) AS "Create Date", '
            'epoch_ms(TRY_CAST("Close Date" AS BIGINT)) AS "Close Date")'
        )
    connection = duckdb.connect()
    connection.execute(f"CREATE TABLE deals AS FROM read_csv('{DEALS}', all_varchar = true)")
    connection.execute(f"COPY (SELECT {columns} FROM deals) TO '{target}' (FORMAT parquet)")
    connection.close()
    return target


def test_parquet_goes_to_duckdb_and_agrees(tmp_path: Path) -> None:
    python = run(*deals("--records", DEALS, "--format", "csv", "--engine", "python"))
    for typed in (False, True):
        parquet = _parquet(tmp_path, typed)
        engine = run(*deals("--records", str(parquet), "--format", "csv"))  # --engine auto
        assert engine.returncode == 0, engine.stderr
        assert "evaluating with the DuckDB engine" in engine.stderr
        assert engine.stdout == python.stdout, typed
    refused = run(*deals("--records", str(parquet), "--engine", "python"))
    assert refused.returncode == 2 and "Parquet" in refused.stderr


def test_unreadable_csv_lines_are_reported_with_their_numbers(tmp_path: Path) -> None:
    records = tmp_path / "records.csv"
    records.write_text("id,a\n1,2\n2,3,4\n3,5\n", encoding="utf-8")
    for engine in ("python", "duckdb"):
        result = run(
            "eval",
            "--expr",
            "a * 2",
            "--records",
            str(records),
            "--format",
            "csv",
            "--engine",
            engine,
        )
        assert result.returncode == 1, (engine, result.stderr)
        assert "line 3:" in result.stderr and "record skipped" in result.stderr, engine
        assert result.stdout.splitlines() == ["id,value", "1,4", "3,10"], engine


def test_what_sql_cannot_compute_is_refused(tmp_path: Path) -> None:
    records = tmp_path / "records.csv"
    records.write_text("id,phone\n1,+49\n", encoding="utf-8")
    result = run(
        "eval",
        "--expr",
        "regex_matches(string(phone), '[0-9]+')",
        "--records",
        str(records),
        "--engine",
        "duckdb",
    )
    assert result.returncode == 2
    assert "CF701" in result.stderr and "--engine python" in result.stderr
    # auto keeps the Python engine for a CSV it could not translate.
    auto = run(
        "eval", "--expr", "regex_matches(string(phone), '[0-9]+')", "--records", str(records)
    )
    assert auto.returncode == 0 and "false" in auto.stdout


def test_malformed_ndjson_stops_the_engine_with_a_message(tmp_path: Path) -> None:
    records = tmp_path / "records.ndjson"
    records.write_text('{"id": "1", "a": "2"}\n{"id": "2", "a": \n', encoding="utf-8")
    result = run("eval", "--expr", "a + 1", "--records", str(records), "--engine", "duckdb")
    assert result.returncode == 2
    assert "DuckDB engine stopped" in result.stderr and "Traceback" not in result.stderr


def test_sql_command_prints_a_select_that_runs(tmp_path: Path) -> None:
    result = run(
        "sql",
        MANIFEST,
        "--object",
        "deals",
        "--property",
        "cf_days_to_close",
        "--property",
        "cf_size_band",
        "--table",
        "deals",
        "--now",
        NOW,
    )
    assert result.returncode == 0, result.stderr
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    schema = json.loads((EXAMPLES / "schema" / "deals.json").read_text())["results"]
    labels = {p["label"]: p["name"] for p in schema}
    source = connection.execute(f"SELECT * FROM read_csv('{DEALS}', all_varchar = true)")
    headers = [d[0] for d in source.description]
    renamed = ", ".join(
        f'"{h}" AS "{"hs_object_id" if h == "Record ID" else labels.get(h, h.lower())}"'
        for h in headers
    )
    connection.execute(
        f"CREATE TABLE deals AS SELECT {renamed} FROM read_csv('{DEALS}', all_varchar = true)"
    )
    rows = connection.execute(result.stdout.rstrip().rstrip(";")).fetchall()
    python = run(*deals("--records", DEALS, "--format", "csv", "--engine", "python"))
    expected = [
        [*line.split(",")[:2], line.split(",")[3]] for line in python.stdout.splitlines()[1:]
    ]
    got = [[str(i), "" if d is None else format(d.normalize(), "f"), s or ""] for i, d, s in rows]
    assert got == expected


def test_sql_command_exit_codes() -> None:
    assert run("sql", "--expr", "a + 1", "--dialect", "postgres").returncode == 0
    refused = run("sql", "--expr", "regex_matches(string(x), 'a')")
    assert refused.returncode == 1 and "CF701" in refused.stderr
    broken = run("sql", "--expr", "a +")
    assert broken.returncode == 1
    assert run("sql").returncode == 2
    assert run("sql", "--expr", "a", "--columns", "typed").returncode == 2
    assert run("sql", "--expr", "a", "--dialect", "nosuch").returncode == 2


def test_missing_columns_and_non_object_lines_match_the_python_engine(tmp_path: Path) -> None:
    csv_file = tmp_path / "records.csv"
    csv_file.write_text("id,b\n1,2\n", encoding="utf-8")
    ndjson = tmp_path / "records.ndjson"
    ndjson.write_text('{"id": "1", "a": "2"}\n[1, 2]\n{"id": "3", "a": "5"}\n', encoding="utf-8")
    for records, code in ((csv_file, 0), (ndjson, 1)):
        outputs = []
        for engine in ("python", "duckdb"):
            result = run(
                "eval", "--expr", "coalesce(a, 0) + 1", "--records", str(records),
                "--format", "csv", "--engine", engine,
            )  # fmt: skip
            assert result.returncode == code, (engine, result.stderr)
            assert "Traceback" not in result.stderr
            outputs.append(result.stdout)
            if code:
                assert "line 2:" in result.stderr and "not" in result.stderr
                assert "1 unreadable" in result.stderr
        assert outputs[0] == outputs[1], records


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.binary(max_size=300) | st.text(alphabet='ab,"\n\r{}[]:1 é', max_size=120).map(str.encode),
    st.sampled_from([".csv", ".ndjson", ".parquet"]),
)
def test_any_file_gives_rows_or_an_engine_error(data: bytes, suffix: str) -> None:
    """Whatever the bytes, the engine answers with rows and problems or an EngineError."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"records{suffix}"
        path.write_bytes(data)
        try:
            engine = DuckDBEngine([("value", check("coalesce(a, 0) + 1"))], path, None, 0)
            try:
                rows = list(engine.rows())
                problems = engine.problems()
            finally:
                engine.close()
        except EngineError as error:
            # A refusal is the documented kind: one line that names the file it could not
            # read, or says the engine stopped and what to use instead.
            message = str(error)
            event("EngineError")
            assert message and "\n" not in message, message
            assert "Traceback" not in message
            assert str(path) in message or (
                message.startswith("the DuckDB engine stopped") and "--engine python" in message
            ), message
            return
        event("rows")
        assert all(isinstance(record_id, str) for record_id, _ in rows)
        assert all(problem.line >= 1 for problem in problems)
