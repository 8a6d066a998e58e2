"""A local Spark session for the tests (pyspark from the `spark` extra, Java from Debian).

One session serves every test module: starting the JVM costs about ten seconds. The tests that
need it skip when pyspark or Java is missing, unless CALCFORMULA_REQUIRE_SPARK=1 (set by
.ci/run), which turns the skip into a failure.
"""

from __future__ import annotations

import functools
import os
import shutil
from typing import Any

import pytest


@functools.cache
def local_session() -> Any:
    try:
        from calcformula.spark import local_session as start
    except ImportError as problem:  # pragma: no cover - depends on the machine
        _missing(f"pyspark is not installed ({problem})")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        _missing("no Java runtime (apt-get install openjdk-17-jre-headless)")
    return start()


def _missing(reason: str) -> None:
    if os.environ.get("CALCFORMULA_REQUIRE_SPARK") == "1":
        pytest.fail(reason)
    pytest.skip(reason)
