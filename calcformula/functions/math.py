"""Number functions: rounding, min/max, abs, sqrt, power, multiples."""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from decimal import Decimal
from operator import methodcaller
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
from calcformula.values import DIVISION_CONTEXT, EXACT_CONTEXT, EvaluationProblem

if TYPE_CHECKING:
    from calcformula.evaluator.context import EvalContext

N, S, B = Type.NUMBER, Type.STRING, Type.BOOL


def _number(value: Value) -> Decimal:
    assert isinstance(value, Decimal)
    return value


def _places(value: Value) -> int:
    places = _number(value)
    if places != places.to_integral_value():
        raise EvaluationProblem(f"the number of decimals must be a whole number, not {places}")
    if abs(places) > 100:
        raise EvaluationProblem(f"cannot round to {places} decimals")
    return int(places)


_EXPONENTS: dict[Decimal, tuple[int, Decimal]] = {}


def _exponent(value: Value) -> tuple[int, Decimal]:
    """The validated number of decimals and the quantum 10^-places (cached: formulas use a
    handful of constants)."""
    cached = _EXPONENTS.get(_number(value))
    if cached is None:
        places = _places(value)
        cached = (places, Decimal((0, (1,), -places)))
        if len(_EXPONENTS) < 512:
            _EXPONENTS[_number(value)] = cached
    return cached


def _rounder(mode: str) -> object:
    def implementation(args: Sequence[Value], context: EvalContext) -> Value:
        value = _number(args[0])
        places, quantum = _exponent(args[1])
        try:
            # Positional arguments: keywords cost more than the rounding itself here.
            return value.quantize(quantum, mode, EXACT_CONTEXT)
        except decimal.InvalidOperation:  # more digits than the context holds
            scaled = value.scaleb(places)
            return scaled.to_integral_value(rounding=mode).scaleb(-places) + Decimal(0)

    return implementation


def _specialized_rounder(mode: str) -> Any:
    """Rounding to a number of decimals written in the formula: one `quantize` call per
    record (the implementation's common path, without validating the decimals each time)."""

    def specialize(constants: Sequence[Decimal]) -> Any:
        places = constants[0]
        if places != places.to_integral_value() or abs(places) > 100:
            return None  # the implementation reports it on every record
        _, quantum = _exponent(places)
        # InvalidOperation (too many digits) is an ArithmeticError: the implementation decides.
        return methodcaller("quantize", quantum, mode, EXACT_CONTEXT)

    return specialize


def _sql_rounder(mode: str) -> Any:
    def translate(call: SqlCall) -> Any:
        from sqlglot import exp

        places = call.constant(1)
        if places is None:
            raise call.unsupported("the number of decimals must be a number written in the formula")
        b = call.builder
        if places != places.to_integral_value() or abs(places) > 100:
            return b.number(exp.Null())  # the evaluator's answer for every record
        count = int(places)
        if b.dialect.scale is not None and count >= b.dialect.scale:
            return call.args[0]  # the dialect keeps no more decimals than that
        if mode == decimal.ROUND_HALF_UP and count >= 0:
            # Rounded once from the exact product, as the evaluator does, rather than from the
            # product already rounded to the dialect's scale.
            once = b.round_product(call.args[0], count)
            if once is not None:
                return once
        scaled: exp.Expr = b.number(call.args[0])  # a whole number scaled up stays in range
        if count:
            scaled = exp.Mul(this=call.paren(scaled), expression=b.power_of_ten(count))
        rounded = {
            decimal.ROUND_FLOOR: exp.Floor,
            decimal.ROUND_CEILING: exp.Ceil,
            decimal.ROUND_HALF_UP: exp.Round,  # SQL's ROUND: halves away from zero
        }[mode](this=scaled)
        if not count:
            return b.number(rounded)
        return b.number(exp.Mul(this=rounded, expression=b.power_of_ten(-count)))

    return translate


