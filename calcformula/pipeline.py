"""What the expression APIs for users' own pipelines share (calcformula.spark,
calcformula.duckdb): a formula, checked and compiled to one dialect's SQL, or the checker's
diagnostics raised as a `CompileError`. Never SQL with another meaning than the evaluator's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from calcformula.checker import CheckResult, check
from calcformula.evaluator import CompileError, PortalContext
from calcformula.schema import Schema
from calcformula.sql import Column, SqlFormula, compile_sql


def now_ms(now: int | dt.datetime | None) -> int | None:
    """NOW fixed to epoch milliseconds (a naive datetime is UTC), or None for the engine's
    clock."""
    if now is None or isinstance(now, int):
        return now
    moment = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def translate(
    formula: str | CheckResult,
    dialect: str,
    schema: Schema | None = None,
    context: PortalContext | None = None,
    now: int | dt.datetime | None = None,
    columns: Mapping[str, Column] | None = None,
) -> SqlFormula:
    """The formula in `dialect`; raises `CompileError` (carrying every diagnostic) when it has
    errors or no faithful SQL (CF701)."""
    checked = formula if isinstance(formula, CheckResult) else check(formula, schema=schema)
    compiled = compile_sql(checked, dialect, columns, now_ms(now), context)
    if not compiled.ok:
        raise CompileError(compiled.diagnostics)
    return compiled
