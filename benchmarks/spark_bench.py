"""Spark: the scale benchmark's formula over 10,000,000 records in Parquet (the same generator,
benchmarks/scale_bench.py), on one local Spark session with 2 cores (`local[2]`), in one run:

- the Spark engine (`calcformula eval --engine spark`'s code: calcformula.spark_engine) writing
  its CSV part files, against a hand-written Spark SQL query of the same formula writing the same;
- the compute alone, the engine's SQL against the hand-written SQL (an aggregate, no output).

Target (issue 17): the Spark engine within 1.3x of the hand-written query. The JVM's start (tens
of seconds on a loaded machine) is outside both timings: it is paid once per CLI run whatever the
size, and not at all with --spark-remote.

Run: python benchmarks/spark_bench.py [--rows N] [--quick]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from scale_bench import FORMULA, NOW, SCHEMA, generate

from calcformula import check
from calcformula.spark import local_session
from calcformula.spark_engine import SparkEngine

# The formula as a person would write it for Spark, with the same exact decimals.
HAND_WRITTEN = (
    "CASE WHEN closedate IS NULL OR createdate IS NULL THEN NULL ELSE "
    "GREATEST(0, FLOOR(CAST(unix_millis(closedate) - unix_millis(createdate) AS DECIMAL(38, 10)) "
    "/ 86400000)) END"
)


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    rows = 10_000_000
    if "--quick" in sys.argv:
        rows = 200_000
    if "--rows" in sys.argv:
        rows = int(sys.argv[sys.argv.index("--rows") + 1])
    started = time.perf_counter()
    session = local_session("local[2]")
    session.conf.set("spark.sql.shuffle.partitions", "2")
    jvm = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "deals.parquet"
        generate(data, rows)
        engine = SparkEngine(
            [("value", check(FORMULA, schema=SCHEMA))], data, SCHEMA, NOW, session=session
        )
        session.read.parquet(str(data)).createOrReplaceTempView("deals")
        hand = session.sql(
            "SELECT CAST(hs_object_id AS STRING) AS id, "
            f"CAST({HAND_WRITTEN} AS STRING) AS value FROM deals"
        )
        ours = f"SELECT count(`value`), sum(`value`) FROM ({engine._query('values')})"
        theirs = f"SELECT count(v), sum(v) FROM (SELECT {HAND_WRITTEN} AS v FROM deals)"
        session.sql(ours).collect()  # warm the file cache and the JIT for both
        session.sql(theirs).collect()

        def write_engine(n: int) -> None:
            engine.write("csv", str(Path(folder) / f"tool{n}"))

        def write_hand(n: int) -> None:
            hand.write.option("header", "true").csv(str(Path(folder) / f"hand{n}"))

        # Alternating runs, best of three each: the machine is shared, so load comes and goes.
        tool_times, hand_times, ours_times, theirs_times = [], [], [], []
        for n in range(3):
            tool_times.append(seconds(lambda n=n: write_engine(n)))  # type: ignore[misc]
            hand_times.append(seconds(lambda n=n: write_hand(n)))  # type: ignore[misc]
            ours_times.append(seconds(lambda: session.sql(ours).collect()))
            theirs_times.append(seconds(lambda: session.sql(theirs).collect()))
        tool_time, hand_time = min(tool_times), min(hand_times)
        ours_time, theirs_time = min(ours_times), min(theirs_times)

        def written(name: str) -> Any:
            return session.read.option("header", "true").csv(str(Path(folder) / name))

        # Compared in Spark: collecting 10M rows to Python runs the driver out of heap.
        tool_rows, hand_rows = written("tool0"), written("hand0")
        same = (
            tool_rows.count() == hand_rows.count() == rows
            and tool_rows.exceptAll(hand_rows).isEmpty()
            and hand_rows.exceptAll(tool_rows).isEmpty()
        )
        agree = session.sql(ours).collect() == session.sql(theirs).collect()
    session.stop()

    print(f"{rows:,} records in Parquet, Spark local[2] (JVM start {jvm:.1f} s, not counted)")
    print(f"formula: {FORMULA}")
    print(
        f"CSV part files written: Spark engine {tool_time:6.2f} s "
        f"({rows / tool_time / 1e6:5.2f} M rows/s), hand-written Spark SQL {hand_time:6.2f} s "
        f"({rows / hand_time / 1e6:5.2f} M rows/s); ratio {tool_time / hand_time:.2f}x "
        f"(target 1.3x); same output: {same}"
    )
    print(
        f"compute only (aggregate): engine SQL {ours_time:6.3f} s "
        f"({rows / ours_time / 1e6:5.2f} M rows/s), hand-written {theirs_time:6.3f} s "
        f"({rows / theirs_time / 1e6:5.2f} M rows/s); ratio {ours_time / theirs_time:.2f}x; "
        f"same answer: {agree}"
    )


if __name__ == "__main__":
    main()