ROUND_NOTE = (
    "Assumed (decision E7): rounds to `decimals` places; negative `decimals` rounds to tens, "
    "hundreds, ..."
)

define(
    Function(
        "round_down",
        "math",
        (Param("value", N), Param("decimals", N, "places after the point; 0 for whole numbers")),
        N,
        "Rounds toward negative infinity to the given number of decimals.",
        Evidence.USED_BY_HUBSPOT,
        examples=(
            Example("round_down(2.567, 2)", "2.56"),
            Example("round_down(-2.5, 0)", "-3"),
            Example(
                "round_down((closedate - createdate) / 86400000, 0)",
                "3",
                (("closedate", "2024-01-04T12:00:00Z"), ("createdate", "2024-01-01")),
            ),
        ),
        implementation=_rounder(decimal.ROUND_FLOOR),  # type: ignore[arg-type]
        specialize=_specialized_rounder(decimal.ROUND_FLOOR),
        sql=_sql_rounder(decimal.ROUND_FLOOR),
        notes=ROUND_NOTE,
    )
)
define(
    Function(
        "round_up",
        "math",
        (Param("value", N), Param("decimals", N)),
        N,
        "Rounds toward positive infinity to the given number of decimals.",
        Evidence.INFERRED,
        examples=(Example("round_up(2.561, 2)", "2.57"), Example("round_up(-2.5, 0)", "-2")),
        implementation=_rounder(decimal.ROUND_CEILING),  # type: ignore[arg-type]
        specialize=_specialized_rounder(decimal.ROUND_CEILING),
        sql=_sql_rounder(decimal.ROUND_CEILING),
        notes=ROUND_NOTE,
    )
)
define(
    Function(
        "round_nearest",
        "math",
        (Param("value", N), Param("decimals", N)),
        N,
        "Rounds to the nearest value with the given number of decimals; halves round away "
        "from zero.",
        Evidence.INFERRED,
        examples=(
            Example("round_nearest(2.345, 2)", "2.35"),
            Example("round_nearest(-2.5, 0)", "-3"),
        ),
        implementation=_rounder(decimal.ROUND_HALF_UP),  # type: ignore[arg-type]
        specialize=_specialized_rounder(decimal.ROUND_HALF_UP),
        sql=_sql_rounder(decimal.ROUND_HALF_UP),
        notes=ROUND_NOTE,
    )
)


def _max(args: Sequence[Value], context: EvalContext) -> Value:
    return max(_number(a) for a in args)


def _min(args: Sequence[Value], context: EvalContext) -> Value:
    return min(_number(a) for a in args)


def _sql_extreme(largest: bool) -> Any:
    def translate(call: SqlCall) -> Any:
        from sqlglot import exp

        kind = exp.Greatest if largest else exp.Least
        # SQL's GREATEST/LEAST skip NULLs in some engines; the evaluator's blank wins.
        return call.propagating(
            kind(this=call.args[0], expressions=call.args[1:], ignore_nulls=True)
        )

    return translate


define(
    Function(
        "max",
        "math",
        (Param("a", N), Param("b", N)),
        N,
        "The largest of 2 to 100 numbers (dates compare as epoch milliseconds).",
        Evidence.DOCUMENTED,
        variadic=True,
        max_args=100,
        examples=(
            Example("max(a, b, c, 100)", "250", (("a", "3"), ("b", "250"), ("c", "-1"))),
            Example("max(1, 2)", "2"),
            Example("max(1, a)", "(blank)", (("a", ""),)),
        ),
        implementation=_max,
        sql=_sql_extreme(True),
        notes="A blank argument blanks the result (decision E2, assumed).",
    )
)
define(
    Function(
        "min",
        "math",
        (Param("a", N), Param("b", N)),
        N,
        "The smallest of 2 to 100 numbers.",
        Evidence.DOCUMENTED,
        variadic=True,
        max_args=100,
        examples=(
            Example("min(a, b, c, 100)", "-1", (("a", "3"), ("b", "250"), ("c", "-1"))),
            Example("min(4, 2.5)", "2.5"),
        ),
        implementation=_min,
        sql=_sql_extreme(False),
        notes="A blank argument blanks the result (decision E2, assumed).",
    )
)


