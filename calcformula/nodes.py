"""The syntax tree: small, typed, immutable node classes with a source span on every node.

Two trees are equal (``==``) when they mean the same formula: spans, parentheses and
spellings (``=`` or ``equals``, implicit or written ``*``, the quote character, the text of a
number) are ignored. That is the comparison HubSpot's canonical rewrite must survive
(decision C1) and the one the formatter's round-trip guarantee is stated in.

Walkers should not recurse down the left operand of `Binary`: a long sum is a left-deep chain
as deep as it is long. `left_spine` unrolls one chain without recursion.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from calcformula.span import Span


class PropertyKind(enum.Enum):
    """How a property reference reads its value (decision T2)."""

    NUMBER = "number"  # a bare name: number, date or datetime property
    STRING = "string"  # string(name)
    BOOL = "bool"  # bool(name)
    TIMESTAMP = "timestamp"  # timestamp(name): when the property last changed, as text


class ConstantName(enum.Enum):
    E = "e"
    NOW = "now"
    TARGET = "target"


class UnaryOp(enum.Enum):
    NEG = "-"
    NOT = "not"


class BinaryOp(enum.Enum):
    ADD = "+"
    SUB = "-"
    MUL = "*"
    DIV = "/"
    LT = "<"
    GT = ">"
    LE = "<="
    GE = ">="
    EQ = "="
    NE = "!="
    AND = "and"
    OR = "or"
    XOR = "xor"

    @property
    def is_comparison(self) -> bool:
        return self in _COMPARISONS

    @property
    def is_logical(self) -> bool:
        return self in _LOGICAL

    @property
    def is_arithmetic(self) -> bool:
        return self in _ARITHMETIC


_COMPARISONS = frozenset(
    {BinaryOp.LT, BinaryOp.GT, BinaryOp.LE, BinaryOp.GE, BinaryOp.EQ, BinaryOp.NE}
)
_LOGICAL = frozenset({BinaryOp.AND, BinaryOp.OR, BinaryOp.XOR})
_ARITHMETIC = frozenset({BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.DIV})


class Node:
    """Base of every syntax-tree node."""

    __slots__ = ()
    span: Span
    parens: int

    def children(self) -> tuple[Node, ...]:
        return ()


@dataclass(frozen=True, slots=True)
class Number(Node):
    value: Decimal
    text: str = field(compare=False)
    span: Span = field(compare=False)
    parens: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class String(Node):
    value: str
    quote: str = field(compare=False)
    span: Span = field(compare=False)
    parens: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Boolean(Node):
    value: bool
    span: Span = field(compare=False)
    parens: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Constant(Node):
    """`e`, `NOW` or `TARGET`."""

    name: ConstantName
    span: Span = field(compare=False)
    parens: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Property(Node):
    """A property reference: `amount`, `string(firstname)`, `bool(flag)`, `timestamp(x)`."""

    name: str  # lower case (decision S1)
    kind: PropertyKind
    name_span: Span = field(compare=False)
    span: Span = field(compare=False)
    parens: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str  # lower case
    args: tuple[Node, ...]
    name_span: Span = field(compare=False)
    span: Span = field(compare=False)
    parens: int = field(default=0, compare=False)

    def children(self) -> tuple[Node, ...]:
        return self.args


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: UnaryOp
    operand: Node
    op_span: Span = field(compare=False)
    span: Span = field(compare=False)
    parens: int = field(default=0, compare=False)

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: BinaryOp
    left: Node
    right: Node
    op_span: Span = field(compare=False)
    span: Span = field(compare=False)
    spelling: str = field(default="", compare=False)  # "equals" for EQ written as a word
    implicit: bool = field(default=False, compare=False)  # `10x`, `2(a + b)`
    parens: int = field(default=0, compare=False)

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(frozen=True, slots=True)
class Branch:
    """One `if`/`elseif` arm."""

    condition: Node
    value: Node
    keyword_span: Span = field(compare=False)  # the `if` or `elseif`


@dataclass(frozen=True, slots=True)
class If(Node):
    """`if C then V {elseif C then V} [else V | endif]`; `else_branch` is None for `endif`."""

    branches: tuple[Branch, ...]
    else_branch: Node | None
    span: Span = field(compare=False)
    else_span: Span | None = field(default=None, compare=False)  # the `else` or `endif`
    parens: int = field(default=0, compare=False)

    def children(self) -> tuple[Node, ...]:
        parts: list[Node] = []
        for branch in self.branches:
            parts.append(branch.condition)
            parts.append(branch.value)
        if self.else_branch is not None:
            parts.append(self.else_branch)
        return tuple(parts)


@dataclass(frozen=True, slots=True)
class Missing(Node):
    """Where error recovery found nothing: a value the user has not written (yet)."""

    span: Span = field(compare=False)
    parens: int = field(default=0, compare=False)


Expr = Number | String | Boolean | Constant | Property | Call | Unary | Binary | If | Missing


def left_spine(node: Binary) -> tuple[Node, list[Binary]]:
    """Unroll a left-deep chain: the bottom-left operand and the `Binary` nodes bottom-up.

    Only nodes of the same precedence level and without their own parentheses are part of
    the chain, so ``a + b - c`` is one chain and ``(a + b) - c`` is two.
    """
    chain: list[Binary] = [node]
    level = precedence(node.op)
    current = node.left
    while isinstance(current, Binary) and current.parens == 0 and precedence(current.op) == level:
        chain.append(current)
        current = current.left
    chain.reverse()
    return current, chain


_PRECEDENCE = {
    BinaryOp.OR: 1,
    BinaryOp.XOR: 2,
    BinaryOp.AND: 3,
    BinaryOp.LT: 5,
    BinaryOp.GT: 5,
    BinaryOp.LE: 5,
    BinaryOp.GE: 5,
    BinaryOp.EQ: 5,
    BinaryOp.NE: 5,
    BinaryOp.ADD: 6,
    BinaryOp.SUB: 6,
    BinaryOp.MUL: 7,
    BinaryOp.DIV: 7,
}
NOT_PRECEDENCE = 4
NEG_PRECEDENCE = 8
ATOM_PRECEDENCE = 9


def precedence(op: BinaryOp) -> int:
    """Binding strength of a binary operator (decision S4); higher binds tighter."""
    return _PRECEDENCE[op]


def walk(root: Node) -> Iterator[Node]:
    """Every node of a tree, parents before children, without recursion."""
    stack: list[Node] = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children()))


def nesting_depth(root: Node) -> int:
    """How deep tree walkers must recurse: left-deep operator chains count as one level."""
    depth = 0
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, level = stack.pop()
        depth = max(depth, level)
        if isinstance(node, Binary):
            stack.append((node.left, level))
            stack.append((node.right, level + 1))
        else:
            for child in node.children():
                stack.append((child, level + 1))
    return depth


def dump(root: Node) -> str:
    """A compact S-expression of the tree, for tests and debugging: ``(+ a (* 2 b))``.

    Built without recursion, so any tree the parser returns can be dumped.
    """
    # Post-order over an explicit stack: ("visit", node) expands, ("emit", n, template) joins.
    out: list[str] = []
    stack: list[tuple[str, object, int]] = [("visit", root, 0)]
    while stack:
        action, item, count = stack.pop()
        if action == "emit":
            parts = out[len(out) - count :] if count else []
            del out[len(out) - count :]
            out.append(f"({item}{''.join(' ' + p for p in parts)})")
            continue
        node = item
        assert isinstance(node, Node)
        if isinstance(node, Number):
            out.append(str(node.value))
        elif isinstance(node, String):
            out.append("'" + node.value.replace("\\", "\\\\").replace("'", "\\'") + "'")
        elif isinstance(node, Boolean):
            out.append("true" if node.value else "false")
        elif isinstance(node, Constant):
            out.append(node.name.value)
        elif isinstance(node, Missing):
            out.append("?")
        elif isinstance(node, Property):
            out.append(
                node.name
                if node.kind is PropertyKind.NUMBER
                else f"({node.kind.value} {node.name})"
            )
        else:
            if isinstance(node, Call):
                head, children = f"call {node.name}", list(node.args)
            elif isinstance(node, Unary):
                head, children = ("neg" if node.op is UnaryOp.NEG else "not"), [node.operand]
            elif isinstance(node, Binary):
                head, children = node.op.value, [node.left, node.right]
            else:
                assert isinstance(node, If)
                head = "if"
                children = list(node.children())
                if node.else_branch is None:
                    head = "if-endif"
            stack.append(("emit", head, len(children)))
            for child in reversed(children):
                stack.append(("visit", child, 0))
    return out[0]
