"""Prints syntax trees as text: the canonical layout, or the text HubSpot stores (decision C1).

Canonical: lower-case keywords and names, single spaces around operators, single-quoted
strings, explicit `*`, `=` for equality, `endif` on every `if` without `else`, the author's
parentheses kept around operators and `if`s (and added where the tree needs them), and lines
broken when a formula is longer than the width or an `if` has `elseif` branches.

HubSpot (``style="hubspot"``): what HubSpot stores (decision C1). One line with a line
break before each `elseif`, `equals` for `=`, single quotes, one space around binary
operators, `*` written out, numbers without trailing zeros, string `+` as `concatenate(…)`,
`a != b` as `not (a equals b)`, and parentheses kept only where HubSpot's own syntax tree
records them (around arithmetic, `and`/`or`/`xor` and `if`), else only where needed.

Guarantees (tested with Hypothesis): formatting is idempotent; parsing canonical output gives
a tree equal to the input (`==` ignores spans, parentheses and spellings), and parsing
HubSpot-style output gives `stored_form` of the input (the tree with HubSpot's rewrites).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from calcformula.nodes import (
    ATOM_PRECEDENCE,
    NEG_PRECEDENCE,
    NOT_PRECEDENCE,
    Binary,
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
    left_spine,
    precedence,
    walk,
)

Style = Literal["canonical", "hubspot"]
INDENT = 2

# --- a small pretty-printing document algebra (Wadler's "prettier printer") -----------------
# ("text", s) | ("line",) space or break | ("soft",) nothing or break | ("hard",) break
# | ("break_parent",) | ("nest", n, doc) | ("group", doc) | ("concat", [docs])
Doc = tuple[Any, ...]  # see the shapes above; kept loose because the renderer dispatches on [0]
LINE: Doc = ("line",)
SOFT: Doc = ("soft",)
HARD: Doc = ("hard",)
BREAK_PARENT: Doc = ("break_parent",)  # prints nothing; the group around it cannot be flat


def _text(s: str) -> Doc:
    return ("text", s)


def _cat(*docs: Doc) -> Doc:
    return ("concat", list(docs))


def _nest(doc: Doc) -> Doc:
    return ("nest", INDENT, doc)


def _group(doc: Doc) -> Doc:
    return ("group", doc)


def _flat_width(doc: Doc, limit: int) -> int:
    """Width of `doc` on one line, or more than `limit` (also for a forced line break)."""
    width = 0
    stack = [doc]
    while stack:
        d = stack.pop()
        kind = d[0]
        if kind == "text":
            width += len(d[1])
        elif kind == "line":
            width += 1
        elif kind in ("hard", "break_parent"):
            return limit + 1
        elif kind == "concat":
            stack.extend(reversed(d[1]))
        elif kind == "nest":
            stack.append(d[2])
        elif kind == "group":
            stack.append(d[1])
        if width > limit:
            return width
    return width


def _render(doc: Doc, width: int, flat: bool = False) -> str:
    """Lay out `doc` in `width` columns; with `flat`, only hard breaks break lines."""
    out: list[str] = []
    column = 0
    stack: list[tuple[int, bool, Doc]] = [(0, flat, doc)]
    while stack:
        indent, flat, d = stack.pop()
        kind = d[0]
        if kind == "text":
            out.append(d[1])
            column += len(d[1])
        elif kind == "concat":
            for part in reversed(d[1]):
                stack.append((indent, flat, part))
        elif kind == "nest":
            stack.append((indent + d[1], flat, d[2]))
        elif kind in ("line", "soft"):
            if flat:
                if kind == "line":
                    out.append(" ")
                    column += 1
            else:
                out.append("\n" + " " * indent)
                column = indent
        elif kind == "hard":
            out.append("\n" + " " * indent)
            column = indent
        elif kind == "group":
            inner: Doc = d[1]
            fits = flat or _flat_width(inner, width - column) <= width - column
            stack.append((indent, fits, inner))
    return "".join(out)


# --- from tree to document ---------------------------------------------------------------------


class FormatError(ValueError):
    """The tree cannot be printed as a formula: it has gaps (`Missing`) from syntax errors."""


def _quote(value: str) -> str:
    if "'" in value and '"' not in value:
        return '"' + value.replace("\\", "\\\\") + '"'
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_KEEP_PARENS_HUBSPOT = (
    BinaryOp.ADD,
    BinaryOp.SUB,
    BinaryOp.MUL,
    BinaryOp.DIV,
    BinaryOp.AND,
    BinaryOp.OR,
    BinaryOp.XOR,
)


def _is_text(node: Node) -> bool:
    """True when `node` certainly gives text (so a `+` on it joins strings)."""
    from calcformula.functions import Type, lookup

    if isinstance(node, String):
        return True
    if isinstance(node, Property):
        return node.kind in (PropertyKind.STRING, PropertyKind.TIMESTAMP)
    if isinstance(node, Call):
        function = lookup(node.name)
        if function is None:
            return False
        if function.result is Type.SAME:
            return bool(node.args) and _is_text(node.args[0])
        return function.result is Type.STRING
    if isinstance(node, If):
        values = [b.value for b in node.branches]
        if node.else_branch is not None:
            values.append(node.else_branch)
        return any(_is_text(v) for v in values)
    if isinstance(node, Binary) and node.op is BinaryOp.ADD:
        bottom, chain = left_spine(node)
        return _is_text(bottom) or any(_is_text(link.right) for link in chain)
    return False


_MAX_CONCATENATE = 100  # concatenate takes 2 to 100 arguments


def stored_form(node: Node) -> Node:
    """The tree of what HubSpot stores for `node` (decision C1): string `+` becomes
    `concatenate(…)` (one call per run of joins, nested past 100 arguments) and `a != b`
    becomes `not (a equals b)`. The other rewrites are spellings the tree already ignores."""
    if isinstance(node, Binary):
        bottom, chain = left_spine(node)
        current = stored_form(bottom)
        text = _is_text(bottom)
        joined: Call | None = None
        for link in chain:
            right = stored_form(link.right)
            if link.op is BinaryOp.ADD and (text or _is_text(link.right)):
                text = True
                if joined is not None and len(joined.args) < _MAX_CONCATENATE:
                    joined = Call("concatenate", (*joined.args, right), link.op_span, link.span)
                else:
                    joined = Call("concatenate", (current, right), link.op_span, link.span)
                current = joined
                continue
            joined = None
            text = text and link.op is BinaryOp.ADD
            if link.op is BinaryOp.NE:
                equals = Binary(BinaryOp.EQ, current, right, link.op_span, link.span)
                current = Unary(UnaryOp.NOT, equals, link.op_span, link.span)
            else:
                current = Binary(link.op, current, right, link.op_span, link.span)
        if isinstance(current, Binary):
            return replace(current, parens=node.parens)
        if isinstance(current, Unary):
            return replace(current, parens=node.parens)
        return current
    if isinstance(node, Unary):
        operand = stored_form(node.operand)
        return Unary(node.op, operand, node.op_span, node.span, node.parens)
    if isinstance(node, Call):
        args = tuple(stored_form(a) for a in node.args)
        return Call(node.name, args, node.name_span, node.span, node.parens)
    if isinstance(node, If):
        branches = tuple(
            Branch(stored_form(b.condition), stored_form(b.value), b.keyword_span)
            for b in node.branches
        )
        other = None if node.else_branch is None else stored_form(node.else_branch)
        return If(branches, other, node.span, node.else_span, node.parens)
    return node


def _plain_number(text: str) -> str:
    """`2.50` → `2.5`, `3.0` → `3` (HubSpot's stored form); exponents are left alone."""
    text = text.lower()
    if "." not in text or "e" in text:
        return text
    text = text.rstrip("0")
    return text[:-1] if text.endswith(".") else text


class _Printer:
    def __init__(self, style: Style) -> None:
        self.style = style
        self.hubspot = style == "hubspot"

    def _own_precedence(self, node: Node) -> int:
        if isinstance(node, Binary):
            return precedence(node.op)
        if isinstance(node, Unary):
            return NOT_PRECEDENCE if node.op is UnaryOp.NOT else NEG_PRECEDENCE
        return ATOM_PRECEDENCE

    def _keeps_author_parens(self, node: Node) -> bool:
        if node.parens == 0:
            return False
        if isinstance(node, If):
            return True
        if isinstance(node, Binary):
            return not self.hubspot or node.op in _KEEP_PARENS_HUBSPOT
        return isinstance(node, Unary) and not self.hubspot

    def emit(self, node: Node, minimum: int, tail: bool) -> Doc:
        """`node` where it must bind at least `minimum`; `tail`: nothing follows it."""
        needs = self._own_precedence(node) < minimum or (isinstance(node, If) and not tail)
        if needs or self._keeps_author_parens(node):
            return _cat(_text("("), self.body(node, True), _text(")"))
        return self.body(node, tail)

    def body(self, node: Node, tail: bool) -> Doc:
        if isinstance(node, Number):
            return _text(_plain_number(node.text) if self.hubspot else node.text.lower())
        if isinstance(node, String):
            if self.hubspot:
                return _text("'" + node.value.replace("\\", "\\\\").replace("'", "\\'") + "'")
            return _text(_quote(node.value))
        if isinstance(node, Boolean):
            return _text("true" if node.value else "false")
        if isinstance(node, Constant):
            return _text(
                "NOW" if node.name is ConstantName.NOW and self.hubspot else node.name.value
            )
        if isinstance(node, Property):
            if node.kind is PropertyKind.NUMBER:
                return _text(node.name)
            return _text(f"{node.kind.value}({node.name})")
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, Unary):
            if node.op is UnaryOp.NOT:
                operand = node.operand
                if self.hubspot and isinstance(operand, Binary) and operand.op.is_comparison:
                    # `not (a equals b)`: HubSpot's form of `a != b`
                    return _cat(_text("not ("), self.body(operand, True), _text(")"))
                return _cat(_text("not "), self.emit(operand, NOT_PRECEDENCE, tail))
            return _cat(_text("-"), self.emit(node.operand, NEG_PRECEDENCE, tail))
        if isinstance(node, Binary):
            return self._binary(node, tail)
        if isinstance(node, If):
            return self._if(node, tail)
        assert isinstance(node, Missing)
        raise FormatError("the formula has syntax errors; fix them before formatting")

    def _operator(self, op: BinaryOp, spelled_equals: bool) -> str:
        if op is BinaryOp.EQ:
            return "equals" if self.hubspot else "="
        text: str = op.value
        return text

    def _binary(self, node: Binary, tail: bool) -> Doc:
        bottom, chain = left_spine(node)
        level = precedence(node.op)
        comparison = node.op.is_comparison
        right_minimum = level + 1
        left_minimum = level + 1 if comparison else level
        parts: list[Doc] = [self.emit(bottom, left_minimum, False)]
        rest: list[Doc] = []
        for index, link in enumerate(chain):
            last = index == len(chain) - 1
            operand = self.emit(link.right, right_minimum, tail if last else False)
            rest.append(
                _cat(LINE, _text(self._operator(link.op, bool(link.spelling)) + " "), operand)
            )
        if self.hubspot:
            return _cat(*parts, *rest)
        return _group(_cat(*parts, _nest(_cat(*rest))))

    def _call(self, node: Call) -> Doc:
        args: list[Doc] = []
        for index, arg in enumerate(node.args):
            if index:
                args.append(_text(","))
                args.append(LINE)
            args.append(self.emit(arg, 0, True))
        if self.hubspot:
            return _cat(_text(node.name + "("), *args, _text(")"))
        return _group(_cat(_text(node.name + "("), _nest(_cat(SOFT, *args)), SOFT, _text(")")))

    def _if(self, node: If, tail: bool) -> Doc:
        parts: list[Doc] = []
        for index, branch in enumerate(node.branches):
            condition = self.emit(branch.condition, 0, False)
            value = self.emit(branch.value, 0, True)
            if index == 0:
                parts.append(_cat(_text("if "), condition, _text(" then")))
            elif self.hubspot:
                parts.append(_cat(HARD, _text("elseif "), condition, _text(" then")))
            else:
                parts.append(_cat(LINE, _text("elseif "), condition, _text(" then")))
            parts.append(_text(" ") if self.hubspot else _empty())
            parts.append(value if self.hubspot else _nest(_cat(LINE, value)))
        if node.else_branch is not None:
            value = self.emit(node.else_branch, 0, tail)
            if self.hubspot:
                parts.append(_cat(_text(" else "), value))
            else:
                parts.append(_cat(LINE, _text("else"), _nest(_cat(LINE, value))))
        else:
            parts.append(_text(" endif") if self.hubspot else _cat(LINE, _text("endif")))
        doc = _cat(*parts)
        if self.hubspot:
            return doc
        if len(node.branches) > 1:
            return _group(_cat(BREAK_PARENT, doc))
        return _group(doc)


def _empty() -> Doc:
    return _text("")


def format_tree(tree: Node, style: Style = "canonical", width: int = 100) -> str:
    """The formula text of a syntax tree. Raises FormatError for trees with gaps."""
    if style not in ("canonical", "hubspot"):
        raise ValueError(f"unknown style {style!r}: use 'canonical' or 'hubspot'")
    if any(isinstance(n, Missing) for n in walk(tree)):
        raise FormatError("the formula has syntax errors; fix them before formatting")
    printer = _Printer(style)
    if printer.hubspot:
        tree = stored_form(tree)
    doc = printer.emit(tree, 0, True)
    if printer.hubspot:
        return _render(doc, width, flat=True)
    return _render(doc, width)
