"""Blank handling: is_present, is_blank, coalesce; validation helpers of unknown meaning.

`is_present` and `is_blank` are special forms: the evaluator gives them the outcome of
evaluating their argument (a value, blank, or a failure), not just a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from calcformula.functions.registry import (
    Blanks,
    Evidence,
    Example,
    Function,
    Param,
    SqlCall,
    Type,
    Value,
    define,
)
from calcformula.values import WHITESPACE

if TYPE_CHECKING:
    from calcformula.evaluator.context import EvalContext


def _is_present(args: Sequence[Value], context: EvalContext) -> Value:
    return args[0] is not None


def _is_blank(args: Sequence[Value], context: EvalContext) -> Value:
    value = args[0]
    return value is None or (isinstance(value, str) and value.strip(WHITESPACE) == "")


def _coalesce(args: Sequence[Value], context: EvalContext) -> Value:
    return args[0] if args[0] is not None else args[1]


def _sql_is_present(call: SqlCall) -> Any:
    from sqlglot import exp

    return exp.Not(this=call.is_null(call.args[0]))


def _sql_is_blank(call: SqlCall) -> Any:
    from sqlglot import exp

    value = call.args[0]
    if call.types[0] is not Type.STRING:
        return call.is_null(value)
    only_spaces = exp.EQ(this=call.builder.trim(value.copy()), expression=call.string(""))
    return exp.Or(this=call.is_null(value), expression=only_spaces)


def _sql_coalesce(call: SqlCall) -> Any:
    from sqlglot import exp

    return exp.Coalesce(this=call.args[0], expressions=[call.args[1]])


define(
    Function(
        "is_present",
        "logic",
        (Param("expression", Type.ANY),),
        Type.BOOL,
        "True when the expression can be evaluated and is not blank.",
        Evidence.DOCUMENTED,
        blanks=Blanks.ABSORB,
        examples=(
            Example("is_present(bool(a))", "true", (("a", "false"),)),
            Example("is_present(bool(a))", "false", (("a", ""),)),
            Example("is_present(amount / 0)", "false"),
        ),
        implementation=_is_present,
        sql=_sql_is_present,
        notes="Also false when evaluating the expression fails (documented: 'can be evaluated').",
    )
)
define(
    Function(
        "is_blank",
        "logic",
        (Param("expression", Type.ANY),),
        Type.BOOL,
        "True when the expression is blank, cannot be evaluated, or is text of only spaces.",
        Evidence.UNKNOWN,
        blanks=Blanks.ABSORB,
        examples=(
            Example("is_blank(string(a))", "true", (("a", "  "),)),
            Example("is_blank(a)", "false", (("a", "0"),)),
        ),
        implementation=_is_blank,
        sql=_sql_is_blank,
        notes="Assumed (decision E2): the opposite of is_present, and true for whitespace-only "
        "text.",
    )
)
define(
    Function(
        "coalesce",
        "logic",
        (Param("value", Type.ANY), Param("fallback", Type.SAME)),
        Type.SAME,
        "`value`, or `fallback` when `value` is blank. Both must have the same type.",
        Evidence.USED_BY_HUBSPOT,
        blanks=Blanks.FALLBACK,
        examples=(
            Example("coalesce(score, 0)", "0", (("score", ""),)),
            Example("coalesce(score, 0)", "7", (("score", "7"),)),
        ),
        implementation=_coalesce,
        sql=_sql_coalesce,
        notes="Field tests: a blank term counts as the fallback; `coalesce(number, false)` is "
        "rejected.",
    )
)
define(
    Function(
        "validate_when",
        "logic",
        (),
        Type.BOOL,
        "Appears to belong to property validation rules; its meaning is unknown.",
        Evidence.UNKNOWN,
        known_signature=False,
    )
)
