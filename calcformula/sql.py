"""Compiles a checked formula to SQL: one sqlglot expression tree, rendered in many dialects,
with the evaluator's semantics written out (docs/scale.md).

What the SQL keeps from the evaluator (decisions E1-E5):

- Property values are read from text exactly as `calcformula.evaluator` reads them (the same
  number, epoch-millisecond and ISO 8601 patterns, shared through `calcformula.values`), or
  from typed columns (numbers, booleans, timestamps, dates) when the source has types.
- Blank is NULL. Operators and strict functions propagate it; `and`/`or` are SQL's
  three-valued logic, which is decision E3; a blank `if` condition blanks the `if` (E4), which
  a simple `CASE c WHEN TRUE ... WHEN FALSE ...` gives without evaluating `c` twice.
- Numbers are exact decimals in the dialect's decimal type; `x / 0` is NULL (E5).

What cannot be said in SQL with the same meaning (regular expressions, functions of unknown
meaning, `timestamp(x)`, portal data when no portal context is given) is a CF7xx diagnostic,
never SQL with another meaning. With a portal context, pipeline stages and currencies are
written into the SQL as constants (a `CASE` over stage ids, lists of currency codes).
Function translations live beside their implementations in the registry (`Function.sql`);
this module supplies the building blocks they use (`SqlCall`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import sqlglot
from sqlglot import exp

from calcformula import codes
from calcformula.checker import CheckResult
from calcformula.diagnostics import Diagnostic
from calcformula.dialects import DIALECTS, Dialect
from calcformula.evaluator.context import PortalContext
from calcformula.evaluator.runtime import EULER
from calcformula.functions import Type, lookup
from calcformula.nodes import (
    Binary,
    BinaryOp,
    Boolean,
    Call,
    Constant,
    ConstantName,
    If,
    Node,
    Number,
    Property,
    PropertyKind,
    String,
    Unary,
    UnaryOp,
    left_spine,
    walk,
)
from calcformula.schema import PropertyInfo
from calcformula.span import Span
from calcformula.values import DATETIME_TEXT, EPOCH_TEXT, NUMBER_TEXT, WHITESPACE, format_number

MAX_NODES = 20_000  # beyond this the SQL is refused rather than handed to an engine
# sqlglot builds and prints SQL by recursion (about three Python frames per level): deeper
# trees are refused with a diagnostic instead of a RecursionError. A chain `a + b + …` nests
# one level per operator in SQL, so this is also the longest chain that has SQL.
MAX_SQL_DEPTH = 160
WHOLE_LIMIT = 2**40  # whole literals up to this stay BIGINT (sums stay far below 2^52)


class ColumnType(enum.Enum):
    """What a source column holds: HubSpot's text, or a value an engine already typed."""

    TEXT = "text"
    NUMBER = "number"  # numbers; for date properties, epoch milliseconds
    BOOLEAN = "boolean"
    TIMESTAMP = "timestamp"
    DATE = "date"


@dataclass(frozen=True, slots=True)
class Column:
    """Where a property's value comes from: a column (or any expression) and its type."""

    expression: exp.Expr
    type: ColumnType = ColumnType.TEXT


class Unsupported(Exception):
    """A construct that has no faithful SQL in this dialect."""

    def __init__(self, what: str, reason: str, span: Span | None = None) -> None:
        super().__init__(reason)
        self.what = what
        self.reason = reason
        self.span = span


def _anchored(pattern: str) -> exp.Expr:
    return exp.Literal.string(f"^({pattern})$")


def _string(text: str) -> exp.Expr:
    return exp.Literal.string(text)


def _int(value: int) -> exp.Expr:
    return exp.Literal.number(value)


def _case(*pairs: tuple[exp.Expr, exp.Expr], default: exp.Expr | None = None) -> exp.Case:
    case = exp.Case(ifs=[exp.If(this=c, true=v) for c, v in pairs])
    if default is not None:
        case.set("default", default)
    return case


def _is_null(value: exp.Expr) -> exp.Expr:
    return exp.Is(this=value.copy(), expression=exp.Null())


def _any_null(values: Sequence[exp.Expr]) -> exp.Expr:
    condition: exp.Expr = _is_null(values[0])
    for value in values[1:]:
        condition = exp.Or(this=condition, expression=_is_null(value))
    return condition


_PLAIN_NUMBER = "[0-9]+([.][0-9]*)?"
_UP_TO_LAST_DECIMAL = "^-?[0-9]+([.][0-9]*[1-9])?"


def _paren(value: exp.Expr) -> exp.Expr:
    return exp.Paren(this=value) if isinstance(value, (exp.Binary, exp.Not, exp.Neg)) else value


