"""The reference evaluator: walks the tree, one rule per node, written to be read.

It is the specification the compiled evaluator is tested against (they must agree on every
formula and record). Decisions E1-E9 in ../shared/reference/decisions.md, as implemented:

- E2 blanks propagate through operators and strict functions; is_present/is_blank/coalesce
  and format_full_name see blanks.
- E3 and/or/xor/not use three-valued logic; E4 a blank `if` condition blanks the `if`.
- E5 + - * are exact, / rounds to 34 significant digits half-even, x / 0 is blank.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from calcformula import codes
from calcformula.diagnostics import Diagnostic
from calcformula.evaluator.context import EvalContext
from calcformula.evaluator.runtime import (
    EULER,
    Evaluation,
    NotEvaluable,
    Reader,
    Record,
    add,
    divide,
    multiply,
    problem_diagnostic,
    subtract,
)
from calcformula.functions import Blanks, Value, lookup
from calcformula.nodes import (
    Binary,
    BinaryOp,
    Boolean,
    Call,
    Constant,
    ConstantName,
    If,
    Missing,
    Node,
    Number,
    Property,
    String,
    Unary,
    UnaryOp,
    left_spine,
)
from calcformula.schema import Schema
from calcformula.values import EvaluationProblem


def logic(op: BinaryOp, a: Value, b: Value) -> Value:
    """Three-valued and/or/xor (decision E3); None is blank."""
    if op is BinaryOp.AND:
        if a is False or b is False:
            return False
        return True if a is True and b is True else None
    if op is BinaryOp.OR:
        if a is True or b is True:
            return True
        return False if a is False and b is False else None
    if a is None or b is None:
        return None
    return a != b


def compare(op: BinaryOp, a: Value, b: Value) -> Value:
    if a is None or b is None:
        return None
    if op is BinaryOp.EQ:
        return a == b
    if op is BinaryOp.NE:
        return a != b
    assert isinstance(a, Decimal) and isinstance(b, Decimal)
    if op is BinaryOp.LT:
        return a < b
    if op is BinaryOp.GT:
        return a > b
    if op is BinaryOp.LE:
        return a <= b
    return a >= b


class ReferenceEvaluator:
    def __init__(self, schema: Schema | None, context: EvalContext) -> None:
        self.schema = schema
        self.context = context
        self.diagnostics: list[Diagnostic] = []

    def evaluate(self, node: Node, record: Record) -> Value:
        if isinstance(node, Binary):
            return self._chain(node, record)
        if isinstance(node, Number):
            return node.value
        if isinstance(node, String):
            return node.value
        if isinstance(node, Boolean):
            return node.value
        if isinstance(node, Constant):
            if node.name is ConstantName.E:
                return EULER
            if node.name is ConstantName.NOW:
                return Decimal(self.context.now_ms)
            raise NotEvaluable("`TARGET` has no known meaning in a calculation", node.span)
        if isinstance(node, Property):
            info = self.schema.get(node.name) if self.schema is not None else None
            return Reader(node.name, node.kind, info, node.span).read(record, self.diagnostics)
        if isinstance(node, Unary):
            value = self.evaluate(node.operand, record)
            if value is None:
                return None
            if node.op is UnaryOp.NOT:
                return not value
            assert isinstance(value, Decimal)
            return -value
        if isinstance(node, Call):
            return self._call(node, record)
        if isinstance(node, If):
            for branch in node.branches:
                condition = self.evaluate(branch.condition, record)
                if condition is None:
                    return None  # decision E4: a blank condition blanks the whole if
                if condition is True:
                    return self.evaluate(branch.value, record)
            if node.else_branch is None:
                return None
            return self.evaluate(node.else_branch, record)
        assert isinstance(node, Missing)
        raise NotEvaluable("the formula has syntax errors", node.span)

    def _chain(self, node: Binary, record: Record) -> Value:
        bottom, chain = left_spine(node)
        value = self.evaluate(bottom, record)
        for link in chain:
            op = link.op
            if (op is BinaryOp.AND and value is False) or (op is BinaryOp.OR and value is True):
                continue  # the answer is known; the right side cannot change it (E3)
            right = self.evaluate(link.right, record)
            value = self._binary(link, value, right)
        return value

    def _binary(self, node: Binary, a: Value, b: Value) -> Value:
        op = node.op
        if op.is_logical:
            return logic(op, a, b)
        if op.is_comparison:
            return compare(op, a, b)
        if a is None or b is None:
            return None
        try:
            if op is BinaryOp.ADD:
                if isinstance(a, str) and isinstance(b, str):
                    return a + b
                assert isinstance(a, Decimal) and isinstance(b, Decimal)
                return add(a, b)
            assert isinstance(a, Decimal) and isinstance(b, Decimal)
            if op is BinaryOp.SUB:
                return subtract(a, b)
            if op is BinaryOp.MUL:
                return multiply(a, b)
            quotient = divide(a, b)
        except EvaluationProblem as problem:
            self.diagnostics.append(problem_diagnostic(problem, node.span))
            return None
        if quotient is None:
            self.diagnostics.append(codes.RUNTIME_DIVISION_BY_ZERO.at(node.right.span))
        return quotient

    def _call(self, node: Call, record: Record) -> Value:
        function = lookup(node.name)
        if function is None:
            raise NotEvaluable(f"`{node.name}` is not a function", node.name_span)
        args = [self.evaluate(arg, record) for arg in node.args]
        if function.implementation is None:
            raise NotEvaluable(f"the meaning of `{node.name}` is not known", node.name_span)
        if function.blanks is Blanks.PROPAGATE and any(a is None for a in args):
            return None
        try:
            return function.implementation(args, self.context)
        except EvaluationProblem as problem:
            if problem.code in ("CF505", "CF507"):  # unknown offline, or here
                raise NotEvaluable(problem.message, node.span, problem.code) from None
            self.diagnostics.append(problem_diagnostic(problem, node.span))
            return None


def finish(value: Value, diagnostics: list[Diagnostic], record_id: str | None) -> Evaluation:
    if record_id is not None:
        diagnostics = [_with_record(d, record_id) for d in diagnostics]
    return Evaluation(value, tuple(diagnostics))


def not_evaluable(
    error: NotEvaluable, diagnostics: list[Diagnostic], record_id: str | None
) -> Evaluation:
    if error.code == "CF505":
        diagnostic = codes.NEEDS_PORTAL_DATA.at(error.span, message=error.reason)
    else:
        diagnostic = codes.NOT_EVALUABLE.at(error.span, reason=error.reason)
    result = finish(None, [*diagnostics, diagnostic], record_id)
    return Evaluation(None, result.diagnostics, evaluable=False)


def _with_record(diagnostic: Diagnostic, record_id: str) -> Diagnostic:
    return replace(diagnostic, context=(("record", record_id), *diagnostic.context))


def evaluate_tree(
    tree: Node,
    record: Record,
    schema: Schema | None = None,
    context: EvalContext | None = None,
    record_id: str | None = None,
) -> Evaluation:
    evaluator = ReferenceEvaluator(schema, context or EvalContext())
    try:
        value = evaluator.evaluate(tree, record)
    except NotEvaluable as error:
        return not_evaluable(error, evaluator.diagnostics, record_id)
    return finish(value, evaluator.diagnostics, record_id)