def _abs(args: Sequence[Value], context: EvalContext) -> Value:
    return abs(_number(args[0]))


def _sqrt(args: Sequence[Value], context: EvalContext) -> Value:
    value = _number(args[0])
    if value < 0:
        raise EvaluationProblem(f"sqrt of a negative number ({value}) has no value")
    return value.sqrt(DIVISION_CONTEXT)


def _power(args: Sequence[Value], context: EvalContext) -> Value:
    base, exponent = _number(args[0]), _number(args[1])
    if exponent == exponent.to_integral_value() and abs(exponent) <= 1000:
        if base.is_zero() and exponent < 0:
            raise EvaluationProblem("0 to a negative power has no value")
        return DIVISION_CONTEXT.power(base, int(exponent))
    if base < 0:
        raise EvaluationProblem(f"a negative number ({base}) to a fractional power has no value")
    try:
        return DIVISION_CONTEXT.power(base, exponent)
    except (decimal.InvalidOperation, decimal.Overflow):
        raise EvaluationProblem(f"power({base}, {exponent}) is out of range") from None


def _sql_abs(call: SqlCall) -> Any:
    from sqlglot import exp

    return exp.Abs(this=call.args[0])


def _sql_sqrt(call: SqlCall) -> Any:
    from sqlglot import exp

    value = call.args[0]
    negative = exp.LT(this=value.copy(), expression=call.integer(0))
    return call.case(
        (negative, exp.Null()), default=call.builder.number(exp.Sqrt(this=value.copy()))
    )


def _sql_power(call: SqlCall) -> Any:
    from sqlglot import exp

    base, exponent = call.args
    zero_to_negative = exp.And(
        this=exp.EQ(this=base.copy(), expression=call.integer(0)),
        expression=exp.LT(this=exponent.copy(), expression=call.integer(0)),
    )
    negative_to_fraction = exp.And(
        this=exp.LT(this=base.copy(), expression=call.integer(0)),
        expression=exp.Not(this=call.builder.whole(exponent)),
    )
    return call.case(
        (zero_to_negative, exp.Null()),
        (negative_to_fraction, exp.Null()),
        default=call.builder.number(exp.Pow(this=base.copy(), expression=exponent.copy())),
    )


define(
    Function(
        "abs",
        "math",
        (Param("value", N),),
        N,
        "The absolute value.",
        Evidence.INFERRED,
        examples=(Example("abs(-3.5)", "3.5"),),
        implementation=_abs,
        sql=_sql_abs,
    )
)
define(
    Function(
        "sqrt",
        "math",
        (Param("value", N),),
        N,
        "The square root, to 34 significant digits; negative numbers give blank.",
        Evidence.INFERRED,
        examples=(Example("sqrt(16)", "4"), Example("sqrt(-1)", "(blank)")),
        implementation=_sqrt,
        sql=_sql_sqrt,
        sql_note="DuckDB computes it in double precision; PostgreSQL to its numeric precision.",
        notes="Precision and the blank for negatives are assumed.",
    )
)
define(
    Function(
        "power",
        "math",
        (Param("base", N), Param("exponent", N)),
        N,
        "`base` raised to `exponent`; exact for whole exponents, 34 significant digits otherwise.",
        Evidence.INFERRED,
        examples=(Example("power(2, 10)", "1024"), Example("power(9, 0.5)", "3")),
        implementation=_power,
        sql=_sql_power,
        sql_note="DuckDB computes it in double precision; PostgreSQL to its numeric precision.",
        notes="Two arguments (base, exponent) are inferred from the AST node.",
    )
)
define(
    Function(
        "is_multiple_of",
        "math",
        (),
        B,
        "Appears to belong to property validation rules; its meaning is unknown.",
        Evidence.UNKNOWN,
        known_signature=False,
    )
)