class SqlBuilder:
    """The dialect-aware pieces every translation is made of."""

    def __init__(
        self, dialect: Dialect, now_ms: int | None, portal: PortalContext | None = None
    ) -> None:
        self.dialect = dialect
        self.now_ms = now_ms
        self.portal = portal  # pipelines and currencies, written into the SQL as constants
        self.number_type = exp.DataType.build(dialect.number_type, dialect=dialect.name)

    @property
    def name(self) -> str:
        return self.dialect.name

    # --- numbers ------------------------------------------------------------------------

    def number(self, value: exp.Expr) -> exp.Expr:
        """The value in the dialect's exact-number type."""
        return exp.Cast(this=value, to=self.number_type.copy())

    @property
    def integer_lane(self) -> bool:
        """Whole numbers (epoch milliseconds of typed timestamps, whole literals, their sums and
        differences, floor-divided quotients) are computed in BIGINT: several times faster than
        128-bit decimals, and exact while they stay below 2^52. DuckDB only: elsewhere `/` on
        integers truncates."""
        return self.name == "duckdb"

    def literal(self, value: Decimal, span: Span) -> exp.Expr:
        if self.integer_lane and value == value.to_integral_value() and abs(value) < WHOLE_LIMIT:
            return exp.Cast(this=exp.Literal.number(int(value)), to=exp.DataType.build("BIGINT"))
        dialect = self.dialect
        if value and dialect.max_integer_digits is not None:
            integer_digits = value.adjusted() + 1
            places = max(0, -value.normalize().as_tuple().exponent)  # type: ignore[operator]
            if integer_digits > dialect.max_integer_digits or (
                dialect.scale is not None and places > dialect.scale
            ):
                raise Unsupported(
                    format_number(value),
                    f"the number does not fit {dialect.number_type}, the type {dialect.name} "
                    "computes in",
                    span,
                )
        return self.number(exp.Literal.number(format_number(value)))

    def power_of_ten(self, places: int) -> exp.Expr:
        return exp.Literal.number(format_number(Decimal(1).scaleb(places)))

    @property
    def spark(self) -> bool:
        """Spark (and Databricks) size a decimal result from its operands' types and, past 38
        digits, cut its scale to 6 or fewer: operands get types narrow enough to keep the 10
        decimals (docs/scale.md, "Spark and Databricks")."""
        return self.name in ("spark", "databricks")

    def _narrow(self, value: exp.Expr, digits: int) -> exp.Expr:
        """The value as DECIMAL(digits + 10, 10), NULL when it has more integer digits."""
        kind = exp.DataType.build(f"DECIMAL({digits + 10}, 10)", dialect="spark")
        return exp.TryCast(this=value.copy(), to=kind, safe=True)  # safe: TRY_CAST in Spark

    def add(self, a: exp.Expr, b: exp.Expr, subtract: bool = False) -> exp.Expr:
        operator = exp.Sub if subtract else exp.Add
        if self.spark:
            # DECIMAL(37, 10) +- DECIMAL(37, 10) is DECIMAL(38, 10): no scale is lost.
            narrow = exp.DataType.build("DECIMAL(37, 10)", dialect="spark")
            a, b = exp.Cast(this=a, to=narrow), exp.Cast(this=b, to=narrow.copy())
            return self.number(operator(this=a, expression=b))
        return operator(this=_paren(a), expression=_paren(b))

    def multiply(self, a: exp.Expr, b: exp.Expr) -> exp.Expr:
        if self.integer_lane:
            a, b = self.number(a), self.number(b)
        if self.spark:
            # Below 10^14 and 10^13 the product keeps its 10 decimals (DECIMAL(38, 10));
            # larger operands fall back to Spark's DECIMAL(38, 6).
            exact = exp.Mul(this=self._narrow(a, 14), expression=self._narrow(b, 13))
            wide = exp.Mul(this=self.number(a), expression=self.number(b))
            # Each lane cast on its own: COALESCE of two decimal types would cut the scale.
            return exp.Coalesce(this=self.number(exact), expressions=[self.number(wide)])
        return self.number(exp.Mul(this=_paren(a), expression=_paren(b)))

    def round_product(self, value: exp.Expr, places: int) -> exp.Expr | None:
        """`value` rounded half up to `places` decimals (fewer than the scale's 10) from the
        exact product, when `value` is what `multiply` built and the dialect can compute that
        product exactly; the evaluator rounds the exact product once, and rounding the product
        already cut to 10 decimals would round twice. None for any other expression or dialect.

        DuckDB multiplies two DECIMAL(38,10) into a DECIMAL(38,20) (it stops on an overflow, as
        `multiply` does). Spark keeps 20 decimals only for DECIMAL(18,10) times DECIMAL(19,10)
        (operands below 10^8 and 10^9); larger operands take `multiply`'s product, rounded
        twice, as docs/scale.md says."""
        if self.name == "duckdb":
            if not isinstance(value, exp.Cast) or value.to != self.number_type:
                return None
            product = value.this
            if not isinstance(product, exp.Mul) or not all(
                isinstance(side, exp.Cast) and side.to == self.number_type
                for side in (product.this, product.expression)
            ):
                return None
            return self.number(exp.Round(this=product.copy(), decimals=_int(places)))
        if self.spark and isinstance(value, exp.Coalesce):
            lane = value.this
            product = lane.this if isinstance(lane, exp.Cast) else None
            if not isinstance(product, exp.Mul) or not all(
                isinstance(side, exp.TryCast) for side in (product.this, product.expression)
            ):
                return None
            exact = exp.Mul(
                this=self._narrow(product.this.this, 8),
                expression=self._narrow(product.expression.this, 9),
            )
            return exp.Coalesce(
                this=self.number(exp.Round(this=exact, decimals=_int(places))),
                expressions=[self.number(exp.Round(this=value.copy(), decimals=_int(places)))],
            )
        return None

    def divide(self, a: exp.Expr, b: exp.Expr) -> exp.Expr:
        """`a / b`, NULL for a zero divisor (decision E5)."""
        divisor = exp.Nullif(this=b, expression=_int(0))
        if self.name == "postgres":
            # NUMERIC division keeps only 16 significant digits unless the dividend carries
            # more scale: 40 decimals make it agree with the evaluator's 34 digits.
            dividend: exp.Expr = exp.Cast(
                this=a, to=exp.DataType.build("NUMERIC(1000, 40)", dialect="postgres")
            )
            return exp.Div(this=dividend, expression=divisor, typed=True)
        if self.spark:
            # DECIMAL(24, 10) / DECIMAL(23, 10) keeps 14 decimals; larger operands fall back
            # to Spark's DECIMAL(38, 6) quotient.
            exact = exp.Div(
                this=self._narrow(a, 14), expression=self._narrow(divisor, 13), typed=True
            )
            wide = exp.Div(this=self.number(a), expression=self.number(divisor), typed=True)
            return exp.Coalesce(this=self.number(exact), expressions=[self.number(wide)])
        return self.number(exp.Div(this=_paren(a), expression=divisor, typed=True))

    def whole(self, value: exp.Expr) -> exp.Expr:
        """True when the number is a whole number."""
        return exp.EQ(this=value.copy(), expression=exp.Floor(this=value.copy()))

    # --- text ---------------------------------------------------------------------------

    def trim(self, text: exp.Expr) -> exp.Expr:
        """Strips the whitespace the evaluator strips (calcformula.values.WHITESPACE)."""
        return exp.Trim(this=text, expression=_string(WHITESPACE))

    def matches(self, text: exp.Expr, pattern: str) -> exp.Expr:
        """The whole text matches one of the shared value patterns (ASCII classes only, so
        that RE2, POSIX and Java regular expressions agree)."""
        return exp.RegexpLike(this=text, expression=_anchored(pattern))

    def text_of_number(self, value: exp.Expr) -> exp.Expr:
        """`number_to_string`: plain notation, no trailing zeros (decision E6)."""
        if self.name == "postgres":
            return exp.Cast(this=exp.Anonymous(this="TRIM_SCALE", expressions=[value]), to="TEXT")
        if self.spark:
            # With ANSI mode off, Spark's CAST to STRING writes numbers below 10^-6 in
            # scientific notation (`0E-10`, `1.0E-7`), so those are formatted with TO_CHAR
            # (several times slower), which drops the 0 of `-0.5` (`-.5`): it comes back here.
            pattern = "MI" + "9" * 27 + "0." + "0" * 10
            formatted = exp.Anonymous(
                this="TO_CHAR", expressions=[self.number(value), _string(pattern)]
            )
            small = exp.RegexpReplace(
                this=exp.Trim(this=formatted),
                expression=_string("^(-?)[.]"),
                replacement=_string("$10."),
            )
            plain = exp.GTE(
                this=exp.Abs(this=self.number(value.copy())),
                expression=exp.Literal.number("0.000001"),
            )
            text: exp.Expr = _case(
                (plain, exp.Cast(this=self.number(value.copy()), to=exp.DataType.build("STRING"))),
                default=small,
            )
        else:
            text = exp.Cast(this=self.number(value), to=exp.DataType.build("VARCHAR"))
        trimmed = exp.RegexpReplace(
            this=text, expression=_string("[.]?0+$"), replacement=_string("")
        )
        if self.dialect.scale is not None and self.name == "duckdb":
            # DuckDB always prints the scale's 10 decimals (there is a point): the text up to
            # the last nonzero decimal, taken by one match rather than a replacement.
            return exp.Anonymous(
                this="REGEXP_EXTRACT", expressions=[text.copy(), _string(_UP_TO_LAST_DECIMAL)]
            )
        if self.dialect.scale is not None and self.spark:
            return trimmed  # always printed with the scale's 10 decimals: there is a point
        return _case(
            (exp.Like(this=text.copy(), expression=_string("%.%")), trimmed), default=text.copy()
        )

    def number_of_text(self, text: exp.Expr, dates: bool | None) -> exp.Expr:
        """A number from text as the evaluator reads it: `dates` True for a date property
        (epoch digits or ISO 8601), False for a number, None when the type is unknown."""
        trimmed = self.trim(text)
        pairs: list[tuple[exp.Expr, exp.Expr]] = []
        if dates is not True and self.name == "duckdb":
            # The common case first, at half the cost: digits with at most one point, no
            # spaces to trim, a subset of NUMBER_TEXT that the cast reads as the evaluator does.
            plain = exp.Anonymous(
                this="REGEXP_FULL_MATCH", expressions=[text.copy(), _string(_PLAIN_NUMBER)]
            )
            pairs.append((plain, exp.TryCast(this=text.copy(), to=self.number_type.copy())))
        if dates is not True:
            value = self.number(trimmed.copy())
            if self.name == "duckdb" and isinstance(value, exp.Cast):
                # A value the decimal type cannot hold (29 integer digits) is blank, as
                # eval's warning says; one such value must not stop a run over millions.
                value = exp.TryCast(this=value.this, to=value.to)
            pairs.append((self.matches(trimmed, NUMBER_TEXT), value))
        if dates is not False:
            if dates:
                pairs.append(
                    (self.matches(trimmed.copy(), EPOCH_TEXT), self.number(trimmed.copy()))
                )
            pairs.append(
                (
                    exp.And(
                        this=self.matches(trimmed.copy(), DATETIME_TEXT),
                        expression=self._real_day(trimmed.copy()),
                    ),
                    self._epoch_of_text(trimmed.copy()),
                )
            )
        return _case(*pairs)

    def _real_day(self, text: exp.Expr) -> exp.Expr:
        """The text's YYYY-MM-DD is a day of the calendar (the pattern checked the digits)."""

        def part(start: int, length: int) -> exp.Expr:
            return exp.Cast(
                this=exp.Substring(this=text.copy(), start=_int(start), length=_int(length)),
                to=exp.DataType.build("INT"),
            )

        year, month, day = part(1, 4), part(6, 2), part(9, 2)

        def divisible(by: int) -> exp.Expr:
            return exp.EQ(this=exp.Mod(this=year.copy(), expression=_int(by)), expression=_int(0))

        leap = exp.Or(
            this=exp.Paren(
                this=exp.And(this=divisible(4), expression=exp.Not(this=divisible(100)))
            ),
            expression=divisible(400),
        )
        length = _case(
            (
                exp.EQ(this=month.copy(), expression=_int(2)),
                _case((leap, _int(29)), default=_int(28)),
            ),
            (
                exp.In(this=month.copy(), expressions=[_int(4), _int(6), _int(9), _int(11)]),
                _int(30),
            ),
            default=_int(31),
        )
        return exp.And(
            this=exp.GTE(this=year, expression=_int(1)),
            expression=exp.LTE(this=day, expression=length),
        )

    def _epoch_of_text(self, text: exp.Expr) -> exp.Expr:
        """Epoch milliseconds of a checked ISO 8601 text; no zone means UTC."""
        zoned = self.matches(text.copy(), ".*(Z|[+-][0-9]{2}:[0-9]{2})")
        if self.spark:
            return self.number(self._spark_epoch_of_text(text, zoned))
        if self.name == "duckdb":

            def epoch(kind: str) -> exp.Expr:
                return exp.Anonymous(
                    this="EPOCH_MS",
                    expressions=[exp.TryCast(this=text.copy(), to=exp.DataType.build(kind))],
                )
        else:

            def epoch(kind: str) -> exp.Expr:
                seconds = exp.Extract(
                    this=exp.var("EPOCH"),
                    expression=exp.Cast(this=text.copy(), to=exp.DataType.build(kind)),
                )
                return exp.Floor(this=exp.Mul(this=seconds, expression=_int(1000)))

        return self.number(_case((zoned, epoch("TIMESTAMPTZ")), default=epoch("TIMESTAMP")))

    def _spark_epoch_of_text(self, text: exp.Expr, zoned: exp.Expr) -> exp.Expr:
        """Spark reads a text without a zone in the session's time zone, and no time without
        seconds: the text is completed to `YYYY-MM-DDTHH:MM:SS[.f](zone|Z)` first, so the
        answer never depends on the session."""
        day_only = exp.EQ(this=exp.Length(this=text.copy()), expression=_int(10))
        has_seconds = exp.EQ(
            this=exp.Substring(this=text.copy(), start=_int(17), length=_int(1)),
            expression=_string(":"),
        )
        with_seconds = _case(
            (has_seconds, text.copy()),
            default=exp.Concat(
                expressions=[
                    exp.Substring(this=text.copy(), start=_int(1), length=_int(16)),
                    _string(":00"),
                    exp.Substring(this=text.copy(), start=_int(17)),
                ]
            ),
        )
        complete = _case(
            (day_only, exp.Concat(expressions=[text.copy(), _string("T00:00:00Z")])),
            (zoned, with_seconds),
            default=exp.Concat(expressions=[with_seconds.copy(), _string("Z")]),
        )
        moment = exp.TryCast(this=complete, to=exp.DataType.build("TIMESTAMP"), safe=True)
        return exp.Anonymous(this="UNIX_MILLIS", expressions=[moment])

    def epoch_of(self, column: exp.Expr, kind: ColumnType) -> exp.Expr:
        """Epoch milliseconds of a typed timestamp or date column."""
        if self.spark:
            if kind is ColumnType.DATE:  # a day is UTC midnight, whatever the session's zone
                days = exp.Cast(
                    this=exp.Anonymous(this="UNIX_DATE", expressions=[column]),
                    to=exp.DataType.build("BIGINT"),
                )  # an INT of days times 86,400,000 overflows INT
                return self.number(exp.Mul(this=days, expression=_int(86_400_000)))
            return self.number(exp.Anonymous(this="UNIX_MILLIS", expressions=[column]))
        if self.name == "duckdb":
            value = (
                column
                if kind is ColumnType.TIMESTAMP
                else exp.Cast(this=column, to=exp.DataType.build("TIMESTAMP"))
            )
            return exp.Anonymous(this="EPOCH_MS", expressions=[value])  # BIGINT: integer lane
        target = "TIMESTAMPTZ" if kind is ColumnType.TIMESTAMP else "TIMESTAMP"
        seconds = exp.Extract(
            this=exp.var("EPOCH"), expression=exp.Cast(this=column, to=exp.DataType.build(target))
        )
        return self.number(exp.Floor(this=exp.Mul(this=seconds, expression=_int(1000))))

    def now(self) -> exp.Expr:
        if self.now_ms is not None:
            kind = exp.DataType.build("BIGINT") if self.integer_lane else self.number_type.copy()
            return exp.Cast(this=_int(self.now_ms), to=kind)
        return self.epoch_of(exp.CurrentTimestamp(), ColumnType.TIMESTAMP)


