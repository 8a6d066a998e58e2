"""Date functions. Dates and datetimes are numbers: epoch milliseconds (decision T1)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from calcformula.functions.registry import (
    Evidence,
    Example,
    Function,
    Param,
    SqlCall,
    Type,
    Value,
    define,
)

if TYPE_CHECKING:
    from calcformula.evaluator.context import EvalContext

N, S, B = Type.NUMBER, Type.STRING, Type.BOOL


def _time_between(args: Sequence[Value], context: EvalContext) -> Value:
    start, end = args
    assert isinstance(start, Decimal) and isinstance(end, Decimal)
    return end - start


def _sql_time_between(call: SqlCall) -> Any:
    from sqlglot import exp

    start, end = call.args
    return exp.Sub(this=call.paren(end), expression=call.paren(start))


define(
    Function(
        "time_between",
        "dates",
        (Param("start", N, "a date or datetime"), Param("end", N)),
        N,
        "Milliseconds from `start` to `end` (negative when `end` is earlier).",
        Evidence.USED_BY_HUBSPOT,
        examples=(
            Example(
                "time_between(createdate, closedate)",
                "86400000",
                (("createdate", "2024-01-01"), ("closedate", "2024-01-02")),
            ),
            Example(
                "time_between(createdate, closedate) / 86400000",
                "1.5",
                (("createdate", "2024-01-01T00:00:00Z"), ("closedate", "2024-01-02T12:00:00Z")),
            ),
        ),
        implementation=_time_between,
        sql=_sql_time_between,
        notes="`end - start` in milliseconds (decision E7); HubSpot guards negatives itself.",
    )
)

_UNKNOWN = "Known to HubSpot's parser; its arguments and meaning are not documented."
for _name, _result in (
    ("time_between_skip_weekends", N),
    ("date", N),
    ("month", N),
    ("year", N),
    ("add_time", N),
    ("subtract_time", N),
    ("period_to_months", N),
    ("period_to_weeks", N),
    ("is_valid_iso_period", B),
    ("is_month_based_iso_period", B),
    ("is_day_based_iso_period", B),
):
    define(Function(_name, "dates", (), _result, _UNKNOWN, Evidence.UNKNOWN, known_signature=False))
