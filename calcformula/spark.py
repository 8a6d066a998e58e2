"""Formulas on Spark: a `pyspark.sql.Column` for users' own DataFrames, and the local session
calcformula's Spark engine uses (docs/scale.md, "Spark and Databricks").

    from calcformula.spark import column
    deals = deals.withColumn("days_to_close", column(formula, schema=deal_schema))

The column is the formula's Spark SQL (the same compiler as `calcformula sql --dialect spark`),
reading each property from a column of the same name holding HubSpot's text, or the columns
given. A formula with no faithful SQL raises `CompileError` with the checker's diagnostics.
The answer does not depend on the session's time zone or ANSI mode. pyspark is the optional
extra `calcformula[spark]`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from calcformula.checker import CheckResult
from calcformula.evaluator import PortalContext
from calcformula.pipeline import translate
from calcformula.schema import Schema
from calcformula.sql import Column

if TYPE_CHECKING:
    from pyspark.sql import Column as SparkColumn
    from pyspark.sql import SparkSession

INSTALL_HINT = "Spark needs pyspark and Java 17 or newer: pip install 'calcformula[spark]'"


def _pyspark() -> Any:
    try:
        import pyspark.sql.functions as functions
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return functions


def column(
    formula: str | CheckResult,
    schema: Schema | None = None,
    context: PortalContext | None = None,
    now: int | dt.datetime | None = None,
    columns: Mapping[str, Column] | None = None,
) -> SparkColumn:
    """The formula as a Spark column expression. `context` supplies pipelines and currencies;
    `now` fixes NOW (default: the query's clock)."""
    compiled = translate(formula, "spark", schema, context, now, columns)
    expression: SparkColumn = _pyspark().expr(compiled.sql())
    return expression


def local_session(
    master: str = "local[*]", remote: str | None = None, app_name: str = "calcformula"
) -> SparkSession:
    """A Spark session: a local one bound to loopback, or Spark Connect at `remote`
    (`sc://host:port`). The session time zone is UTC, which only affects how timestamps are
    shown: calcformula's SQL does not depend on it."""
    _pyspark()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if remote is not None:
        session: SparkSession = builder.remote(remote).getOrCreate()
    else:
        session = (
            builder.master(master)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.log.level", "ERROR")
            .getOrCreate()
        )
    return session