@dataclass
class SqlCall:
    """One function call being translated: its SQL arguments and what the checker knew.

    Implements calcformula.functions.registry.SqlCall, the protocol the registry's SQL
    translations are written against (mypy checks the fit where they are called)."""

    builder: SqlBuilder
    node: Call
    args: list[exp.Expr]
    types: list[Type]

    @property
    def dialect(self) -> str:
        return self.builder.name

    def constant(self, index: int) -> Decimal | None:
        """The argument's value when it is a number written in the formula."""
        node = self.node.args[index]
        if isinstance(node, Number):
            return node.value
        if isinstance(node, Unary) and node.op is UnaryOp.NEG and isinstance(node.operand, Number):
            return -node.operand.value
        return None

    def propagating(self, result: exp.Expr) -> exp.Expr:
        """NULL when any argument is NULL, else `result` (for SQL functions that skip NULLs)."""
        nullable = [
            arg
            for arg, node in zip(self.args, self.node.args, strict=True)
            if not isinstance(node, Number | String | Boolean)
        ]
        if not nullable:
            return result
        return _case((_any_null(nullable), exp.Null()), default=result)

    def unsupported(self, reason: str) -> Unsupported:
        return Unsupported(f"{self.node.name}()", reason, self.node.name_span)

    # Re-exported building blocks, so that translations need only the call.
    case = staticmethod(_case)
    is_null = staticmethod(_is_null)
    string = staticmethod(_string)
    integer = staticmethod(_int)
    paren = staticmethod(_paren)


