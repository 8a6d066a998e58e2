"""`calcformula eval --engine spark`, driven as a subprocess: on a local Spark session and through
a Spark Connect server started here, the Spark engine prints the Python engine's output for the
bundled examples (CSV, NDJSON, Parquet made from the CSV, a folder of part files), writes folders
of part files with --output, reports unreadable rows, and fails clearly where it cannot run.

One Spark Connect server (one JVM) serves the module's tests; only one test starts a local
session in the CLI's own process, the default path."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.spark_session import _missing
from tests.test_duckdb_engine import CONTACTS, DEALS, MANIFEST, _parquet, deals, summary

CONTACT_TIER = ["eval", MANIFEST, "--object", "contacts", "--property", "cf_lead_tier"]


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    # A local session starts a JVM in the CLI's process: slow on a loaded machine.
    return subprocess.run(
        [sys.executable, "-m", "calcformula", *args],
        capture_output=True,
        text=True,
        timeout=400,
        env=env,
        cwd=cwd,
    )


def timeless(text: str) -> str:
    return re.sub(r'"seconds": [0-9.e-]+', '"seconds": 0', text)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Spark Connect server on a loopback port (pyspark ships the server's jar)."""
    try:
        import pyspark
        import pyspark.sql.connect.session
    except ImportError as problem:
        _missing(f"pyspark with Spark Connect is not installed ({problem})")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        _missing("no Java runtime (apt-get install openjdk-17-jre-headless)")
    home = Path(pyspark.__file__).parent
    port = _free_port()
    log = tmp_path_factory.mktemp("connect") / "server.log"
    command = [
        str(home / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        "local[2]",
    ]
    for setting in (
        f"spark.connect.grpc.binding.port={port}",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "spark.driver.bindAddress=127.0.0.1",
        "spark.driver.host=127.0.0.1",
        "spark.ui.enabled=false",
        "spark.sql.shuffle.partitions=4",
    ):
        command += ["--conf", setting]
    with log.open("w") as output:
        server = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SPARK_HOME": str(home)},
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the Spark Connect server did not start:\n{log.read_text()}")
                time.sleep(1)
        yield f"sc://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:  # pragma: no cover
            server.kill()
            server.wait()


def test_local_session_prints_the_python_engines_csv() -> None:
    """The default: a local Spark session in the CLI's process."""
    python = run(*deals("--records", DEALS, "--format", "csv", "--engine", "python"))
    spark = run(*deals("--records", DEALS, "--format", "csv", "--engine", "spark"))
    assert python.returncode == 0, python.stderr
    assert spark.returncode == 0, spark.stderr
    assert spark.stdout == python.stdout
    assert python.stdout.count("\n") == 301
    assert summary(spark.stderr) == summary(python.stderr)
    assert "Traceback" not in spark.stderr


@pytest.mark.parametrize("output", ["csv", "table", "json", "ndjson"])
def test_csv_through_spark_connect(remote: str, output: str) -> None:
    python = run(*deals("--records", DEALS, "--format", output, "--engine", "python"))
    spark = run(
        *deals(
            "--records", DEALS, "--format", output, "--engine", "spark", "--spark-remote", remote
        )
    )
    assert spark.returncode == python.returncode == 0, spark.stderr
    # Only the JSON summary's running time differs.
    assert timeless(spark.stdout) == timeless(python.stdout)
    if output != "json":
        assert summary(spark.stderr) == summary(python.stderr)


def test_ndjson_records(remote: str) -> None:
    base = [*CONTACT_TIER, "--records", CONTACTS, "--format", "ndjson"]
    python = run(*base, "--engine", "python")
    spark = run(*base, "--engine", "spark", "--spark-remote", remote)
    assert spark.returncode == python.returncode == 0, spark.stderr
    assert spark.stdout == python.stdout
    assert python.stdout.count("\n") == 200


def test_parquet_text_and_typed_columns(remote: str, tmp_path: Path) -> None:
    python = run(*deals("--records", DEALS, "--format", "csv", "--engine", "python"))
    for typed in (False, True):
        parquet = _parquet(tmp_path, typed)
        spark = run(
            *deals("--records", str(parquet), "--format", "csv", "--engine", "spark"),
            *("--spark-remote", remote),
        )
        assert spark.returncode == 0, spark.stderr
        assert spark.stdout == python.stdout, typed


def _split(source: str, folder: Path, parts: int) -> Path:
    """The CSV as Spark writes it: part files, each with the header, plus `_SUCCESS`."""
    header, *lines = Path(source).read_text(encoding="utf-8").splitlines(keepends=True)
    folder.mkdir()
    size = -(-len(lines) // parts)
    for n in range(parts):
        chunk = lines[n * size : (n + 1) * size]
        (folder / f"part-{n:05d}.csv").write_text(header + "".join(chunk), encoding="utf-8")
    (folder / "_SUCCESS").write_text("")
    return folder


def test_a_folder_of_part_files(remote: str, tmp_path: Path) -> None:
    folder = _split(DEALS, tmp_path / "deals", 3)
    python = run(*deals("--records", DEALS, "--format", "csv", "--engine", "python"))
    spark = run(
        *deals("--records", str(folder), "--format", "csv", "--engine", "spark"),
        *("--spark-remote", remote),
    )
    assert spark.returncode == 0, spark.stderr
    # Part files are read in parallel: the same rows, in an order Spark chooses.
    assert sorted(spark.stdout.splitlines()) == sorted(python.stdout.splitlines())
    # Relative paths are this process's, not the Spark Connect server's working folder.
    relative = run(
        *deals("--records", "deals", "--format", "csv", "--engine", "spark", "--output", "out"),
        *("--spark-remote", remote),
        cwd=tmp_path,
    )
    assert relative.returncode == 0, relative.stderr
    written = _read_parts(tmp_path / "out", ".csv")
    assert sorted(set(written)) == sorted(python.stdout.splitlines())
    refused = run(*deals("--records", str(folder), "--engine", "python"))
    assert refused.returncode == 2


def _read_parts(folder: Path, suffix: str) -> list[str]:
    parts = sorted(folder.glob(f"part-*{suffix}"))
    assert parts, list(folder.iterdir())
    assert (folder / "_SUCCESS").exists()
    return [line for part in parts for line in part.read_text(encoding="utf-8").splitlines()]


def test_output_is_a_folder_of_part_files(remote: str, tmp_path: Path) -> None:
    python = run(*deals("--records", DEALS, "--format", "csv", "--engine", "python"))
    target = tmp_path / "out"
    spark = run(
        *deals("--records", DEALS, "--format", "csv", "--engine", "spark", "--output", str(target)),
        *("--spark-remote", remote),
    )
    assert spark.returncode == 0, spark.stderr
    assert "Spark engine" in spark.stderr
    assert summary(spark.stderr) == summary(python.stderr)
    lines = _read_parts(target, ".csv")
    header, *rows = python.stdout.splitlines()
    assert lines.count(header) == len(list(target.glob("part-*.csv")))
    assert sorted(line for line in lines if line != header) == sorted(rows)
    again = run(
        *deals("--records", DEALS, "--format", "csv", "--engine", "spark", "--output", str(target)),
        *("--spark-remote", remote),
    )
    # Never over a folder that exists (it may hold the user's data).
    assert again.returncode == 2 and "Traceback" not in again.stderr, again.stderr
    assert "exists" in again.stderr or "directory" in again.stderr, again.stderr

    base = [*CONTACT_TIER, "--records", CONTACTS, "--format", "ndjson"]
    python = run(*base, "--engine", "python")
    target = tmp_path / "ndjson"
    spark = run(*base, "--engine", "spark", "--spark-remote", remote, "--output", str(target))
    assert spark.returncode == 0, spark.stderr
    import json

    expected = sorted(json.dumps(json.loads(line)) for line in python.stdout.splitlines())
    found = sorted(json.dumps(json.loads(line)) for line in _read_parts(target, ".txt"))
    assert found == expected


def test_unreadable_rows_are_reported(remote: str, tmp_path: Path) -> None:
    records = tmp_path / "records.csv"
    records.write_text("id,a\n1,2\n2,3,4\n3,5\n4\n", encoding="utf-8")
    args = ["eval", "--expr", "a * 2", "--records", str(records), "--format", "csv"]
    python = run(*args, "--engine", "python")
    spark = run(*args, "--engine", "spark", "--spark-remote", remote)
    assert python.returncode == spark.returncode == 1, spark.stderr
    assert spark.stdout.splitlines() == python.stdout.splitlines() == ["id,value", "1,4", "3,10"]
    for line in (3, 5):
        # The same words on both engines, the line's problem included.
        problem = re.search(rf"line {line}: [^\n]*", python.stderr)
        assert problem is not None and problem.group(0) in spark.stderr, spark.stderr
    assert "2 skipped" in spark.stderr and "2 skipped" in python.stderr

    lines = tmp_path / "records.ndjson"
    lines.write_text('{"id": "1", "a": "2"}\n[1, 2\n{"id": "3", "a": "5"}\n', encoding="utf-8")
    args = ["eval", "--expr", "a * 2", "--records", str(lines), "--format", "csv"]
    spark = run(*args, "--engine", "spark", "--spark-remote", remote)
    assert spark.returncode == 1, spark.stderr
    assert spark.stdout.splitlines() == ["id,value", "1,4", "3,10"]
    assert "1 skipped" in spark.stderr and "line 2: not a JSON object" in spark.stderr

    # In a folder, the line is the part file's, and the part file is named.
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "part-00000.csv").write_text("id,a\n1,2\n", encoding="utf-8")
    (folder / "part-00001.csv").write_text("id,a\n3,5\n4,6,7\n", encoding="utf-8")
    args = ["eval", "--expr", "a * 2", "--records", str(folder), "--format", "csv"]
    spark = run(*args, "--engine", "spark", "--spark-remote", remote)
    assert spark.returncode == 1, spark.stderr
    assert sorted(spark.stdout.splitlines()) == ["1,4", "3,10", "id,value"]
    assert "line 3: part-00001.csv: 3 fields where the header has 2" in spark.stderr


def test_a_refused_connection_is_a_clear_error() -> None:
    port = _free_port()  # nothing listens there
    result = run(
        *deals("--records", DEALS, "--engine", "spark", "--spark-remote", f"sc://127.0.0.1:{port}")
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"127.0.0.1:{port}" in result.stderr
    wrong = run(*deals("--records", DEALS, "--engine", "spark", "--spark-remote", "localhost:1"))
    assert wrong.returncode == 2 and "sc://HOST:PORT" in wrong.stderr
    other = run(*deals("--records", DEALS, "--engine", "python", "--spark-remote", "sc://h:1"))
    assert other.returncode == 2 and "--engine spark" in other.stderr


def test_without_pyspark_the_option_says_what_to_install(tmp_path: Path) -> None:
    blocker = tmp_path / "blocked" / "pyspark"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('pyspark is not installed')\n")
    env = {**os.environ, "PYTHONPATH": str(blocker.parent)}
    result = run(*deals("--records", DEALS, "--engine", "spark"), env=env)
    assert result.returncode == 2, result.stderr
    assert "pip install 'calcformula[spark]'" in result.stderr
    assert "Java 17" in result.stderr
    assert "Traceback" not in result.stderr
    auto = run(*deals("--records", DEALS, "--format", "csv"), env=env)
    assert auto.returncode == 0 and "Spark" not in auto.stderr


def test_without_java_the_error_says_so() -> None:
    env = {**os.environ, "JAVA_HOME": "/nonexistent"}
    result = run(*deals("--records", DEALS, "--engine", "spark"), env=env)
    assert result.returncode == 2, result.stderr
    assert "cannot start a local Spark session" in result.stderr
    assert "Java 17" in result.stderr and "Traceback" not in result.stderr
