"""Blank handling: is_present, is_blank, coalesce; validation helpers of unknown meaning.

`is_present` and `is_blank` are special forms: the evaluator gives them the outcome of
evaluating their argument (a value, blank, or a failure), not just a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from calcformula.functions.registry import (
    Blanks,
    Evidence,
    Example,
    Function,
    Param,
    Type,
    Value,
    define,
)

if TYPE_CHECKING:
    from calcformula.evaluator.context import EvalContext


def _is_present(args: Sequence[Value], context: EvalContext) -> Value:
    return args[0] is not None


def _is_blank(args: Sequence[Value], context: EvalContext) -> Value:
    value = args[0]
    return value is None or (isinstance(value, str) and value.strip() == "")


def _coalesce(args: Sequence[Value], context: EvalContext) -> Value:
    return args[0] if args[0] is not None else args[1]


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