@dataclass(frozen=True)
class SqlFormula:
    """A formula in SQL, or the diagnostics that say why it cannot be."""

    checked: CheckResult
    dialect: Dialect
    expression: exp.Expr | None
    diagnostics: tuple[Diagnostic, ...]
    properties: tuple[str, ...] = field(default=())  # the properties it reads

    @property
    def ok(self) -> bool:
        return self.expression is not None

    def sql(self, pretty: bool = False) -> str:
        if self.expression is None:
            raise ValueError("the formula has no SQL; see its diagnostics")
        return self.expression.sql(dialect=self.dialect.name, pretty=pretty)


class _Compiler:
    def __init__(
        self,
        checked: CheckResult,
        builder: SqlBuilder,
        columns: Mapping[str, Column],
        schema_of: Mapping[int, PropertyInfo],
    ) -> None:
        self.checked = checked
        self.b = builder
        self.columns = columns
        self.schema_of = schema_of
        self.read: list[str] = []
        self.compiled: dict[int, exp.Expr] = {}  # node id -> SQL already built for it

    def compile(self, node: Node) -> exp.Expr:
        done = self.compiled.pop(id(node), None)
        if done is not None:
            return done
        if isinstance(node, Binary):
            return self._chain(node)
        if isinstance(node, Number):
            return self.b.literal(node.value, node.span)
        if isinstance(node, String):
            return _string(node.value)
        if isinstance(node, Boolean):
            return exp.true() if node.value else exp.false()
        if isinstance(node, Constant):
            if node.name is ConstantName.E:
                digits = self.b.dialect.scale
                value = EULER
                if digits is not None and digits < 33:
                    value = EULER.quantize(Decimal(1).scaleb(-digits))
                return self.b.number(exp.Literal.number(str(value)))
            if node.name is ConstantName.NOW:
                return self.b.now()
            raise Unsupported("TARGET", "`TARGET` has no known meaning in a calculation", node.span)
        if isinstance(node, Property):
            return self._property(node)
        if isinstance(node, Unary):
            operand = self.compile(node.operand)
            if node.op is UnaryOp.NOT:
                return exp.Not(this=_paren(operand))
            return exp.Neg(this=_paren(operand))
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, If):
            return self._if(node)
        raise Unsupported("the formula", "it has syntax errors", node.span)

    def _chain(self, node: Binary) -> exp.Expr:
        bottom, chain = left_spine(node)
        value = self.compile(bottom)
        for link in chain:
            value = self._binary(link, value, self.compile(link.right))
        return value

    def _binary(self, node: Binary, a: exp.Expr, b: exp.Expr) -> exp.Expr:
        op = node.op
        if op is BinaryOp.AND:
            return exp.And(this=_paren(a), expression=_paren(b))
        if op is BinaryOp.OR:
            return exp.Or(this=_paren(a), expression=_paren(b))
        if op is BinaryOp.XOR:
            return exp.NEQ(this=_paren(a), expression=_paren(b))
        comparisons: dict[BinaryOp, type[exp.Expr]] = {
            BinaryOp.LT: exp.LT,
            BinaryOp.GT: exp.GT,
            BinaryOp.LE: exp.LTE,
            BinaryOp.GE: exp.GTE,
            BinaryOp.EQ: exp.EQ,
            BinaryOp.NE: exp.NEQ,
        }
        if op in comparisons:
            return comparisons[op](this=_paren(a), expression=_paren(b))
        if op is BinaryOp.ADD and self.checked.type_of(node) is Type.STRING:
            return exp.DPipe(this=_paren(a), expression=_paren(b), safe=True)
        if op in (BinaryOp.ADD, BinaryOp.SUB):
            return self.b.add(a, b, subtract=op is BinaryOp.SUB)
        if op is BinaryOp.MUL:
            return self.b.multiply(a, b)
        return self.b.divide(a, b)

    def _if(self, node: If) -> exp.Expr:
        rest: exp.Expr = exp.Null() if node.else_branch is None else self.compile(node.else_branch)
        for branch in reversed(node.branches):
            # A simple CASE on the condition: TRUE, FALSE, or (NULL) neither, which blanks the
            # whole `if` (decision E4) without writing the condition twice.
            rest = exp.Case(
                this=_paren(self.compile(branch.condition)),
                ifs=[
                    exp.If(this=exp.true(), true=self.compile(branch.value)),
                    exp.If(this=exp.false(), true=rest),
                ],
            )
        return rest

    def _property(self, node: Property) -> exp.Expr:
        b = self.b
        if node.kind is PropertyKind.TIMESTAMP:
            raise Unsupported(
                f"timestamp({node.name})",
                "the time a property last changed is not a column of the record",
                node.span,
            )
        if node.name not in self.read:
            self.read.append(node.name)
        column = self.columns.get(node.name)
        if column is None:
            column = Column(exp.column(node.name, quoted=True))
        value, kind = column.expression.copy(), column.type
        info = self.schema_of.get(id(node))
        if node.kind is PropertyKind.STRING:
            if kind is ColumnType.TEXT:
                return exp.Nullif(this=value, expression=_string(""))
            if kind is ColumnType.NUMBER:
                return b.text_of_number(value)
            if kind is ColumnType.BOOLEAN:
                return _case(
                    (value, _string("true")), (exp.Not(this=value.copy()), _string("false"))
                )
            raise Unsupported(
                f"string({node.name})",
                f"the column holds a {kind.value}, whose text HubSpot would format in its own "
                "way; give the column as text",
                node.span,
            )
        if node.kind is PropertyKind.BOOL:
            if kind is ColumnType.BOOLEAN:
                return value
            if kind is ColumnType.TEXT:
                lowered = exp.Lower(this=b.trim(value))
                return exp.Case(
                    this=lowered,
                    ifs=[
                        exp.If(this=_string("true"), true=exp.true()),
                        exp.If(this=_string("false"), true=exp.false()),
                    ],
                )
            return exp.Cast(this=exp.Null(), to=exp.DataType.build("BOOLEAN"))
        if info is not None and info.reads_as is PropertyKind.BOOL:
            raise Unsupported(
                node.name,
                f"`{node.name}` is a checkbox read as a number, which HubSpot gives as blank even "
                "through `coalesce(…)` (decision T2a); write `bool(…)`",
                node.span,
            )
        if kind is ColumnType.NUMBER:
            return b.number(value)
        if kind in (ColumnType.TIMESTAMP, ColumnType.DATE):
            return b.epoch_of(value, kind)
        if kind is ColumnType.BOOLEAN:
            return b.number(exp.Null())
        dates = None if info is None else info.is_date
        return b.number_of_text(value, dates)

    def _whole_quotient(self, node: Call) -> exp.Expr | None:
        """`round_down(a / n, 0)` (and round_up, round_nearest) of whole numbers in the integer
        lane: the quotient in double precision is exact enough to floor (|a| < 2^52), so the
        day counts of date formulas never touch decimals."""
        rounding = {"round_down": exp.Floor, "round_up": exp.Ceil, "round_nearest": exp.Round}
        if not self.b.integer_lane or node.name not in rounding or len(node.args) != 2:
            return None
        places, quotient = node.args[1], node.args[0]
        if not (isinstance(places, Number) and places.value == 0):
            return None
        if not (isinstance(quotient, Binary) and quotient.op is BinaryOp.DIV):
            return None
        divisor = quotient.right
        if not (
            isinstance(divisor, Number)
            and divisor.value > 0
            and divisor.value == divisor.value.to_integral_value()
            and divisor.value < WHOLE_LIMIT
        ):
            return None
        dividend = self.compile(quotient.left)
        if not is_whole(dividend):
            # The ordinary translation compiles the dividend again: hand it this one, so
            # nested roundings are not compiled twice per level.
            self.compiled[id(quotient.left)] = dividend
            return None
        ratio = exp.Div(
            this=_paren(dividend),
            expression=self.b.literal(divisor.value, divisor.span),
            typed=False,
        )
        return exp.Cast(this=rounding[node.name](this=ratio), to=exp.DataType.build("BIGINT"))

    def _call(self, node: Call) -> exp.Expr:
        function = lookup(node.name)
        if function is None or function.sql is None:
            if function is None:
                reason = "it is not a function"
            elif function.sql_note:
                reason = function.sql_note
            elif function.needs_portal:
                reason = (
                    f"it reads portal data ({function.needs_portal}) that a table of records "
                    "does not hold"
                )
            elif function.implementation is None:
                reason = "its meaning is not known, so there is nothing to translate"
            else:
                reason = "calcformula has no SQL for it yet"
            raise Unsupported(f"{node.name}()", reason, node.name_span)
        whole = self._whole_quotient(node)
        if whole is not None:
            return whole
        args = [self.compile(arg) for arg in node.args]
        call = SqlCall(self.b, node, args, [self.checked.type_of(a) for a in node.args])
        result: exp.Expr = function.sql(call)
        return result


