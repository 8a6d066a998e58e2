"""Formulas as DuckDB expressions for users' own relations (docs/scale.md).

    import duckdb
    from calcformula.duckdb import expression
    duckdb.sql("FROM 'deals.parquet'").select("*", expression(formula).alias("days_to_close"))

The expression is the formula's DuckDB SQL (the same compiler as `calcformula sql`), reading
each property from a column of the same name holding HubSpot's text, or the columns given. A
formula with no faithful SQL raises `CompileError` with the checker's diagnostics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from calcformula.checker import CheckResult
from calcformula.evaluator import PortalContext
from calcformula.pipeline import translate
from calcformula.schema import Schema
from calcformula.sql import Column


def expression(
    formula: str | CheckResult,
    schema: Schema | None = None,
    context: PortalContext | None = None,
    now: int | dt.datetime | None = None,
    columns: Mapping[str, Column] | None = None,
) -> Any:
    """The formula as a `duckdb.Expression` (what `DuckDBPyRelation.select` and `filter`
    take). `context` supplies pipelines and currencies; `now` fixes NOW."""
    try:
        import duckdb
    except ImportError:
        raise ImportError("DuckDB is not installed: pip install 'calcformula[duckdb]'") from None
    compiled = translate(formula, "duckdb", schema, context, now, columns)
    return duckdb.SQLExpression(compiled.sql())
