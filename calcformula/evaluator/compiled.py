"""The fast evaluator: compiles a checked formula once into nested Python closures.

Nothing of the formula becomes source code (names and strings stay data), so it is
injection-proof. Operators are resolved at compile time (as cel-go's planner does), the
checker's types pick the specialised closure (number `+` or text `+`), and long operator
chains run in one loop rather than thousands of nested calls. It must agree with
`calcformula.evaluator.reference` on every formula and record (tested with Hypothesis).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from calcformula.checker import CheckResult
from calcformula.diagnostics import Diagnostic
from calcformula.evaluator.context import EvalContext
from calcformula.evaluator.reference import compare, finish, logic, not_evaluable
from calcformula.evaluator.runtime import (
    EULER,
    Evaluation,
    NotEvaluable,
    Record,
    add,
    divide_reporting,
    fast_reader,
    function_runner,
    subtract,
    times_reporting,
)
from calcformula.functions import Blanks, Type, Value, lookup
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
    String,
    Unary,
    UnaryOp,
    left_spine,
)
from calcformula.schema import Schema

Sink = list[Diagnostic]
_TESTS: dict[BinaryOp, Callable[[Any, Any], bool]] = {
    BinaryOp.EQ: operator.eq,
    BinaryOp.NE: operator.ne,
    BinaryOp.LT: operator.lt,
    BinaryOp.GT: operator.gt,
    BinaryOp.LE: operator.le,
    BinaryOp.GE: operator.ge,
}
Code = Callable[[Record, Sink], Value]


class _Compiler:
    def __init__(self, checked: CheckResult, schema: Schema | None, context: EvalContext):
        self.checked = checked
        self.schema = schema
        self.context = context

    def compile(self, node: Node) -> Code:
        if isinstance(node, Number | String | Boolean):
            constant: Value = node.value
            return lambda record, sink: constant
        if isinstance(node, Constant):
            return self._constant(node)
        if isinstance(node, Property):
            info = self.schema.get(node.name) if self.schema is not None else None
            return fast_reader(node.name, node.kind, info, node.span)
        if isinstance(node, Unary):
            return self._unary(node)
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, If):
            return self._if(node)
        span = node.span

        def broken(record: Record, sink: Sink) -> Value:
            raise NotEvaluable("the formula has syntax errors", span)

        return broken

    def _constant(self, node: Constant) -> Code:
        if node.name is ConstantName.E:
            return lambda record, sink: EULER
        if node.name is ConstantName.NOW:
            now = Decimal(self.context.now_ms)
            return lambda record, sink: now
        span = node.span

        def target(record: Record, sink: Sink) -> Value:
            raise NotEvaluable("`TARGET` has no known meaning in a calculation", span)

        return target

    def _unary(self, node: Unary) -> Code:
        operand = self.compile(node.operand)
        if node.op is UnaryOp.NOT:

            def negate(record: Record, sink: Sink) -> Value:
                value = operand(record, sink)
                return None if value is None else not value

            return negate

        def minus(record: Record, sink: Sink) -> Value:
            value = operand(record, sink)
            return None if value is None else -cast(Decimal, value)

        return minus

    def _binary(self, node: Binary) -> Code:
        bottom, chain = left_spine(node)
        if len(chain) == 1:
            return self._pair(node, self.compile(node.left), self.compile(node.right))
        first = self.compile(bottom)
        if all(
            link.op in (BinaryOp.ADD, BinaryOp.SUB) and self.checked.type_of(link).is_number
            for link in chain
        ):
            return self._sum(first, chain)
        steps = [(link, self.compile(link.right)) for link in chain]
        pairs = [self._apply(link) for link in chain]
        rights = [right for _, right in steps]
        ops = [link.op for link in chain]

        def run_chain(record: Record, sink: Sink) -> Value:
            value = first(record, sink)
            for op, right, apply in zip(ops, rights, pairs, strict=True):
                if (op is BinaryOp.AND and value is False) or (op is BinaryOp.OR and value is True):
                    continue
                value = apply(value, right(record, sink), sink)
            return value

        return run_chain

    def _sum(self, first: Code, chain: list[Binary]) -> Code:
        """A chain of numeric + and -: every operand is read (for its diagnostics), then
        summed exactly, or blank if any is blank."""
        operands = [first, *(self.compile(link.right) for link in chain)]
        signs = [link.op is BinaryOp.SUB for link in chain]

        def run_sum(record: Record, sink: Sink) -> Value:
            values = [operand(record, sink) for operand in operands]
            if None in values:
                return None
            total = cast(Decimal, values[0])
            for negative, value in zip(signs, values[1:], strict=True):
                total = (subtract if negative else add)(total, cast(Decimal, value))
            return total

        return run_sum

    def _apply(self, node: Binary) -> Callable[[Value, Value, Sink], Value]:
        """The operation of one link of a chain, on already computed operands."""
        op = node.op
        if op.is_logical:
            return lambda a, b, sink: logic(op, a, b)
        if op.is_comparison:
            return lambda a, b, sink: compare(op, a, b)
        arithmetic = self._arithmetic(node)

        def apply(a: Value, b: Value, sink: Sink) -> Value:
            if a is None or b is None:
                return None
            return arithmetic(a, b, sink)

        return apply

    def _arithmetic(self, node: Binary) -> Callable[[Value, Value, Sink], Value]:
        op = node.op
        span, right_span = node.span, node.right.span
        if op is BinaryOp.ADD:
            text = self.checked.type_of(node) is Type.STRING

            def plus(a: Value, b: Value, sink: Sink) -> Value:
                if text or isinstance(a, str):
                    return cast(str, a) + cast(str, b)
                return add(cast(Decimal, a), cast(Decimal, b))

            return plus
        if op is BinaryOp.SUB:
            return lambda a, b, sink: subtract(a, b)  # type: ignore[arg-type]

        if op is BinaryOp.MUL:
            return times_reporting(span)  # type: ignore[return-value]
        return divide_reporting(span, right_span)  # type: ignore[return-value]

    def _pair(self, node: Binary, left: Code, right: Code) -> Code:
        op = node.op
        if op is BinaryOp.AND:

            def both(record: Record, sink: Sink) -> Value:
                a = left(record, sink)
                if a is False:
                    return False
                b = right(record, sink)
                if b is False:
                    return False
                return True if a is True and b is True else None

            return both
        if op is BinaryOp.OR:

            def either(record: Record, sink: Sink) -> Value:
                a = left(record, sink)
                if a is True:
                    return True
                b = right(record, sink)
                if b is True:
                    return True
                return False if a is False and b is False else None

            return either
        if op.is_logical or op.is_comparison:

            def combine(record: Record, sink: Sink) -> Value:
                return (logic if op.is_logical else compare)(
                    op, left(record, sink), right(record, sink)
                )

            return combine
        arithmetic = self._arithmetic(node)
        if op is BinaryOp.ADD and self.checked.type_of(node).is_number:

            def plus(record: Record, sink: Sink) -> Value:
                a = left(record, sink)
                b = right(record, sink)
                if a is None or b is None:
                    return None
                return add(a, b)  # type: ignore[arg-type]

            return plus

        def arith(record: Record, sink: Sink) -> Value:
            a = left(record, sink)
            b = right(record, sink)
            if a is None or b is None:
                return None
            return arithmetic(a, b, sink)

        return arith

    def _comparison(self, op: BinaryOp, left: Code, right: Code) -> Code:
        test: Callable[[Any, Any], bool] = _TESTS[op]

        def comparison(record: Record, sink: Sink) -> Value:
            a = left(record, sink)
            b = right(record, sink)
            if a is None or b is None:
                return None
            return test(a, b)

        return comparison

    def _call(self, node: Call) -> Code:
        function = lookup(node.name)
        span, name_span = node.span, node.name_span
        args = [self.compile(arg) for arg in node.args]
        if function is None or function.implementation is None:
            reason = f"the meaning of `{node.name}` is not known"
            compiled_args = args

            def unknown(record: Record, sink: Sink) -> Value:
                for arg in compiled_args:  # the arguments may be what is not evaluable
                    arg(record, sink)
                raise NotEvaluable(reason, name_span)

            return unknown
        if node.name == "is_present" and len(args) == 1:
            value_of = args[0]
            return lambda record, sink: value_of(record, sink) is not None
        if node.name == "coalesce" and len(args) == 2:
            # The fallback is evaluated either way, as the reference does (its diagnostics).
            value_code, fallback_code = args

            def coalesce(record: Record, sink: Sink) -> Value:
                value = value_code(record, sink)
                fallback = fallback_code(record, sink)
                return value if value is not None else fallback

            return coalesce
        implementation = function.implementation
        context = self.context
        strict = function.blanks is Blanks.PROPAGATE

        run = function_runner(implementation, context, span)

        if len(args) == 1:
            only = args[0]

            def call1(record: Record, sink: Sink) -> Value:
                value = only(record, sink)
                if strict and value is None:
                    return None
                return run((value,), sink)

            return call1
        if len(args) == 2:
            first, second = args

            def call2(record: Record, sink: Sink) -> Value:
                a = first(record, sink)
                b = second(record, sink)
                if strict and (a is None or b is None):
                    return None
                return run((a, b), sink)

            return call2

        def call(record: Record, sink: Sink) -> Value:
            values = [arg(record, sink) for arg in args]
            if strict and None in values:
                return None
            return run(values, sink)

        return call

    def _if(self, node: If) -> Code:
        branches = [(self.compile(b.condition), self.compile(b.value)) for b in node.branches]
        otherwise = self.compile(node.else_branch) if node.else_branch is not None else None

        def choose(record: Record, sink: Sink) -> Value:
            for condition, value in branches:
                test = condition(record, sink)
                if test is None:
                    return None
                if test is True:
                    return value(record, sink)
            return otherwise(record, sink) if otherwise is not None else None

        return choose


class CompileError(ValueError):
    """The formula has errors and cannot be compiled; `diagnostics` lists them."""

    def __init__(self, diagnostics: tuple[Diagnostic, ...]) -> None:
        first = next((d for d in diagnostics if d.is_error), None)
        super().__init__(first.message if first else "the formula has errors")
        self.diagnostics = diagnostics


class CompiledFormula:
    """A formula ready to evaluate many records: `compiled.evaluate(record)`."""

    def __init__(
        self, checked: CheckResult, schema: Schema | None = None, context: EvalContext | None = None
    ) -> None:
        if not checked.ok:
            raise CompileError(checked.diagnostics)
        self.checked = checked
        self.context = context or EvalContext()
        try:
            from calcformula.evaluator.codegen import generate

            self._code = generate(checked, schema, self.context)
        except (RecursionError, SyntaxError, MemoryError, ValueError):
            # Too deep for Python's compiler: nested closures instead, equally correct.
            self._code = _Compiler(checked, schema, self.context).compile(checked.tree)

    def evaluate(self, record: Record, record_id: str | None = None) -> Evaluation:
        sink: Sink = []
        try:
            value = self._code(record, sink)
        except NotEvaluable as error:
            return not_evaluable(error, sink, record_id)
        if not sink:
            return Evaluation(value)
        return finish(value, sink, record_id)

    @property
    def function(self) -> Callable[[Record, list[Diagnostic]], Value]:
        """The compiled function itself: `(record, diagnostics) -> value`; it raises
        NotEvaluable for records whose value cannot be known offline."""
        return self._code

    def value(self, record: Record) -> Value:
        """Just the value (None for blank or not evaluable): the fastest call."""
        try:
            return self._code(record, [])
        except NotEvaluable:
            return None