def is_whole(value: exp.Expr) -> bool:
    """The expression is a BIGINT of the integer lane (see SqlBuilder.integer_lane)."""
    if isinstance(value, exp.Cast):
        target = value.args.get("to")
        return isinstance(target, exp.DataType) and target.this == exp.DataType.Type.BIGINT
    if isinstance(value, exp.Anonymous):
        return value.name.upper() == "EPOCH_MS"
    if isinstance(value, exp.Paren | exp.Neg):
        return is_whole(value.this)
    if isinstance(value, exp.Add | exp.Sub):
        return is_whole(value.this) and is_whole(value.expression)
    if isinstance(value, exp.Null):
        return True
    if isinstance(value, exp.Greatest | exp.Least | exp.Coalesce):
        return all(is_whole(v) for v in [value.this, *value.expressions])
    if isinstance(value, exp.Case):
        branches = [i.args["true"] for i in value.args.get("ifs", [])]
        default = value.args.get("default")
        return all(is_whole(b) for b in [*branches, *([default] if default else [])])
    return False


_OPERATORS = (exp.Binary, exp.Not, exp.Neg)


def _parenthesize(tree: exp.Expr) -> exp.Expr:
    """Parentheses around every operator that is an operand of another: sqlglot prints the
    tree as built, and SQL's precedence (`NOT x IS NULL` is `NOT (x IS NULL)`) must never
    regroup what the formula grouped."""
    for node in list(tree.walk()):
        if isinstance(node, _OPERATORS):
            for key in ("this", "expression"):
                child = node.args.get(key)
                if isinstance(child, _OPERATORS):
                    node.set(key, exp.Paren(this=child))
    return tree


