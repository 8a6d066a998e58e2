"""`CompiledFormula`: a checked formula ready to evaluate many records.

It runs the generated Python function (`codegen`). A formula too deep for Python's compiler
(its indentation or nesting limits) runs on the reference evaluator instead: slower, equally
correct, and the two must agree anyway (tested with Hypothesis).
"""

from __future__ import annotations

from collections.abc import Callable

from calcformula.checker import CheckResult
from calcformula.diagnostics import Diagnostic
from calcformula.evaluator.codegen import generate
from calcformula.evaluator.context import EvalContext
from calcformula.evaluator.reference import ReferenceEvaluator, finish, not_evaluable
from calcformula.evaluator.runtime import Evaluation, NotEvaluable, Record
from calcformula.functions import Value
from calcformula.schema import Schema

Function = Callable[[Record, list[Diagnostic]], Value]


class CompileError(ValueError):
    """The formula has errors and cannot be compiled; `diagnostics` lists them."""

    def __init__(self, diagnostics: tuple[Diagnostic, ...]) -> None:
        first = next((d for d in diagnostics if d.is_error), None)
        super().__init__(first.message if first else "the formula has errors")
        self.diagnostics = diagnostics


def _walker(checked: CheckResult, schema: Schema | None, context: EvalContext) -> Function:
    """The reference evaluator behind the same `(record, diagnostics) -> value` call."""
    tree = checked.tree

    def walk(record: Record, sink: list[Diagnostic]) -> Value:
        evaluator = ReferenceEvaluator(schema, context)
        evaluator.diagnostics = sink
        return evaluator.evaluate(tree, record)

    return walk


class CompiledFormula:
    """A formula ready to evaluate many records: `compiled.evaluate(record)`."""

    def __init__(
        self, checked: CheckResult, schema: Schema | None = None, context: EvalContext | None = None
    ) -> None:
        if not checked.ok:
            raise CompileError(checked.diagnostics)
        self.checked = checked
        self.context = context or EvalContext()
        self.generated = True
        try:
            self._code: Function = generate(checked, schema, self.context)
        except (RecursionError, SyntaxError, MemoryError, ValueError):
            self.generated = False
            self._code = _walker(checked, schema, self.context)

    def evaluate(self, record: Record, record_id: str | None = None) -> Evaluation:
        sink: list[Diagnostic] = []
        try:
            value = self._code(record, sink)
        except NotEvaluable as error:
            return not_evaluable(error, sink, record_id)
        if not sink:
            return Evaluation(value)
        return finish(value, sink, record_id)

    @property
    def function(self) -> Function:
        """The compiled function itself: `(record, diagnostics) -> value`; it raises
        NotEvaluable for records whose value cannot be known offline."""
        return self._code

    def value(self, record: Record) -> Value:
        """Just the value (None for blank or not evaluable): the fastest call."""
        try:
            return self._code(record, [])
        except NotEvaluable:
            return None
