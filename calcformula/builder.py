"""Builds the typed syntax tree while Lark parses: one method per grammar alias.

Lark calls these on every reduction (no intermediate parse tree), passing the children:
our tokens and already-built nodes. Spans are joined from the first and last child.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from lark import Transformer

from calcformula.nodes import Binary as BinaryNode
from calcformula.nodes import (
    BinaryOp,
    Boolean,
    Branch,
    Call,
    Constant,
    ConstantName,
    If,
    Missing,
    Node,
    Number,
    Property,
    PropertyKind,
    String,
    Unary,
    UnaryOp,
)
from calcformula.span import Span
from calcformula.tokens import Token

_BINARY = {
    "PLUS": BinaryOp.ADD,
    "MINUS": BinaryOp.SUB,
    "STAR": BinaryOp.MUL,
    "SLASH": BinaryOp.DIV,
    "LT": BinaryOp.LT,
    "GT": BinaryOp.GT,
    "LE": BinaryOp.LE,
    "GE": BinaryOp.GE,
    "EQ": BinaryOp.EQ,
    "EQUALS": BinaryOp.EQ,
    "NE": BinaryOp.NE,
    "AND": BinaryOp.AND,
    "OR": BinaryOp.OR,
    "XOR": BinaryOp.XOR,
}
_WRAPPERS = {
    "STRING_WRAPPER": PropertyKind.STRING,
    "BOOL_WRAPPER": PropertyKind.BOOL,
    "TIMESTAMP_WRAPPER": PropertyKind.TIMESTAMP,
}


def _join(first: Span, last: Span) -> Span:
    return Span(first.start, last.end, first.line, first.column, last.end_line, last.end_column)


def unescape(literal: str) -> str:
    """The value of a string literal: quotes removed, `\\\\` and `\\'`/`\\"` unescaped (S2)."""
    body = literal[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body) and body[i + 1] in "\\'\"":
            out.append(body[i + 1])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


class AstBuilder(Transformer[Token, Node]):
    """Stateless: one instance serves every parse."""

    def number(self, children: list[Token]) -> Node:
        token = children[0]
        try:
            value = Decimal(token.value)
        except InvalidOperation:  # pragma: no cover - the NUMBER pattern admits only numbers
            return Missing(token.span)
        return Number(value, token.value, token.span)

    def string(self, children: list[Token]) -> Node:
        token = children[0]
        return String(unescape(token.value), token.value[0], token.span)

    def true(self, children: list[Token]) -> Node:
        return Boolean(True, children[0].span)

    def false(self, children: list[Token]) -> Node:
        return Boolean(False, children[0].span)

    def euler(self, children: list[Token]) -> Node:
        return Constant(ConstantName.E, children[0].span)

    def now(self, children: list[Token]) -> Node:
        return Constant(ConstantName.NOW, children[0].span)

    def target(self, children: list[Token]) -> Node:
        return Constant(ConstantName.TARGET, children[0].span)

    def missing(self, children: list[Token]) -> Node:
        return Missing(children[0].span)

    def number_property(self, children: list[Token]) -> Node:
        token = children[0]
        return Property(token.value.lower(), PropertyKind.NUMBER, token.span, token.span)

    def wrapper(self, children: list[Token]) -> Token:
        return children[0]

    def compare_op(self, children: list[Token]) -> Token:
        return children[0]

    def wrapped_property(self, children: list[Token]) -> Node:
        wrapper, _, name, close = children
        span = _join(wrapper.span, close.span)
        if not name.value:
            return Missing(span)
        return Property(name.value.lower(), _WRAPPERS[wrapper.type], name.span, span)

    def call(self, children: list[Any]) -> Node:
        name, _, arguments, close = children
        args: tuple[Node, ...] = tuple(arguments) if arguments is not None else ()
        return Call(name.value.lower(), args, name.span, _join(name.span, close.span))

    def arguments(self, children: list[Any]) -> list[Node]:
        return children[::2]

    def group(self, children: list[Any]) -> Node:
        open_paren, inner, close = children
        assert isinstance(inner, Node)
        grouped: Node = dataclasses.replace(
            cast(Any, inner), span=_join(open_paren.span, close.span), parens=inner.parens + 1
        )
        return grouped

    def binary(self, children: list[Any]) -> Node:
        left, operator, right = children
        op = _BINARY[operator.type]
        spelling = "equals" if operator.type == "EQUALS" else ""
        return BinaryNode(op, left, right, operator.span, _join(left.span, right.span), spelling)

    def implicit_multiply(self, children: list[Node]) -> Node:
        left, right = children
        between = Span(
            left.span.end,
            right.span.start,
            left.span.end_line,
            left.span.end_column,
            right.span.line,
            right.span.column,
        )
        return BinaryNode(
            BinaryOp.MUL, left, right, between, _join(left.span, right.span), implicit=True
        )

    def unary(self, children: list[Any]) -> Node:
        operator, operand = children
        op = UnaryOp.NOT if operator.type == "NOT" else UnaryOp.NEG
        return Unary(op, operand, operator.span, _join(operator.span, operand.span))

    # An `if` tail is built as nested tuples and unrolled by if_expr, without recursion.
    def open_end(self, children: list[Any]) -> tuple[Any, ...]:
        return ("open",)

    def endif_end(self, children: list[Any]) -> tuple[Any, ...]:
        return ("endif", children[0])

    def else_end(self, children: list[Any]) -> tuple[Any, ...]:
        return ("else", children[0], children[1])

    def elseif_branch(self, children: list[Any]) -> tuple[Any, ...]:
        keyword, condition, _, value, tail = children
        return ("elseif", keyword, condition, value, tail)

    def if_expr(self, children: list[Any]) -> Node:
        keyword, condition, _, value, tail = children
        branches = [Branch(condition, value, keyword.span)]
        last: Span = value.span
        while tail[0] == "elseif":
            _, elseif_keyword, elseif_condition, elseif_value, tail = tail
            branches.append(Branch(elseif_condition, elseif_value, elseif_keyword.span))
            last = elseif_value.span
        else_branch: Node | None = None
        else_span: Span | None = None
        if tail[0] == "else":
            else_span = tail[1].span
            else_branch = tail[2]
            assert else_branch is not None
            last = else_branch.span
        elif tail[0] == "endif":
            else_span = tail[1].span
            assert else_span is not None
            last = else_span
        return If(tuple(branches), else_branch, _join(keyword.span, last), else_span)