def compile_sql(
    checked: CheckResult,
    dialect: str = "duckdb",
    columns: Mapping[str, Column] | None = None,
    now_ms: int | None = None,
    portal: PortalContext | None = None,
) -> SqlFormula:
    """The formula as one SQL expression of `dialect`, reading properties from `columns`
    (default: a text column named after each property). `now_ms` fixes NOW (default: the
    engine's clock); `portal` supplies pipelines and currencies (default: functions that read
    them have no SQL)."""
    profile = DIALECTS.get(dialect)
    if profile is None:
        raise ValueError(f"unknown dialect {dialect!r}; choose one of {', '.join(DIALECTS)}")
    if not checked.ok:
        return SqlFormula(checked, profile, None, checked.diagnostics)
    # Every formula node becomes at least one SQL node one level down: a formula past either
    # limit is refused before any SQL is built (building it would cost time for nothing).
    nodes, depth = _extent(checked.tree)
    if nodes > MAX_NODES:
        diagnostic = codes.SQL_TOO_LARGE.at(
            checked.tree.span, size=f"at least {nodes}", limit=MAX_NODES
        )
        return SqlFormula(checked, profile, None, (*checked.diagnostics, diagnostic))
    if depth > MAX_SQL_DEPTH:
        return SqlFormula(
            checked, profile, None, (*checked.diagnostics, _too_deep(checked, profile.name))
        )
    builder = SqlBuilder(profile, now_ms, portal)
    compiler = _Compiler(checked, builder, columns or {}, checked.references)
    try:
        expression = compiler.compile(checked.tree)
        lane = builder.integer_lane and checked.result_type.is_number
        if lane and is_whole(expression):
            expression = builder.number(expression)  # results leave the lane as decimals
    except Unsupported as problem:
        diagnostic = codes.SQL_UNSUPPORTED.at(
            problem.span or checked.tree.span,
            what=problem.what,
            dialect=profile.name,
            reason=problem.reason,
        )
        return SqlFormula(checked, profile, None, (*checked.diagnostics, diagnostic))
    except RecursionError:  # pragma: no cover - the depth check above keeps well inside
        return SqlFormula(
            checked, profile, None, (*checked.diagnostics, _too_deep(checked, profile.name))
        )
    expression = _parenthesize(expression)
    if profile.name == "postgres":
        if any(
            isinstance(node, exp.Literal) and node.is_string and "\x00" in node.this
            for node in expression.walk()
        ):
            diagnostic = codes.SQL_UNSUPPORTED.at(
                _nul_span(checked),
                what="a NUL character",
                dialect=profile.name,
                reason="PostgreSQL text cannot hold U+0000",
            )
            return SqlFormula(checked, profile, None, (*checked.diagnostics, diagnostic))
        expression = _escape_strings(expression)
    if _sql_depth(expression) > 2 * MAX_SQL_DEPTH:
        # Functions expand to several SQL levels each (CASE, CAST, the NULL checks).
        return SqlFormula(
            checked, profile, None, (*checked.diagnostics, _too_deep(checked, profile.name))
        )
    size = sum(1 for _ in expression.walk())
    if size > MAX_NODES:
        diagnostic = codes.SQL_TOO_LARGE.at(checked.tree.span, size=size, limit=MAX_NODES)
        return SqlFormula(checked, profile, None, (*checked.diagnostics, diagnostic))
    return SqlFormula(checked, profile, expression, checked.diagnostics, tuple(compiler.read))


