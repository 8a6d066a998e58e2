"""Evaluation traces: the way to a formula's value on one record, node by node.

"Why is it blank?" is the question users ask most about calculation properties, and HubSpot
shows only the final value. `trace(formula, record)` evaluates with the reference evaluator
(so it agrees with `evaluate` by construction, and with the compiled evaluator by test) while
recording every node it evaluates: its source range, its value, and why it is blank. Nodes
the evaluator skipped (branches not taken, the right side of a decided `and`/`or`) are kept,
marked as not evaluated, because HubSpot does not evaluate them either (decision E4). For a
blank result the trace names the input properties whose values decided it, the rule that
carried each blank up (E2 propagation, E3 logic, E4 blank condition, division by zero, an
unreadable value, a checkbox read bare) and a guard that is valid for the property's type.

A left-deep chain of one precedence level (`a + b - c`) is one trace node whose children are
its operands, as the evaluator walks it: the trace is never deeper than the parser allows.

The module itself is callable (`calcformula.trace(...)` is `calcformula.trace.trace(...)`), so
that importing the submodule cannot shadow the function of the same name.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import sys
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

from calcformula import codes
from calcformula.diagnostics import Diagnostic
from calcformula.evaluator.context import EvalContext, PortalContext
from calcformula.evaluator.reference import ReferenceEvaluator, finish, not_evaluable
from calcformula.evaluator.runtime import NotEvaluable, Record
from calcformula.functions import Blanks, Value, lookup
from calcformula.nodes import (
    Binary,
    BinaryOp,
    Call,
    If,
    Node,
    Property,
    PropertyKind,
    Unary,
    left_spine,
)
from calcformula.schema import PropertyInfo, Schema
from calcformula.span import Span
from calcformula.values import format_value, json_value

if TYPE_CHECKING:
    from calcformula.checker import CheckResult
    from calcformula.records import RecordProblem, RecordRow

# Rules that carry a blank up to the result (BlankCause.rule).
E2, E3, E4 = "E2", "E3", "E4"
DIVISION_BY_ZERO = "division_by_zero"
UNREADABLE = "unreadable"
CHECKBOX_BARE = "checkbox_read_bare"  # decision T2a
NO_BRANCH = "no_branch"  # an `if … endif` whose conditions are all false
FUNCTION = "function"  # a function could not compute a value (its own diagnostic says why)
RULES = (E2, E3, E4, DIVISION_BY_ZERO, UNREADABLE, CHECKBOX_BARE, NO_BRANCH, FUNCTION)

_TEXT_WIDTH = 48  # node texts are cut to this many characters in the text rendering


@dataclass(frozen=True, slots=True)
class TraceNode:
    """One node of the formula as it was evaluated on the record.

    `value` is None for blank and for nodes not evaluated; `reason` says why a node is blank,
    unknown or not evaluated (None when there is nothing to explain)."""

    node: Node
    text: str
    span: Span
    value: Value
    evaluated: bool
    reason: str | None
    children: tuple[TraceNode, ...] = ()

    @property
    def start(self) -> int:
        return self.span.start

    @property
    def end(self) -> int:
        return self.span.end

    def at(self, offset: int) -> TraceNode | None:
        """The smallest node whose source range covers `offset` (None outside this node)."""
        if not self.span.start <= offset <= self.span.end:
            return None
        best: TraceNode = self
        current: TraceNode | None = self
        while current is not None:
            best = current
            current = next(
                (c for c in current.children if c.span.start <= offset <= c.span.end), None
            )
        return best


@dataclass(frozen=True, slots=True)
class BlankCause:
    """An input that decided a blank result, the rule that carried its blank up, and a guard.

    `property` is None when no input is to blame (a literal zero divisor, an `if` whose
    conditions were all false, a function that could not compute)."""

    property: str | None
    rule: str
    span: Span
    guard: str | None
    detail: str  # the clause of the explanation for this cause


@dataclass(frozen=True)
class Trace:
    """The evaluation of one formula on one record, as a tree (see the module docstring)."""

    formula: str
    value: Value
    evaluable: bool
    diagnostics: tuple[Diagnostic, ...]
    root: TraceNode | None
    blank_causes: tuple[BlankCause, ...]
    explanation: str
    record_id: str | None = None
    _replay: Callable[[Node], TraceNode | None] | None = field(
        default=None, repr=False, compare=False
    )

    def step(self, node: Node) -> TraceNode | None:
        """The step of a node of the formula's tree (None for a node of another tree).

        A link inside an operator chain (`a + b` in `a + b - c`) is not a step of its own in
        the tree; its value is its running value, replayed here from the same record when
        the chain was evaluated."""
        if self.root is None:
            return None
        stack = [self.root]
        enclosing: TraceNode | None = None
        while stack:
            current = stack.pop()
            if current.node is node:
                return current
            if current.span.start <= node.span.start and node.span.end <= current.span.end:
                enclosing = current
            stack.extend(current.children)
        if enclosing is None or not isinstance(enclosing.node, Binary):
            return None
        _, chain = left_spine(enclosing.node)
        if not any(link is node for link in chain):
            return None
        if not enclosing.evaluated or self._replay is None:
            return _Builder(self.formula, None, {})._unevaluated(node, "not evaluated")
        return self._replay(node)

    def to_json(self) -> dict[str, Any]:
        """The trace as JSON data (json.dumps-able): numbers are JSON numbers (int, or float
        for fractions); `to_json_text` keeps every digit, as `eval --format json` does."""
        return self._data(exact=False)

    def to_json_text(self) -> str:
        """`to_json()` as JSON text, numbers written exactly like eval's row values."""
        return _dump(self._data(exact=True))

    def render_text(self, color: bool = False) -> str:
        return render_text(self, color)

    def _data(self, exact: bool) -> dict[str, Any]:
        return {
            "value": _encoded(self.value, exact),
            "evaluable": self.evaluable,
            "trace": _node_data(self.root, exact) if self.root is not None else None,
            "blank_causes": list(
                dict.fromkeys(c.property for c in self.blank_causes if c.property is not None)
            ),
            "explanation": self.explanation,
        }


