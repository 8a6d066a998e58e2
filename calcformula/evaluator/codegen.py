"""Compiles a checked formula to the source of one Python function, the fastest evaluator.

Injection-proof by construction: no text of the formula ever becomes code. Numbers, strings,
property readers and functions are entries of a constants table `K` that the code reads by
index (`K[3]`); every name in the generated code is an internal temporary (`t12`). Blanks,
three-valued logic and blank conditions are written out as plain `if` statements, so a
record costs a few dozen bytecodes rather than a tree of calls. It must agree with the
reference evaluator (tested with Hypothesis); when a formula is too deep for Python's
compiler, `CompiledFormula` falls back to closures.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from calcformula.checker import CheckResult
from calcformula.diagnostics import Diagnostic
from calcformula.evaluator.context import EvalContext
from calcformula.evaluator.runtime import (
    EULER,
    MAX_EXPONENT,
    NotEvaluable,
    Record,
    add,
    divide_reporting,
    fast_reader,
    function_runner,
    subtract,
    times_reporting,
)
from calcformula.functions import Blanks, Function, Type, Value, lookup
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
)
from calcformula.schema import Schema
from calcformula.span import Span
from calcformula.values import EXACT_CONTEXT

Sink = list[Diagnostic]
_COMPARE = {
    BinaryOp.LT: "<",
    BinaryOp.GT: ">",
    BinaryOp.LE: "<=",
    BinaryOp.GE: ">=",
    BinaryOp.EQ: "==",
    BinaryOp.NE: "!=",
}


class _Generator:
    def __init__(self, checked: CheckResult, schema: Schema | None, context: EvalContext):
        self.checked = checked
        self.schema = schema
        self.context = context
        self.constants: list[Any] = []
        self.lines: list[str] = []
        self.indent = 2
        self.counter = 0
        # Property reads whose temporary holds the value on every path to the current line:
        # (name, kind) -> temporary. A later reference reuses a value that is not blank (a
        # non-blank read never adds a diagnostic, so nothing observable changes); a blank one
        # is read again, so that each reference still reports its own unreadable value.
        self.known: dict[tuple[str, PropertyKind], str] = {}

    def const(self, value: Any) -> str:
        self.constants.append(value)
        return f"k{len(self.constants) - 1}"

    def branch(self) -> dict[tuple[str, PropertyKind], str]:
        """Entering code that runs on some paths only: what it reads is forgotten after."""
        return dict(self.known)

    def temp(self) -> str:
        self.counter += 1
        return f"t{self.counter}"

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)

    # --- expressions: each returns the name (or constant) holding the value ---------------

    def value(self, node: Node) -> str:
        if isinstance(node, Number | String | Boolean):
            return self.const(node.value)
        if isinstance(node, Constant):
            if node.name is ConstantName.E:
                return self.const(EULER)
            if node.name is ConstantName.NOW:
                return self.const(Decimal(self.context.now_ms))
            return self.fail("`TARGET` has no known meaning in a calculation", node.span)
        if isinstance(node, Property):
            info = self.schema.get(node.name) if self.schema is not None else None
            reader = self.const(fast_reader(node.name, node.kind, info, node.span))
            target = self.temp()
            earlier = self.known.get((node.name, node.kind))
            if earlier is None:
                self.emit(f"{target} = {reader}(record, sink)")
                self.known[(node.name, node.kind)] = target
            else:
                self.emit(
                    f"{target} = {earlier} if {earlier} is not None else {reader}(record, sink)"
                )
            return target
        if isinstance(node, Unary):
            operand = self.value(node.operand)
            target = self.temp()
            operation = "not " if node.op is UnaryOp.NOT else "-"
            self.emit(f"{target} = None if {operand} is None else {operation}{operand}")
            return target
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, If):
            return self.conditional(node)
        return self.fail("the formula has syntax errors", node.span)

    def fail(self, reason: str, span: Span, code: str = "CF507") -> str:
        error = NotEvaluable(reason, span, code)

        def raise_it() -> Value:
            raise error

        target = self.temp()
        self.emit(f"{target} = {self.const(raise_it)}()")
        return target

    def binary(self, node: Binary) -> str:
        bottom, chain = left_spine(node)
        current = self.value(bottom)
        for link in chain:
            current = self.link(link, current)
        return current

    def link(self, node: Binary, left: str) -> str:
        op = node.op
        target = self.temp()
        if op in (BinaryOp.AND, BinaryOp.OR):
            decided = "False" if op is BinaryOp.AND else "True"
            self.emit(f"if {left} is {decided}:")
            self.indent += 1
            self.emit(f"{target} = {decided}")
            self.indent -= 1
            self.emit("else:")
            self.indent += 1
            saved = self.branch()
            right = self.value(node.right)
            if op is BinaryOp.AND:
                self.emit(
                    f"{target} = False if {right} is False else "
                    f"(True if {left} is True and {right} is True else None)"
                )
            else:
                self.emit(
                    f"{target} = True if {right} is True else "
                    f"(False if {left} is False and {right} is False else None)"
                )
            self.known = saved
            self.indent -= 1
            return target
        right = self.value(node.right)
        blank = f"{left} is None or {right} is None"
        if op is BinaryOp.XOR:
            self.emit(f"{target} = None if {blank} else {left} != {right}")
        elif op.is_comparison:
            self.emit(f"{target} = None if {blank} else {left} {_COMPARE[op]} {right}")
        elif op is BinaryOp.ADD and self.checked.type_of(node) is Type.STRING:
            self.emit(f"{target} = None if {blank} else {left} + {right}")
        elif op is BinaryOp.ADD:
            plus = self.const(_plus)
            self.emit(f"{target} = None if {blank} else {plus}({left}, {right})")
        elif op is BinaryOp.SUB:
            self.emit(f"{target} = None if {blank} else {self.const(subtract)}({left}, {right})")
        elif op is BinaryOp.MUL:
            # The exact product in one C call; anything out of range (a decimal signal, or an
            # exponent beyond ±MAX_EXPONENT) is computed again by the reporting helper, which
            # gives the blank and its diagnostic.
            helper = self.const(times_reporting(node.span))
            self.emit(f"if {blank}:")
            self.emit(f"    {target} = None")
            self.emit("else:")
            self.emit("    try:")
            self.emit(f"        {target} = {self.const(EXACT_CONTEXT.multiply)}({left}, {right})")
            self.emit("    except " + self.const(decimal.DecimalException) + ":")
            self.emit(f"        {target} = {helper}({left}, {right}, sink)")
            self.emit(
                f"    if {target} and not {-MAX_EXPONENT} <= {target}.adjusted() <= {MAX_EXPONENT}:"
            )
            self.emit(f"        {target} = {helper}({left}, {right}, sink)")
        else:
            helper = self.const(divide_reporting(node.span, node.right.span))
            self.emit(f"{target} = None if {blank} else {helper}({left}, {right}, sink)")
        return target

    def call(self, node: Call) -> str:
        function = lookup(node.name)
        args = [self.value(arg) for arg in node.args]
        target = self.temp()
        if function is None or function.implementation is None:
            return self.fail(f"the meaning of `{node.name}` is not known", node.name_span)
        if node.name == "is_present" and len(args) == 1:
            self.emit(f"{target} = {args[0]} is not None")
            return target
        if node.name == "coalesce" and len(args) == 2:
            self.emit(f"{target} = {args[0]} if {args[0]} is not None else {args[1]}")
            return target
        runner = self.const(function_runner(function.implementation, self.context, node.span))
        packed = "(" + ", ".join(args) + ("," if len(args) == 1 else "") + ")"
        fast = self.specialized(function, node)
        if fast is not None:
            # The other arguments are numbers written in the formula: never blank.
            self.emit(f"if {args[0]} is None:")
            self.emit(f"    {target} = None")
            self.emit("else:")
            self.emit("    try:")
            self.emit(f"        {target} = {self.const(fast)}({args[0]})")
            self.emit(f"    except {self.const(ArithmeticError)}:")
            self.emit(f"        {target} = {runner}({packed}, sink)")
            return target
        if function.blanks is Blanks.PROPAGATE and args:
            blank = " or ".join(f"{a} is None" for a in args)
            self.emit(f"{target} = None if {blank} else {runner}({packed}, sink)")
        else:
            self.emit(f"{target} = {runner}({packed}, sink)")
        return target

    def specialized(self, function: Function, node: Call) -> Callable[[Value], Value] | None:
        """The registry's cheaper form of a call whose other arguments are written numbers."""
        rest = node.args[1:]
        if (
            function.specialize is None
            or function.blanks is not Blanks.PROPAGATE
            or not rest
            or not all(isinstance(arg, Number) for arg in rest)
        ):
            return None
        return function.specialize([arg.value for arg in rest if isinstance(arg, Number)])

    def conditional(self, node: If) -> str:
        target = self.temp()
        unset = self.const(_UNSET)
        self.emit(f"{target} = {unset}")
        outer = self.known
        for index, branch in enumerate(node.branches):
            if index:
                self.emit(f"if {target} is {unset}:")
                self.indent += 1
            condition = self.value(branch.condition)
            if not index:
                outer = self.branch()  # the first condition runs on every path
            self.emit(f"if {condition} is None:")
            self.indent += 1
            self.emit(f"{target} = None")
            self.indent -= 1
            self.emit(f"elif {condition} is True:")
            self.indent += 1
            saved = self.branch()
            self.emit(f"{target} = {self.value(branch.value)}")
            self.known = saved
            self.indent -= 1
            if index:
                self.indent -= 1
        self.emit(f"if {target} is {unset}:")
        self.indent += 1
        if node.else_branch is not None:
            self.emit(f"{target} = {self.value(node.else_branch)}")
        else:
            self.emit(f"{target} = None")
        self.indent -= 1
        self.known = outer
        return target


_UNSET = object()


def _plus(a: Decimal, b: Decimal) -> Decimal:
    return add(a, b)


def generate(
    checked: CheckResult, schema: Schema | None, context: EvalContext
) -> Callable[[Record, Sink], Value]:
    """The formula as one Python function `(record, sink) -> value`. Raises RecursionError,
    SyntaxError or MemoryError for formulas too deep for Python's compiler."""
    generator = _Generator(checked, schema, context)
    result = generator.value(checked.tree)
    # The constants are locals of an enclosing function, so the formula reads them as closure
    # cells (faster than indexing a global table at every reference).
    bind = "".join(f"    k{i} = K[{i}]\n" for i in range(len(generator.constants)))
    source = (
        f"def build(K):\n{bind}    def formula(record, sink):\n"
        + "\n".join(generator.lines)
        + f"\n        return {result}\n    return formula\n"
    )
    namespace: dict[str, Any] = {"__builtins__": {}}
    exec(compile(source, "<calcformula>", "exec"), namespace)
    function: Callable[[Record, Sink], Value] = namespace["build"](generator.constants)
    function.__source__ = source  # type: ignore[attr-defined]
    return function