def _escape_strings(tree: exp.Expr) -> exp.Expr:
    """PostgreSQL string literals that mean the same whatever `standard_conforming_strings`
    says: a literal with a backslash is written `E'…'` with the backslash doubled (in a
    plain literal the server would read it as an escape when the setting is off)."""

    def escape(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Literal) and node.is_string and "\\" in node.this:
            text = node.this.replace("\\", "\\\\").replace("'", "\\'")
            return exp.Var(this=f"E'{text}'")
        return node

    return tree.transform(escape, copy=False)


def _nul_span(checked: CheckResult) -> Span:
    for node in walk(checked.tree):
        if isinstance(node, String) and "\x00" in node.value:
            return node.span
    return checked.tree.span


def _extent(root: Node) -> tuple[int, int]:
    """How many nodes a formula has and how deep it nests, every operand a level."""
    count = depth = 0
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, level = stack.pop()
        count += 1
        depth = max(depth, level)
        stack.extend((child, level + 1) for child in node.children())
    return count, depth


def _sql_depth(root: exp.Expr) -> int:
    depth = 0
    stack: list[tuple[exp.Expr, int]] = [(root, 1)]
    while stack:
        node, level = stack.pop()
        depth = max(depth, level)
        stack.extend((child, level + 1) for child in node.iter_expressions())
    return depth