def _encoded(value: Value, exact: bool) -> Any:
    if isinstance(value, Decimal):
        return value if exact else json.loads(json_value(value))
    return value


def _node_data(root: TraceNode, exact: bool) -> dict[str, Any]:
    """The nested JSON data of a trace node, built without recursion (traces are as deep as
    the parser allows, and every level of JSON nests twice)."""
    made: dict[int, dict[str, Any]] = {}
    stack: list[tuple[TraceNode, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if not ready:
            stack.append((node, True))
            stack.extend((child, False) for child in node.children)
            continue
        made[id(node)] = {
            "start": node.span.start,
            "end": node.span.end,
            "text": node.text,
            "value": _encoded(node.value, exact),
            "evaluated": node.evaluated,
            "reason": node.reason,
            "children": [made.pop(id(child)) for child in node.children],
        }
    return made[id(root)]


def _dump(data: Any) -> str:
    """JSON text of plain data with Decimals written exactly, without recursion."""
    out: list[str] = []
    # Items are values to write, or literal text (a str wrapped in a 1-tuple).
    stack: list[Any] = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            out.append(item[0])
        elif isinstance(item, dict):
            parts: list[Any] = [("{",)]
            for index, (key, value) in enumerate(item.items()):
                parts.append((("" if index == 0 else ", ") + json.dumps(key) + ": ",))
                parts.append(value)
            parts.append(("}",))
            stack.extend(reversed(parts))
        elif isinstance(item, list):
            parts = [("[",)]
            for index, value in enumerate(item):
                if index:
                    parts.append((", ",))
                parts.append(value)
            parts.append(("]",))
            stack.extend(reversed(parts))
        elif isinstance(item, Decimal) or item is None or isinstance(item, bool | str):
            out.append(json_value(item))
        else:
            out.append(json.dumps(item, ensure_ascii=False))
    return "".join(out)


# --- recording ------------------------------------------------------------------------------


@dataclass(eq=False)
class _Frame:
    node: Node
    children: list[_Frame] = field(default_factory=list)
    value: Value = None
    evaluated: bool = True
    reason: str | None = None
    unknown: str | None = None  # why the node's value cannot be known offline
    own: list[Diagnostic] = field(default_factory=list)  # diagnostics of this node itself
    zero_divisors: list[Node] = field(default_factory=list)  # links that divided by zero
    low: int = 0
    high: int = 0


class _Tracer(ReferenceEvaluator):
    """The reference evaluator, recording a frame per evaluated node."""

    def __init__(self, schema: Schema | None, context: EvalContext) -> None:
        super().__init__(schema, context)
        self.top = _Frame(Node())
        self.stack: list[_Frame] = [self.top]

    def evaluate(self, node: Node, record: Record) -> Value:
        frame = _Frame(node, low=len(self.diagnostics))
        self.stack[-1].children.append(frame)
        self.stack.append(frame)
        try:
            frame.value = super().evaluate(node, record)
        except NotEvaluable as error:
            if not any(child.unknown for child in frame.children):
                frame.unknown = error.reason
            else:
                frame.unknown = "a part of it cannot be evaluated offline"
            raise
        finally:
            self.stack.pop()
            frame.high = len(self.diagnostics)
            inner = {i for c in frame.children for i in range(c.low, c.high)}
            frame.own = [
                self.diagnostics[i] for i in range(frame.low, frame.high) if i not in inner
            ]
        return frame.value

    def _binary(self, node: Binary, a: Value, b: Value) -> Value:
        result = super()._binary(node, a, b)
        if (
            result is None
            and node.op is BinaryOp.DIV
            and isinstance(b, Decimal)
            and b.is_zero()
            and a is not None
        ):
            self.stack[-1].zero_divisors.append(node.right)
        return result


def _operands(node: Node) -> list[Node]:
    """The children a trace shows: a chain's operands, or the node's own children."""
    if isinstance(node, Binary):
        bottom, chain = left_spine(node)
        return [bottom, *(link.right for link in chain)]
    return list(node.children())


class _Builder:
    def __init__(self, text: str, schema: Schema | None, record: Record) -> None:
        self.text = text
        self.schema = schema
        self.record = record

    def source(self, node: Node) -> str:
        return self.text[node.span.start : node.span.end]

    def short(self, node: Node) -> str:
        """The node's text on one line, cut to a readable length."""
        text = re.sub(r"\s+", " ", self.source(node)).strip()
        return text if len(text) <= _TEXT_WIDTH else text[: _TEXT_WIDTH - 1] + "…"

    def info(self, node: Property) -> PropertyInfo | None:
        return self.schema.get(node.name) if self.schema is not None else None

    def checkbox_bare(self, node: Property) -> bool:
        """A checkbox read as a number (decision T2a): the schema says bool, or, without a
        schema entry, the record holds `true`/`false`."""
        if node.kind is not PropertyKind.NUMBER:
            return False
        info = self.info(node)
        if info is not None:
            return info.type == "bool"
        raw = self.record.get(node.name)
        return isinstance(raw, bool) or (
            isinstance(raw, str) and raw.strip().lower() in ("true", "false")
        )

    def build(self, frame: _Frame) -> TraceNode:
        node = frame.node
        recorded = {id(child.node): child for child in frame.children}
        skipped = self._skip_reasons(frame)
        children = []
        for child in _operands(node):
            child_frame = recorded.get(id(child))
            if child_frame is not None:
                children.append(self.build(child_frame))
            else:
                children.append(self._unevaluated(child, skipped.get(id(child), frame)))
        return TraceNode(
            node,
            self.source(node),
            node.span,
            frame.value,
            True,
            self._reason(frame),
            tuple(children),
        )

    def _unevaluated(self, node: Node, reason: str | _Frame) -> TraceNode:
        if isinstance(reason, _Frame):
            reason = (
                "not evaluated: the formula cannot be evaluated offline"
                if reason.unknown
                else "not evaluated"
            )
        children = tuple(self._unevaluated(child, reason) for child in _operands(node))
        return TraceNode(node, self.source(node), node.span, None, False, reason, children)

    def _skip_reasons(self, frame: _Frame) -> dict[int, str]:
        """Why each child the evaluator skipped was skipped."""
        node = frame.node
        reasons: dict[int, str] = {}
        recorded = {id(child.node): child for child in frame.children}
        if isinstance(node, If):
            state = "open"  # until a condition is true or blank
            for branch in node.branches:
                condition = recorded.get(id(branch.condition))
                if state != "open":
                    reasons[id(branch.condition)] = reasons[id(branch.value)] = self._after(state)
                elif condition is None or condition.unknown:
                    break
                elif condition.value is None:
                    state = "blank"
                    reasons[id(branch.value)] = (
                        "not evaluated: its condition is blank, which blanks the `if` (E4)"
                    )
                elif condition.value is True:
                    state = "taken"
                else:
                    reasons[id(branch.value)] = "not evaluated: its condition is false"
            if node.else_branch is not None:
                reasons[id(node.else_branch)] = self._after(state)
        elif isinstance(node, Binary) and node.op in (BinaryOp.AND, BinaryOp.OR):
            _, chain = left_spine(node)
            for link in chain:
                if id(link.right) not in recorded:
                    word = "false and" if link.op is BinaryOp.AND else "true or"
                    result = "false" if link.op is BinaryOp.AND else "true"
                    reasons[id(link.right)] = (
                        f"not evaluated: `{word} …` is {result} whatever follows (E3)"
                    )
        return reasons

    @staticmethod
    def _after(state: str) -> str:
        if state == "taken":
            return "not evaluated: an earlier condition is true"
        if state == "blank":
            return "not evaluated: an earlier condition is blank, which blanks the `if` (E4)"
        return "not evaluated"

    def _reason(self, frame: _Frame) -> str | None:
        node = frame.node
        if frame.unknown:
            return f"not evaluable offline: {frame.unknown}"
        if frame.value is not None:
            return None
        if isinstance(node, Property):
            if self.checkbox_bare(node):
                return (
                    f"a checkbox read bare is blank in HubSpot, even when ticked; "
                    f"read it as `bool({node.name})`"
                )
            unreadable = [d for d in frame.own if d.code == codes.UNREADABLE_VALUE.code]
            if unreadable:
                return unreadable[0].message
            if node.kind is PropertyKind.TIMESTAMP:
                return f"`{node.name}` has no change time on this record"
            return "blank on this record"
        if frame.zero_divisors:
            return "division by zero is blank (E5)"
        blank_children = [c for c in frame.children if c.value is None and not c.unknown]
        if isinstance(node, If):
            for branch in node.branches:
                condition = next((c for c in frame.children if c.node is branch.condition), None)
                if condition is not None and condition.value is None:
                    return "the condition is blank, which blanks the whole `if` (E4)"
            if frame.children and frame.children[-1].node is not node.branches[-1].condition:
                return "the branch taken is blank"
            return "no condition is true and there is no `else`"
        if isinstance(node, Binary):
            if node.op.is_logical:
                return "an operand is blank and none decides the result (E3)"
            if blank_children:
                side = "side" if node.op.is_comparison else "term"
                return f"a blank {side} blanks it (E2)"
        if isinstance(node, Unary) and blank_children:
            return "a blank operand blanks it (E2)"
        if frame.own:
            return frame.own[0].message
        if isinstance(node, Call) and blank_children:
            function = lookup(node.name)
            if function is not None and function.blanks is Blanks.PROPAGATE:
                return "a blank argument blanks it (E2)"
            return "blank for these arguments"
        return "blank"


# --- blank causes ---------------------------------------------------------------------------


class _Causes:
    """Finds the inputs that decided a blank result, walking down the blank path."""

    def __init__(self, builder: _Builder) -> None:
        self.builder = builder
        self.found: list[BlankCause] = []

    def walk(self, frame: _Frame, path: list[_Frame]) -> None:
        if frame.value is not None or frame.unknown:
            return
        node = frame.node
        here = [*path, frame]
        if isinstance(node, Property):
            self._leaf(frame, here)
            return
        for divisor in frame.zero_divisors:
            self._zero(frame, divisor, here)
        if isinstance(node, If):
            evaluated = {id(c.node): c for c in frame.children}
            for branch in node.branches:
                condition = evaluated.get(id(branch.condition))
                if condition is None:
                    break
                if condition.value is None:
                    self.walk(condition, here)
                    return
                if condition.value is True:
                    taken = evaluated.get(id(branch.value))
                    if taken is not None:
                        self.walk(taken, here)
                    return
            if node.else_branch is not None:
                taken = evaluated.get(id(node.else_branch))
                if taken is not None:
                    self.walk(taken, here)
                return
            self.found.append(
                BlankCause(
                    None,
                    NO_BRANCH,
                    node.span,
                    None,
                    "no condition of the `if` is true and it has no `else` (`endif` gives "
                    "blank); add `else` with the value it should have then",
                )
            )
            return
        blank = [c for c in frame.children if c.value is None and not c.unknown]
        for child in blank:
            self.walk(child, here)
        if not blank and not frame.zero_divisors:
            problem = frame.own[0].message if frame.own else "no value for these inputs"
            self.found.append(
                BlankCause(
                    None,
                    FUNCTION,
                    node.span,
                    None,
                    f"`{self.builder.short(node)}` is blank: {problem}",
                )
            )

    def _zero(self, frame: _Frame, divisor: Node, path: list[_Frame]) -> None:
        builder = self.builder
        quotient = (
            next((link for link in left_spine(frame.node)[1] if link.right is divisor), frame.node)
            if isinstance(frame.node, Binary)
            else frame.node
        )
        shown = builder.short(divisor)
        dividend = builder.source(quotient)
        guard_divisor = shown if _atomic(divisor) else f"({builder.source(divisor)})"
        guard = f"if {guard_divisor} != 0 then {dividend} else 0"
        detail = (
            f"`{shown}` is 0 on this record and division by zero is blank "
            f"(`{builder.short(quotient)}`)" + self._context(path) + f"; use `{guard}` if it "
            "should be 0 instead"
        )
        properties = self._properties(divisor, frame)
        if not properties:
            self.found.append(BlankCause(None, DIVISION_BY_ZERO, divisor.span, guard, detail))
        for prop in properties:
            self.found.append(BlankCause(prop.name, DIVISION_BY_ZERO, prop.span, guard, detail))

    def _properties(self, divisor: Node, frame: _Frame) -> list[Property]:
        found: list[Property] = []
        stack = [c for c in frame.children if c.node is divisor]
        while stack:
            current = stack.pop()
            if isinstance(current.node, Property):
                found.append(current.node)
            stack.extend(current.children)
        return sorted(found, key=lambda p: p.span.start)

    def _context(self, path: list[_Frame]) -> str:
        """The E4 or E3 step above a leaf, when there is one, as a clause."""
        for index, frame in enumerate(path[:-1]):
            node, below = frame.node, path[index + 1].node
            if isinstance(node, If) and any(b.condition is below for b in node.branches):
                return (
                    f", which blanks the condition `{self.builder.short(below)}`; "
                    "a blank condition blanks the whole `if` (E4)"
                )
            if isinstance(node, Binary) and node.op.is_logical:
                return f", which blanks `{self.builder.short(node)}` (E3)"
        return ""

    def _leaf(self, frame: _Frame, path: list[_Frame]) -> None:
        builder = self.builder
        node = frame.node
        assert isinstance(node, Property)
        info = builder.info(node)
        name, read = node.name, builder.source(node)
        carrier = self._carrier(path)
        step = self._step(path)
        if builder.checkbox_bare(node):
            self.found.append(
                BlankCause(
                    name,
                    CHECKBOX_BARE,
                    node.span,
                    f"bool({name})",
                    f"`{name}` is a checkbox read as a number, which HubSpot reads as blank "
                    f"even when it is ticked{carrier}; read it as `bool({name})`",
                )
            )
            return
        unreadable = [d for d in frame.own if d.code == codes.UNREADABLE_VALUE.code]
        if step is not None:
            rule, operand = step
            guard, meaning = self._condition_guard(node, operand)
        else:
            rule, operand = E2, None
            guard, meaning = self._value_guard(node, info, path)
        if unreadable:
            raw = builder.record.get(name)
            shown = raw if isinstance(raw, str) else json.dumps(raw, default=str)
            what = f"`{name}` has the value `{shown}` on this record, which cannot be read " + (
                f"as {'a ' + info.type if info is not None and info.is_date else _kind(node)}"
            )
            self.found.append(
                BlankCause(
                    name,
                    UNREADABLE,
                    node.span,
                    guard,
                    f"{what}, so it is blank{carrier}; fix the value, or use `{guard}` {meaning}",
                )
            )
            return
        if node.kind is PropertyKind.TIMESTAMP:
            what = f"`{read}` is blank (`{name}` has no change time) on this record"
        else:
            what = f"`{read}` is blank on this record"
        self.found.append(
            BlankCause(name, rule, node.span, guard, f"{what}{carrier}; use `{guard}` {meaning}")
        )

    def _step(self, path: list[_Frame]) -> tuple[str, Node] | None:
        """The outermost E4 (blank condition) or E3 (logic) step on the path, with the
        operand it made blank."""
        for index, frame in enumerate(path[:-1]):
            node, below = frame.node, path[index + 1].node
            if isinstance(node, If) and any(b.condition is below for b in node.branches):
                return E4, below
            if isinstance(node, Binary) and node.op.is_logical:
                return E3, below
        return None

    def _carrier(self, path: list[_Frame]) -> str:
        """The clause saying how the blank travelled up, innermost operator first."""
        builder = self.builder
        step = self._step(path)
        if step is not None:
            rule, operand = step
            owner = next(f.node for f in path if _holds(f.node, operand))
            if rule == E4:
                return (
                    f" (the condition `{builder.short(operand)}` is blank, and a blank "
                    "condition blanks the whole `if`, it does not fall to `else`)"
                )
            return (
                f" (`{builder.short(owner)}` is blank when an operand is blank and no "
                "operand decides it: three-valued logic)"
            )
        for frame in reversed(path[:-1]):
            node = frame.node
            if isinstance(node, If):
                continue
            text = builder.short(node)
            if isinstance(node, Binary):
                side = "side" if node.op.is_comparison else "term"
                return f" (a blank {side} blanks `{text}`)"
            if isinstance(node, Unary):
                return f" (a blank operand blanks `{text}`)"
            if isinstance(node, Call):
                function = lookup(node.name)
                if function is not None and function.blanks is Blanks.PROPAGATE:
                    return f" (a blank argument blanks `{text}`)"
                return f" (`{text}` is blank for these arguments)"
        return ""

    def _condition_guard(self, node: Property, operand: Node) -> tuple[str, str]:
        read = self.builder.source(node)
        if operand is node and node.kind is PropertyKind.BOOL:
            return f"coalesce({read}, false)", "if blank should count as false"
        text = self.builder.source(operand)
        if not (
            _atomic(operand)
            or (isinstance(operand, Binary) and operand.op is BinaryOp.AND and not operand.parens)
            or (isinstance(operand, Binary) and (operand.op.is_comparison or operand.parens))
        ):
            text = f"({text})"
        return f"is_present({read}) and {text}", f"so that a blank `{read}` counts as false"

    def _value_guard(
        self, node: Property, info: PropertyInfo | None, path: list[_Frame]
    ) -> tuple[str, str]:
        read = self.builder.source(node)
        if node.kind is PropertyKind.STRING:
            return f"coalesce({read}, '')", "if blank should count as empty text"
        if node.kind is PropertyKind.BOOL:
            return f"coalesce({read}, false)", "if blank should count as false"
        if node.kind is PropertyKind.TIMESTAMP or (info is not None and info.is_date):
            return (
                f"is_present({read})",
                "in an `if` first: a missing date has no sensible default",
            )
        return f"coalesce({read}, 0)", "if blank should count as 0"


def _holds(node: Node, operand: Node) -> bool:
    if isinstance(node, If):
        return any(b.condition is operand for b in node.branches)
    return any(child is operand for child in _operands(node))


def _atomic(node: Node) -> bool:
    return not isinstance(node, Binary | Unary | If) or node.parens > 0


def _kind(node: Property) -> str:
    return {PropertyKind.NUMBER: "a number", PropertyKind.BOOL: "true or false"}.get(
        node.kind, "text"
    )


# --- explanation ----------------------------------------------------------------------------


def _explain(trace_root: TraceNode | None, value: Value, causes: list[BlankCause]) -> str:
    if value is None:
        if not causes:
            return "blank"
        clauses = [causes[0].detail]
        seen = {causes[0].detail}
        for cause in causes[1:]:
            if cause.detail not in seen:
                seen.add(cause.detail)
                clauses.append(cause.detail)
        if len(clauses) > 3:
            clauses = [*clauses[:3], f"and {len(clauses) - 3} more blank input(s)"]
        return "blank because " + "; and ".join(clauses)
    shown = format_value(value)
    root = trace_root
    steps: list[str] = []
    while root is not None and isinstance(root.node, If):
        node = root.node
        children = {id(c.node): c for c in root.children}
        chosen: TraceNode | None = None
        for branch in node.branches:
            condition = children[id(branch.condition)]
            if condition.evaluated and condition.value is True:
                steps.append(f"`{_short(condition.text)}` is true")
                chosen = children[id(branch.value)]
                break
        else:
            if node.else_branch is not None:
                steps.append("no condition is true, so the `else` branch gives it")
                chosen = children[id(node.else_branch)]
        root = chosen
    blanks = sorted(
        {
            n.node.name
            for n in _evaluated(trace_root)
            if isinstance(n.node, Property) and n.value is None
        }
    )
    text = f"the result is {shown}"
    if steps:
        text += " because " + ", then ".join(steps)
    elif not blanks:
        text += ": every input it reads has a value"
    if blanks:
        names = ", ".join(f"`{b}`" for b in blanks)
        text += f" ({names} {'is' if len(blanks) == 1 else 'are'} blank on this record"
        text += " but did not decide the result)"
    return text


def _short(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= _TEXT_WIDTH else text[: _TEXT_WIDTH - 1] + "…"


def _evaluated(root: TraceNode | None) -> list[TraceNode]:
    found: list[TraceNode] = []
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if node.evaluated:
            found.append(node)
            stack.extend(node.children)
    return found


# --- the entry point ------------------------------------------------------------------------


def trace(
    formula: str | CheckResult,
    record: Mapping[str, object],
    schema: Schema | None = None,
    context: PortalContext | None = None,
    now: int | dt.datetime | None = None,
    record_id: str | None = None,
) -> Trace:
    """Evaluate `formula` on `record` and return the way there (see the module docstring).

    >>> t = trace("c - d", {"c": "5", "d": ""})
    >>> t.value is None, [c.property for c in t.blank_causes]
    (True, ['d'])
    >>> print(t.explanation)
    blank because `d` is blank on this record (a blank term blanks `c - d`); use `coalesce(d, 0)` if blank should count as 0
    """  # noqa: E501
    from calcformula.checker import CheckResult, check
    from calcformula.evaluator import EvalContext

    checked = formula if isinstance(formula, CheckResult) else check(formula, schema=schema)
    text = checked.parse.text
    if not checked.ok:
        errors = tuple(d for d in checked.diagnostics if d.is_error)
        first = errors[0].message if errors else "syntax errors"
        return Trace(
            text,
            None,
            False,
            errors,
            None,
            (),
            f"not evaluated: the formula has errors ({first})",
            record_id,
        )
    evaluation_context = EvalContext.at(now, context)
    tracer = _Tracer(schema, evaluation_context)
    evaluable = True
    try:
        value = tracer.evaluate(checked.tree, record)
        evaluation = finish(value, tracer.diagnostics, record_id)
    except NotEvaluable as error:
        value, evaluable = None, False
        evaluation = not_evaluable(error, tracer.diagnostics, record_id)
    builder = _Builder(text, schema, record)
    frame = tracer.top.children[0]
    root = builder.build(frame)
    causes: list[BlankCause] = []
    if not evaluable:
        reason = frame.unknown or "it cannot be evaluated offline"
        explanation = f"not evaluable offline: {_innermost_unknown(frame) or reason}"
    else:
        finder = _Causes(builder)
        finder.walk(frame, [])
        causes = sorted(finder.found, key=lambda c: c.span.start)
        explanation = _explain(root, value, causes)

    def replay(node: Node) -> TraceNode | None:
        again = _Tracer(schema, evaluation_context)
        with contextlib.suppress(NotEvaluable):
            again.evaluate(node, record)
        return builder.build(again.top.children[0])

    return Trace(
        text,
        value,
        evaluable,
        evaluation.diagnostics,
        root,
        tuple(causes),
        explanation,
        record_id,
        replay,
    )


def _innermost_unknown(frame: _Frame) -> str | None:
    current: _Frame | None = frame
    reason = None
    while current is not None:
        if current.unknown and current.unknown != "a part of it cannot be evaluated offline":
            reason = current.unknown
        current = next((c for c in current.children if c.unknown), None)
    return reason


# --- text rendering -------------------------------------------------------------------------

_RED, _DIM, _BOLD, _RESET = "\033[1;31m", "\033[2m", "\033[1m", "\033[0m"


def render_text(trace: Trace, color: bool = False) -> str:
    """The trace as an indented tree with aligned values and a closing sentence, as
    `calcformula eval --trace` prints it. With `color`, the blank path is red and the nodes
    not evaluated are dim."""
    if trace.root is None:
        return trace.explanation + "\n"
    rows: list[tuple[int, TraceNode]] = []
    stack: list[tuple[int, TraceNode]] = [(0, trace.root)]
    while stack:
        depth, node = stack.pop()
        rows.append((depth, node))
        stack.extend((depth + 1, child) for child in reversed(node.children))
    on_path = _blank_path(trace)
    labels = ["  " * depth + _short(node.text) for depth, node in rows]
    width = min(max(len(label) for label in labels), 60)
    lines: list[str] = []
    for label, (_, node) in zip(labels, rows, strict=True):
        if not node.evaluated:
            shown = "(not evaluated)"
        elif node.reason is not None and node.reason.startswith("not evaluable"):
            shown = "(not evaluable)"
        else:
            shown = format_value(node.value)
        note = f"  {node.reason}" if node.reason and node.evaluated else ""
        line = f"{label.ljust(width)}  {shown}"
        if color:
            if not node.evaluated:
                line = f"{_DIM}{line}{_RESET}"
            elif id(node) in on_path:
                line = f"{_RED}{line}{_RESET}"
            note = f"{_DIM}{note}{_RESET}" if note else ""
        lines.append((line + note).rstrip())
    closing = trace.explanation
    lines.append(f"{_BOLD}{closing}{_RESET}" if color else closing)
    return "\n".join(lines) + "\n"


def _blank_path(trace: Trace) -> set[int]:
    """The nodes between the result and the causes of a blank (ids of TraceNodes)."""
    if trace.value is not None or trace.root is None:
        return set()
    targets = [cause.span for cause in trace.blank_causes]
    marked: set[int] = set()
    stack = [trace.root]
    while stack:
        node = stack.pop()
        if (
            node.evaluated
            and node.value is None
            and any(node.span.start <= t.start and t.end <= node.span.end for t in targets)
        ):
            marked.add(id(node))
            stack.extend(node.children)
    return marked


# --- eval --trace ---------------------------------------------------------------------------


@dataclass
class TraceCounts:
    records: int = 0
    blank: int = 0
    unknown: int = 0
    unreadable: int = 0


def write_traces(
    formulas: Sequence[tuple[str, CheckResult, EvalContext]],
    rows: Iterable[RecordRow | RecordProblem],
    output: str,
    stream: IO[str],
    schema: Schema | None,
    colour: bool,
    say: Callable[[str], None],
) -> TraceCounts:
    """`calcformula eval --trace`: each record's trace of each formula, as text (`table`) or
    as eval's JSON rows with `trace`, `blank_causes` and `explanation` added. Records that
    cannot be read are told with `say` and skipped."""
    from calcformula.records import RecordProblem

    counts = TraceCounts()
    several = len(formulas) > 1
    items: list[str] = []
    for row in rows:
        if isinstance(row, RecordProblem):
            counts.unreadable += 1
            say(f"line {row.line}: {row.message}; record skipped")
            continue
        counts.records += 1
        record_id = row.id if row.id is not None else str(row.line or counts.records)
        properties = row.properties
        for name, checked, context in formulas:
            result = trace(checked, properties, schema, context.portal, context.now_ms)
            if not result.evaluable:
                counts.unknown += 1
            elif result.value is None:
                counts.blank += 1
            if output == "table":
                title = f"record {record_id}" + (f", {name}" if several else "")
                shown = format_value(result.value) if result.evaluable else "(not evaluable)"
                header = f"{title}: {shown}"
                stream.write((f"{_BOLD}{header}{_RESET}" if colour else header) + "\n")
                stream.write(render_text(result, colour) + "\n")
                continue
            data = result._data(exact=True)
            item: dict[str, Any] = {"id": record_id}
            if several:
                item["property"] = name
            item["value"] = data["value"]
            if not result.evaluable:
                item["evaluable"] = False
            item["diagnostics"] = [
                {"code": d.code, "severity": d.severity.value, "message": d.message}
                for d in result.diagnostics
            ]
            item["trace"] = data["trace"]
            item["blank_causes"] = data["blank_causes"]
            item["explanation"] = data["explanation"]
            if output == "ndjson":
                stream.write(_dump(item) + "\n")
            else:
                items.append(_dump(item))
    if output == "json":
        summary = {
            "records": counts.records,
            "blank": counts.blank,
            "not_evaluable": counts.unknown,
            "unreadable": counts.unreadable,
        }
        stream.write('{"results": [' + ",\n".join(items) + '],\n"summary": ')
        stream.write(json.dumps(summary) + "}\n")
    return counts


class _CallableModule(types.ModuleType):
    """`calcformula.trace(...)` works whether the name is the function or this module."""

    def __call__(
        self,
        formula: str | CheckResult,
        record: Mapping[str, object],
        schema: Schema | None = None,
        context: PortalContext | None = None,
        now: int | dt.datetime | None = None,
        record_id: str | None = None,
    ) -> Trace:
        return trace(formula, record, schema, context, now, record_id)


sys.modules[__name__].__class__ = _CallableModule
