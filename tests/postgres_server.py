"""A throwaway PostgreSQL server for the differential tests: Debian's binaries, a cluster in a
temporary folder, listening on a Unix socket only, removed afterwards.

.ci/run installs PostgreSQL from Debian and sets CALCFORMULA_REQUIRE_POSTGRES=1, so in CI the
tests that need it fail rather than skip when it is missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REQUIRED = bool(os.environ.get("CALCFORMULA_REQUIRE_POSTGRES"))


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"PostgreSQL is required here (CALCFORMULA_REQUIRE_POSTGRES): {reason}")
    pytest.skip(f"{reason} (.ci/run installs PostgreSQL)")


@contextmanager
def running() -> Iterator[str]:
    """Starts a server; yields a psycopg connection string."""
    bindir = binaries()
    if bindir is None:
        unavailable("PostgreSQL's initdb is not installed")
        raise AssertionError  # pragma: no cover
    folder = Path(tempfile.mkdtemp(prefix="calcformula-pg-"))
    # initdb refuses to run as root: run the server as Debian's `postgres` user then.
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    try:
        subprocess.run(
            [
                *prefix,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "calcformula",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
        )
        options = f"-k {folder} -c listen_addresses='' -p 5439 -c fsync=off"
        subprocess.run(
            [
                *prefix,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(folder / "server.log"),  # else the server holds our pipes open
                "-o",
                options,
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except subprocess.CalledProcessError as error:
        shutil.rmtree(folder, ignore_errors=True)
        unavailable(f"PostgreSQL did not start: {error.stderr.decode(errors='replace')[-500:]}")
    try:
        yield f"host={folder} port=5439 user=calcformula dbname=postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)