def _too_deep(checked: CheckResult, dialect: str) -> Diagnostic:
    return codes.SQL_UNSUPPORTED.at(
        checked.tree.span,
        what="the formula",
        dialect=dialect,
        reason=f"it nests more than {MAX_SQL_DEPTH} levels deep (operands of a chain of "
        "operators count as one level each); split it into several properties",
    )


def select(
    formulas: Sequence[tuple[str, SqlFormula]],
    source: exp.Expr,
    id_column: exp.Expr | None = None,
) -> exp.Select:
    """`SELECT id, <formula> AS <name>, ... FROM source` for formulas that all have SQL."""
    projections: list[exp.Expr] = []
    if id_column is not None:
        projections.append(exp.alias_(id_column, "id", quoted=True))
    for name, formula in formulas:
        if formula.expression is None:
            raise ValueError(f"{name} has no SQL")
        projections.append(exp.alias_(formula.expression.copy(), name, quoted=True))
    return exp.select(*projections).from_(source)


def parse_table(name: str, dialect: str) -> exp.Table:
    """A table name as the user wrote it (`schema.table`, quoted parts allowed)."""
    try:
        table = sqlglot.to_table(name, dialect=dialect)
    except sqlglot.errors.ParseError:
        raise ValueError(
            f"{name!r} is not a table name (schema.table, parts may be quoted)"
        ) from None
    if not isinstance(table, exp.Table) or not table.name:
        raise ValueError(f"{name!r} is not a table name")
    return table
