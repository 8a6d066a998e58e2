"""Scale: a corpus formula over 10,000,000 records in Parquet (generated), in one run:

- `calcformula eval --engine duckdb` end to end (a subprocess writing a CSV of results);
- the same job as a hand-written DuckDB query (COPY of the same formula, written by hand);
- the compute alone, engine's SQL against the hand-written SQL (an aggregate, no output);
- the compiled Python path on a slice of the same records, as rows per second.

Targets (issue 7): the DuckDB engine within 1.3x of the hand-written query, over 20 million
rows per second on this 2-core machine, memory bounded.

Run: python benchmarks/scale_bench.py [--rows N]
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from calcformula import check
from calcformula.duckdb_engine import DuckDBEngine
from calcformula.evaluator import CompiledFormula, EvalContext
from calcformula.schema import Schema

# HubSpot's own `days_to_close` (corpus): whole days from create to close, never negative.
FORMULA = "max(0, round_down((closedate - createdate) / 86400000, 0))"
NOW = 1_790_000_000_000
SCHEMA = Schema.from_json(
    [
        {"name": "createdate", "type": "datetime", "label": "Create Date"},
        {"name": "closedate", "type": "datetime", "label": "Close Date"},
        {"name": "amount", "type": "number", "label": "Amount"},
    ],
    "deals",
)
# What reaching tens of millions of rows per second takes: 64-bit integer arithmetic, which is
# exact for this one formula (whole days) but not the evaluator's decimal semantics in general.
INTEGER_ONLY = "GREATEST(0, (epoch_ms(closedate) - epoch_ms(createdate)) // 86400000)"
# The same formula as a person would write it for DuckDB, with the same exact decimals.
HAND_WRITTEN = (
    "CASE WHEN closedate IS NULL OR createdate IS NULL THEN NULL ELSE "
    "GREATEST(0, FLOOR(CAST(epoch_ms(closedate) - epoch_ms(createdate) AS DECIMAL(38, 10)) "
    "/ 86400000)) END"
)


def generate(path: Path, rows: int) -> None:
    duckdb.sql(
        f"""
        COPY (
            SELECT i AS hs_object_id,
                   'Deal ' || i AS dealname,
                   CAST(i % 100000 AS DECIMAL(18, 2)) / 7 AS amount,
                   make_timestamp(1700000000000000 + (i * 7919 % 31536000) * 1000000) AS createdate,
                   CASE WHEN i % 10 = 0 THEN NULL
                        ELSE make_timestamp(1700000000000000 + (i * 7919 % 31536000) * 1000000
                                            + (i % 200) * 86400000000 + i % 86400000000)
                   END AS closedate
            FROM range({rows}) AS t(i)
        ) TO '{path}' (FORMAT parquet)
        """
    )


def seconds(action: object) -> float:
    start = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    rows = int(sys.argv[sys.argv.index("--rows") + 1]) if "--rows" in sys.argv else 10_000_000
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "deals.parquet"
        generate(data, rows)
        schema_file = Path(folder) / "deals.json"
        schema_file.write_text(
            '{"results": [{"name": "createdate", "type": "datetime"}, '
            '{"name": "closedate", "type": "datetime"}]}'
        )
        tool_out, hand_out = Path(folder) / "tool.csv", Path(folder) / "hand.csv"
        command = [
            sys.executable, "-m", "calcformula", "eval", "--expr", FORMULA,
            "--schema", str(schema_file), "--records", str(data), "--engine", "duckdb",
            "--format", "csv", "--output", str(tool_out), "--now", "2026-01-01T00:00:00Z",
        ]  # fmt: skip
        tool_time = seconds(lambda: subprocess.run(command, check=True, capture_output=True))
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

        connection = duckdb.connect()
        connection.execute("SET TimeZone = 'UTC'")
        source = f"read_parquet('{data}')"
        hand_copy = (
            f"COPY (SELECT CAST(hs_object_id AS VARCHAR) AS id, "
            f"regexp_replace(CAST(CAST({HAND_WRITTEN} AS DECIMAL(38, 10)) AS VARCHAR), "
            f"'[.]?0+$', '') AS value FROM {source}) TO '{hand_out}' (FORMAT csv, HEADER true)"
        )
        hand_time = seconds(lambda: connection.execute(hand_copy))
        same = tool_out.read_text().splitlines()[1:] == hand_out.read_text().splitlines()[1:]

        checked = check(FORMULA, schema=SCHEMA)
        engine = DuckDBEngine([("value", checked)], data, SCHEMA, NOW)
        ours = (
            engine._query("values").replace(
                "SELECT ", 'SELECT count("value"), sum("value") FROM (SELECT ', 1
            )
            + ")"
        )
        theirs = f"SELECT count(v), sum(v) FROM (SELECT {HAND_WRITTEN} AS v FROM {source})"
        engine.connection.execute(ours)  # warm the file cache for both
        ours_time = min(
            seconds(lambda: engine.connection.execute(ours).fetchall()) for _ in range(3)
        )
        theirs_time = min(seconds(lambda: connection.execute(theirs).fetchall()) for _ in range(3))
        agree = engine.connection.execute(ours).fetchall() == connection.execute(theirs).fetchall()
        integers = f"SELECT count(v), sum(v) FROM (SELECT {INTEGER_ONLY} AS v FROM {source})"
        integer_time = min(
            seconds(lambda: connection.execute(integers).fetchall()) for _ in range(3)
        )

        sample = min(rows, 200_000)
        records = [
            {"createdate": str(a), "closedate": None if b is None else str(b)}
            for a, b in connection.execute(
                f"SELECT epoch_ms(createdate), epoch_ms(closedate) FROM {source} LIMIT {sample}"
            ).fetchall()
        ]
        compiled = CompiledFormula(checked, SCHEMA, EvalContext(now_ms=NOW)).function

        def python_path() -> None:
            for record in records:
                compiled(record, [])

        python_time = seconds(python_path)

    print(f"{rows:,} records in Parquet; formula: {FORMULA}")
    print(
        f"end to end (CSV written): calcformula --engine duckdb {tool_time:6.2f} s "
        f"({rows / tool_time / 1e6:5.2f} M rows/s), hand-written DuckDB COPY {hand_time:6.2f} s; "
        f"ratio {tool_time / hand_time:.2f}x (target 1.3x); same output: {same}; "
        f"peak memory of the calcformula process {peak:.0f} MB"
    )
    print(
        f"compute only (aggregate): engine SQL {ours_time:6.3f} s ({rows / ours_time / 1e6:5.1f} M "
        f"rows/s), hand-written {theirs_time:6.3f} s ({rows / theirs_time / 1e6:5.1f} M rows/s); "
        f"ratio {ours_time / theirs_time:.2f}x; same answer: {agree}"
    )
    print(
        f"for scale: the same formula in 64-bit integers (not decimal semantics) "
        f"{integer_time:6.3f} s ({rows / integer_time / 1e6:5.1f} M rows/s)"
    )
    print(
        f"compiled Python path: {sample / python_time / 1e6:5.2f} M rows/s "
        f"(DuckDB engine compute is {python_time / sample * rows / ours_time:.0f}x faster)"
    )


if __name__ == "__main__":
    main()
