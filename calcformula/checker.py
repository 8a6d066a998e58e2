"""The type checker: infers the type of every node and reports each mistake once.

Types live in side tables keyed by node (as cel-go does), never in the tree. A node whose
mistake was reported gets the ERROR type, which every rule accepts silently, so one mistake
never cascades. With a schema (HubSpot's property JSON) references are resolved and checked
against their HubSpot type; without one, names are trusted but must be read one way.

Lints (warnings) flag formulas HubSpot accepts but that probably do not do what was meant:
unguarded blanks, blank conditions, ambiguous precedence, division by zero, boolean `=`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from calcformula import codes
from calcformula.diagnostics import (
    Diagnostic,
    Fix,
    Related,
    Severity,
    TextEdit,
    sort_diagnostics,
)
from calcformula.formatter import FormatError, format_tree
from calcformula.functions import Blanks, Type, lookup
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
    PropertyKind,
    String,
    Unary,
    UnaryOp,
    left_spine,
    precedence,
)
from calcformula.parser import ParseResult, parse
from calcformula.schema import PropertyInfo, Schema

# The declared `type` of a calculation property and the formula type it needs.
DECLARED_TYPES = {
    "number": Type.NUMBER,
    "bool": Type.BOOL,
    "string": Type.STRING,
    "enumeration": Type.STRING,
    "datetime": Type.NUMBER,  # HubSpot-defined calculated datetimes exist
    "date": Type.NUMBER,
}
_KIND_WORDS = {
    PropertyKind.NUMBER: "a number",
    PropertyKind.STRING: "text",
    PropertyKind.BOOL: "a boolean",
    PropertyKind.TIMESTAMP: "a timestamp",
}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Everything the checker learned: diagnostics (syntax included), types, references."""

    parse: ParseResult
    diagnostics: tuple[Diagnostic, ...]
    result_type: Type
    types: dict[int, Type] = field(repr=False, default_factory=dict)
    references: dict[int, PropertyInfo] = field(repr=False, default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def tree(self) -> Node:
        return self.parse.tree

    def type_of(self, node: Node) -> Type:
        """The inferred type of a node of this tree (ANY for nodes never reached)."""
        return self.types.get(id(node), Type.ANY)

    def property_of(self, node: Node) -> PropertyInfo | None:
        """The schema entry a property reference resolved to."""
        return self.references.get(id(node))


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


class _Checker:
    def __init__(self, result: ParseResult, schema: Schema | None) -> None:
        self.result = result
        self.text = result.text
        self.schema = schema
        self.diagnostics: list[Diagnostic] = []
        self.types: dict[int, Type] = {}
        self.references: dict[int, PropertyInfo] = {}
        self.first_kind: dict[str, Property] = {}
        # Diagnostics a later rule may sharpen once it sees the context (index in
        # `diagnostics`): a bare checkbox compared with 0 or 1, an unknown name compared
        # with text (a value that lacks its quotes).
        self.checkbox_reads: dict[int, int] = {}
        self.unknown_names: dict[int, int] = {}

    def report(self, diagnostic: Diagnostic) -> None:
        self.diagnostics.append(diagnostic)

    def source(self, node: Node) -> str:
        return self.text[node.span.start : node.span.end]

    # --- inference ---------------------------------------------------------------------------

    def infer(self, node: Node) -> Type:
        if isinstance(node, Binary):
            return self._chain(node)
        kind = self._infer_other(node)
        self.types[id(node)] = kind
        return kind

    def _infer_other(self, node: Node) -> Type:
        if isinstance(node, Number):
            return Type.NUMBER
        if isinstance(node, String):
            return Type.STRING
        if isinstance(node, Boolean):
            return Type.BOOL
        if isinstance(node, Missing):
            return Type.ERROR
        if isinstance(node, Constant):
            if node.name is ConstantName.TARGET:
                if "." not in self.source(node):  # `TARGET.x`: the lexer reported CF210
                    self.report(codes.TARGET_VARIABLE.at(node.span))
                return Type.ANY
            if node.name is ConstantName.E and self.schema is not None and self.schema.get("e"):
                self.report(codes.EULER_SHADOWS.at(node.span))
            return Type.DATETIME if node.name is ConstantName.NOW else Type.NUMBER
        if isinstance(node, Property):
            return self._property(node)
        if isinstance(node, Unary):
            operand = self.infer(node.operand)
            if node.op is UnaryOp.NOT:
                return self._need_bool(node.operand, operand, "the operand of `not`")
            if operand is Type.ERROR or operand is Type.ANY:
                return operand
            if not operand.is_number:
                self.report(
                    codes.OPERAND_TYPE.at(
                        node.operand.span,
                        op="-",
                        expected="a number",
                        side="its operand",
                        actual=operand.words,
                        hint="",
                    )
                )
                return Type.ERROR
            return Type.NUMBER
        if isinstance(node, Call):
            return self._call(node)
        assert isinstance(node, If)
        return self._if(node)

    def _property(self, node: Property) -> Type:
        written = {
            PropertyKind.NUMBER: Type.NUMBER,
            PropertyKind.STRING: Type.STRING,
            PropertyKind.BOOL: Type.BOOL,
            PropertyKind.TIMESTAMP: Type.STRING,
        }[node.kind]
        if self.schema is None:
            if node.kind is not PropertyKind.TIMESTAMP:
                first = self.first_kind.setdefault(node.name, node)
                if first.kind is not node.kind:
                    # T2 (revised): HubSpot accepts one name read several ways; only a
                    # boolean read bare is a known trap (T2a), so that pair is a warning.
                    kinds = {first.kind, node.kind}
                    trap = PropertyKind.BOOL in kinds and PropertyKind.NUMBER in kinds
                    self.report(
                        codes.NAME_TWO_KINDS.at(
                            node.span,
                            name=node.name,
                            first=_KIND_WORDS[node.kind],
                            second=_KIND_WORDS[first.kind],
                            where=f"{first.span.line}:{first.span.column}",
                            related=(Related(first.span, f"`{node.name}` is first read here"),),
                            severity=None if trap else Severity.INFO,
                        )
                    )
            return written
        info = self.schema.get(node.name)
        if info is None:
            guess = self.schema.suggest(node.name)
            fixes: tuple[Fix, ...] = ()
            suggestion = ""
            if guess is not None:
                suggestion = f" (did you mean `{guess}`?)"
                fixes = (
                    Fix(f"Replace with `{guess}`", (TextEdit(node.name_span, guess),), safe=False),
                )
            where = f" on {self.schema.object_name}" if self.schema.object_name else ""
            self.unknown_names[id(node)] = len(self.diagnostics)
            self.report(
                codes.UNKNOWN_PROPERTY.at(
                    node.name_span, name=node.name, suggestion=suggestion + where, fixes=fixes
                )
            )
            return Type.ERROR
        self.references[id(node)] = info
        if node.kind is PropertyKind.TIMESTAMP:
            return Type.STRING
        if info.reads_as is node.kind:
            return Type.DATETIME if info.is_date else written
        # T2 (revised): a wrapper that does not match the property's type is accepted by
        # HubSpot; the value is the property's text read the way the wrapper says. Only the
        # types that result can clash (reported where they are used).
        replacement = info.reference
        if node.kind is PropertyKind.NUMBER and info.reads_as is PropertyKind.BOOL:
            fix = (Fix(f"Write `{replacement}`", (TextEdit(node.span, replacement),), safe=False),)
            self.checkbox_reads[id(node)] = len(self.diagnostics)
            self.report(codes.CHECKBOX_AS_NUMBER.at(node.span, name=node.name, fixes=fix))
        else:
            ptype = info.type if info.type != "bool" else "boolean"
            self.report(
                codes.WRONG_REFERENCE.at(
                    node.span,
                    name=node.name,
                    article=_article(ptype),
                    ptype=ptype,
                    read=_KIND_WORDS[node.kind],
                    reference=replacement,
                )
            )
        return written

    def _need_bool(self, node: Node, actual: Type, what: str) -> Type:
        if actual in (Type.BOOL, Type.ERROR, Type.ANY):
            return Type.BOOL if actual is Type.BOOL else actual
        hint = ""
        if isinstance(node, Property) and node.kind is PropertyKind.NUMBER:
            hint = f"; if `{node.name}` is a checkbox, write `bool({node.name})`"
        self.report(codes.CONDITION_TYPE.at(node.span, what=what, actual=actual.words, hint=hint))
        return Type.ERROR

    def _chain(self, node: Binary) -> Type:
        bottom, chain = left_spine(node)
        left_type = self.infer(bottom)
        left: Node = bottom
        for link in chain:
            right_type = self.infer(link.right)
            left_type = self._binary(link, left, left_type, right_type)
            self.types[id(link)] = left_type
            left = link
        return left_type

    def _binary(self, node: Binary, left: Node, lt: Type, rt: Type) -> Type:
        op = node.op
        absorbed = lt is Type.ERROR or rt is Type.ERROR
        if op.is_logical:
            a = self._need_bool(left, lt, f"the left side of `{op.value}`")
            b = self._need_bool(node.right, rt, f"the right side of `{op.value}`")
            return Type.ERROR if Type.ERROR in (a, b) else Type.BOOL
        if op in (BinaryOp.EQ, BinaryOp.NE):
            self._sharpen_equality(node, left)
        if absorbed:
            return Type.ERROR
        if Type.ANY in (lt, rt):
            return Type.BOOL if op.is_comparison else (lt if rt is Type.ANY else rt)
        if op is BinaryOp.ADD:
            if lt.is_number and rt.is_number:
                return Type.DATETIME if Type.DATETIME in (lt, rt) and lt != rt else Type.NUMBER
            if lt is Type.STRING and rt is Type.STRING:
                return Type.STRING
            if {lt, rt} & {Type.STRING} and (lt.is_number or rt.is_number):
                self.report(self._text_plus_number(node, left, lt))
                return Type.ERROR
            return self._operand_error(node, left, lt, rt, "numbers or two texts")
        if op in (BinaryOp.SUB, BinaryOp.MUL, BinaryOp.DIV):
            if lt.is_number and rt.is_number:
                if op is BinaryOp.SUB and lt is Type.DATETIME and rt is Type.NUMBER:
                    return Type.DATETIME
                return Type.NUMBER
            return self._operand_error(node, left, lt, rt, "numbers")
        if op in (BinaryOp.LT, BinaryOp.GT, BinaryOp.LE, BinaryOp.GE):
            if lt.is_number and rt.is_number:
                return Type.BOOL
            hint = "; text has no order in HubSpot formulas" if Type.STRING in (lt, rt) else ""
            return self._operand_error(node, left, lt, rt, "numbers", hint)
        # = equals !=
        if (lt.is_number and rt.is_number) or lt is rt is Type.STRING:
            return Type.BOOL
        if lt is rt is Type.BOOL:
            alternative = "not (a xor b)" if op is BinaryOp.EQ else "a xor b"
            self.report(
                codes.BOOLEAN_EQUALITY.at(
                    node.op_span, op=node.spelling or op.value, alternative=alternative
                )
            )
            return Type.BOOL
        hint = ""
        fixes: list[Fix] = []
        for index, side in enumerate((left, node.right)):
            if (
                isinstance(side, Property)
                and side.kind is PropertyKind.NUMBER
                and Type.STRING in (lt, rt)
            ):
                wrapped = f"string({self.source(side)})"
                quoted = f"'{side.name}'"
                as_text = Fix(
                    f"Read `{side.name}` as text", (TextEdit(side.span, wrapped),), safe=False
                )
                as_value = Fix(f"Quote `{side.name}`", (TextEdit(side.span, quoted),), safe=False)
                if index == 1 and self.schema is None:
                    # `string(dealstage) = closedwon`: a value that lacks its quotes.
                    hint = (
                        f"; if `{side.name}` is a value, quote it: {quoted}; if it is a "
                        f"property holding text, write `{wrapped}`"
                    )
                    fixes += [as_value, as_text]
                else:
                    hint = f"; if `{side.name}` holds text, write `{wrapped}`"
                    fixes.append(as_text)
        self.report(
            codes.COMPARE_TYPES.at(
                node.span,
                op=node.spelling or op.value,
                left=lt.words,
                right=rt.words,
                hint=hint,
                fixes=tuple(fixes),
            )
        )
        return Type.ERROR

    def _text_plus_number(self, node: Binary, left: Node, lt: Type) -> Diagnostic:
        """CF302, with the fix that fits: a bare name is most likely a text property read as
        a number (`firstname + ' '`), anything else a number to convert."""
        number = node.right if lt is Type.STRING else left
        text = self.source(number)
        if isinstance(number, Property) and number.kind is PropertyKind.NUMBER:
            info = self.references.get(id(number))
            if info is None or info.reads_as is PropertyKind.STRING:
                wrapped = f"string({text})"
                return codes.TEXT_PLUS_NUMBER.at(
                    node.span,
                    advice=f"if `{number.name}` holds text, read it with `{wrapped}`",
                    fixes=(
                        Fix(f"Write `{wrapped}`", (TextEdit(number.span, wrapped),), safe=False),
                    ),
                )
        converted = f"number_to_string{text}" if number.parens else f"number_to_string({text})"
        return codes.TEXT_PLUS_NUMBER.at(
            node.span,
            advice="convert the number with `number_to_string(…)`",
            fixes=(Fix(f"Write `{converted}`", (TextEdit(number.span, converted),)),),
        )

    def _sharpen_equality(self, node: Binary, left: Node) -> None:
        """A bare checkbox compared with 1 or 0 gets a fix that rewrites the comparison (a
        rewrap alone would compare a boolean with a number); an unknown name compared with
        text gets the quotes it probably lacks."""
        for side, other in ((left, node.right), (node.right, left)):
            index = self.checkbox_reads.get(id(side))
            if (
                index is not None
                and isinstance(side, Property)
                and isinstance(other, Number)
                and other.value in (0, 1)
            ):
                truthy = (other.value == 1) == (node.op is BinaryOp.EQ)
                wrapped = f"bool({side.name})" if truthy else f"not bool({side.name})"
                fix = Fix(f"Write `{wrapped}`", (TextEdit(node.span, wrapped),), safe=False)
                old = self.diagnostics[index]
                self.diagnostics[index] = replace(old, fixes=(fix,))
            index = self.unknown_names.get(id(side))
            if (
                index is not None
                and isinstance(side, Property)
                and self.types.get(id(other)) is Type.STRING
            ):
                quoted = f"'{side.name}'"
                old = self.diagnostics[index]
                self.diagnostics[index] = replace(
                    old,
                    message=old.message + f"; if it is a value, quote it: {quoted}",
                    # A close property name (did-you-mean) stays the first fix.
                    fixes=(
                        *old.fixes,
                        Fix(f"Quote `{side.name}`", (TextEdit(side.span, quoted),), safe=False),
                    ),
                )

    def _operand_error(
        self, node: Binary, left: Node, lt: Type, rt: Type, expected: str, hint: str = ""
    ) -> Type:
        op = "implicit multiplication" if node.implicit else node.op.value
        numbers_only = expected == "numbers"
        bad_left = not (lt.is_number or (not numbers_only and lt is Type.STRING))
        side, actual, where = (
            ("the left side", lt, left) if bad_left else ("the right side", rt, node.right)
        )
        self.report(
            codes.OPERAND_TYPE.at(
                where.span, op=op, expected=expected, side=side, actual=actual.words, hint=hint
            )
        )
        return Type.ERROR

    def _call(self, node: Call) -> Type:
        argument_types = [self.infer(arg) for arg in node.args]
        function = lookup(node.name)
        if function is None:
            return Type.ERROR  # the parser reported the unknown function
        if not function.known_signature:
            self.report(codes.UNKNOWN_SEMANTICS.at(node.name_span, name=node.name))
            return function.result
        if not function.accepts_count(len(node.args)):
            count = function.arity_text
            self.report(
                codes.ARGUMENT_COUNT.at(
                    node.span,
                    name=node.name,
                    expected=count,
                    got=len(node.args),
                    plural="" if count == "1" else "s",
                    signature=function.signature,
                )
            )
            return Type.ERROR
        failed = False
        for index, (arg, actual) in enumerate(zip(node.args, argument_types, strict=True)):
            expected = function.param_type(index)
            if expected is Type.SAME:
                expected = argument_types[0]
            if actual in (Type.ERROR, Type.ANY) or expected in (Type.ANY, Type.ERROR):
                continue
            if (expected.is_number and actual.is_number) or expected is actual:
                continue
            hint = ""
            if isinstance(arg, Property) and arg.kind is PropertyKind.NUMBER:
                if expected is Type.STRING:
                    hint = f"; if `{arg.name}` holds text, write `string({arg.name})`"
                elif expected is Type.BOOL:
                    hint = f"; if `{arg.name}` is a checkbox, write `bool({arg.name})`"
            params = function.params
            param = params[min(index, len(params) - 1)].name if params else "value"
            self.report(
                codes.ARGUMENT_TYPE.at(
                    arg.span,
                    index=index + 1,
                    name=node.name,
                    param=param,
                    expected=expected.words,
                    actual=actual.words,
                    hint=hint,
                )
            )
            failed = True
        if not failed and function.check_literals is not None:
            literals = [arg.value if isinstance(arg, String) else None for arg in node.args]
            for index, problem in function.check_literals(literals):
                self.report(codes.REGEX_PROBLEM.at(node.args[index].span, message=problem))
        if function.result is Type.SAME:
            return Type.ERROR if failed else argument_types[0]
        return function.result

    def _if(self, node: If) -> Type:
        for branch in node.branches:
            self._need_bool(branch.condition, self.infer(branch.condition), "an `if` condition")
        values = [branch.value for branch in node.branches]
        if node.else_branch is not None:
            values.append(node.else_branch)
        value_types = [self.infer(v) for v in values]
        known = [
            (v, t)
            for v, t in zip(values, value_types, strict=True)
            if t not in (Type.ERROR, Type.ANY)
        ]
        if not known:
            return Type.ERROR if Type.ERROR in value_types else Type.ANY
        kinds = {Type.NUMBER if t.is_number else t for _, t in known}
        if len(kinds) == 1:
            first = known[0][1]
            return (
                Type.DATETIME
                if all(t is Type.DATETIME for _, t in known)
                else (Type.NUMBER if first.is_number else first)
            )
        blanks = [v for v, _ in known if isinstance(v, String) and v.value == ""]
        others = {Type.NUMBER if t.is_number else t for v, t in known if v not in blanks}
        if blanks and len(others) == 1 and node.else_branch in blanks:
            # `else ''` meaning "blank" in a number or boolean formula (decision T4).
            main = others.pop()
            self.report(self._blank_branch(node, main))
            return main
        words = sorted({t.words for t in kinds})
        self.report(
            codes.BRANCH_TYPES.at(
                node.span,
                types=" and ".join(words),
                related=tuple(Related(v.span, f"this branch gives {t.words}") for v, t in known),
            )
        )
        return Type.ERROR

    def _blank_branch(self, node: If, main: Type) -> Diagnostic:
        assert node.else_branch is not None and node.else_span is not None
        start, end = node.else_span, node.else_branch.span
        whole = start.merge(end)
        return codes.BLANK_STRING_BRANCH.at(
            node.else_branch.span,
            type=main.value,
            fixes=(Fix("Replace `else ''` with `endif`", (TextEdit(whole, "endif"),), safe=False),),
        )


# --- lints -----------------------------------------------------------------------------------


def _strict_refs(node: Node) -> Iterator[Property]:
    """References whose blank makes `node` blank (through operators and strict functions)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Property):
            yield current
        elif isinstance(current, Binary) and not current.op.is_logical:
            stack.extend((current.left, current.right))
        elif isinstance(current, Unary) and current.op is UnaryOp.NEG:
            stack.append(current.operand)
        elif isinstance(current, Call):
            function = lookup(current.name)
            if function is not None and function.blanks is Blanks.PROPAGATE:
                stack.extend(current.args)
            elif current.name == "coalesce" and len(current.args) == 2:
                pass  # blank only when both are: the first is guarded


def _operands(node: Binary) -> list[Node]:
    bottom, chain = left_spine(node)
    return [bottom, *(link.right for link in chain)]


def positive_facts(node: Node) -> set[str]:
    """Properties certainly present when `node` is true (E3/E4: blank is never true)."""
    if isinstance(node, Binary) and node.op is BinaryOp.AND:
        return set().union(*(positive_facts(o) for o in _operands(node)))
    if isinstance(node, Binary) and node.op is BinaryOp.OR:
        parts = [positive_facts(o) for o in _operands(node)]
        return set.intersection(*parts)
    if isinstance(node, Unary) and node.op is UnaryOp.NOT:
        return negative_facts(node.operand)
    if isinstance(node, Call) and node.name == "is_present" and node.args:
        return {p.name for p in _strict_refs(node.args[0])}
    if isinstance(node, Binary) and node.op.is_comparison:
        return {p.name for p in _strict_refs(node)}
    return set()


def negative_facts(node: Node) -> set[str]:
    """Properties certainly present when `node` is false (a blank condition is not false)."""
    if isinstance(node, Binary) and node.op is BinaryOp.OR:
        return set().union(*(negative_facts(o) for o in _operands(node)))
    if isinstance(node, Binary) and node.op is BinaryOp.AND:
        parts = [negative_facts(o) for o in _operands(node)]
        return set.intersection(*parts)
    if isinstance(node, Unary) and node.op is UnaryOp.NOT:
        return positive_facts(node.operand)
    if isinstance(node, Call) and node.name == "is_blank" and node.args:
        return {p.name for p in _strict_refs(node.args[0])}
    if isinstance(node, Binary) and node.op.is_comparison:
        return {p.name for p in _strict_refs(node)}
    return set()


@dataclass
class _ArithmeticGroup:
    root: Node
    names: set[str] = field(default_factory=set)
    unguarded: list[Property] = field(default_factory=list)


class _Guards:
    """Finds references whose blank blanks the whole result (CF401) or a condition (CF402)."""

    def __init__(self, checker: _Checker) -> None:
        self.checker = checker
        self.groups: dict[int, _ArithmeticGroup] = {}
        self.conditions: dict[tuple[int, str], Property] = {}
        self.ifs: dict[int, If] = {}

    @staticmethod
    def _blank_anyway(node: If, name: str) -> bool:
        """True when every branch is blank whenever `name` is: then the blank condition
        changes nothing (`if substring(string(x), 0, 1) = '+' then … else string(x)`)."""
        values = [b.value for b in node.branches]
        if node.else_branch is not None:
            values.append(node.else_branch)
        return all(name in {p.name for p in _strict_refs(v)} for v in values)

    def visit(
        self,
        node: Node,
        present: frozenset[str],
        strict: bool,
        group: _ArithmeticGroup | None,
        condition: If | None,
    ) -> None:
        if isinstance(node, Property):
            if group is not None:
                group.names.add(node.name)
            if strict and node.name not in present and node.kind is not PropertyKind.TIMESTAMP:
                if condition is not None:
                    self.conditions.setdefault((id(condition), node.name), node)
                elif group is not None:
                    group.unguarded.append(node)
            return
        if isinstance(node, Binary):
            if node.op.is_arithmetic and group is None and condition is None:
                group = self.groups.setdefault(id(node), _ArithmeticGroup(node))
            if node.op.is_logical:
                facts = set(present)
                for operand in _operands(node):
                    self.visit(operand, frozenset(facts), strict, None, condition)
                    if node.op is BinaryOp.AND:
                        facts |= positive_facts(operand)
                    elif node.op is BinaryOp.OR:
                        facts |= negative_facts(operand)
                return
            for operand in (
                _operands(node) if not node.op.is_comparison else (node.left, node.right)
            ):
                self.visit(operand, present, strict, group, condition)
            return
        if isinstance(node, Unary):
            self.visit(node.operand, present, strict, group, condition)
            return
        if isinstance(node, Call):
            function = lookup(node.name)
            blanks = function.blanks if function is not None else Blanks.PROPAGATE
            if node.name == "concatenate" and group is None and condition is None:
                # A join of several texts is blank when any part is (like a sum).
                joined = self.groups.setdefault(id(node), _ArithmeticGroup(node))
                for arg in node.args:
                    self.visit(arg, present, strict, joined, condition)
                return
            for index, arg in enumerate(node.args):
                arg_strict = strict and (
                    blanks is Blanks.PROPAGATE or (blanks is Blanks.FALLBACK and index > 0)
                )
                self.visit(arg, present, arg_strict, None, condition)
            return
        if isinstance(node, If):
            facts = set(present)
            # With one branch and no else, a blank condition gives what a false one gives.
            watched = node if node.else_branch is not None or len(node.branches) > 1 else None
            self.ifs[id(node)] = node
            for branch in node.branches:
                # Without else, a blank condition gives what a false one gives: no warning.
                self.visit(
                    branch.condition,
                    frozenset(facts),
                    strict and watched is not None,
                    None,
                    watched,
                )
                self.visit(
                    branch.value,
                    frozenset(facts | positive_facts(branch.condition)),
                    strict,
                    None,
                    None,
                )
                facts |= negative_facts(branch.condition)
            if node.else_branch is not None:
                self.visit(node.else_branch, frozenset(facts), strict, None, None)

    def _unguarded(self, group: _ArithmeticGroup, listed: str, names: list[str]) -> Diagnostic:
        """CF401 with advice and a fix that fit the type: a number counts a blank as 0; a
        date cannot (0 is 1970), nor can text (`''` is itself blank), so those are guarded
        with `is_present(…)`, where a guard can give a useful value."""
        checker = self.checker
        refs = group.unguarded
        verb = "is" if len(names) == 1 else "are"
        related = tuple(Related(r.span, f"`{r.name}` may be blank") for r in refs[1:6])
        texts = [r for r in refs if checker.types.get(id(r)) is Type.STRING]
        dates = [r for r in refs if self._is_date(r)]
        if not texts and not dates:
            edits = tuple(TextEdit(r.span, f"coalesce({checker.source(r)}, 0)") for r in refs)
            return codes.UNGUARDED_BLANK.at(
                refs[0].span,
                names=listed,
                verb=verb,
                advice="count a blank as 0 with `coalesce(…, 0)`, or test `is_present(…)` first",
                related=related,
                fixes=(Fix("Count blank values as 0 with coalesce(…, 0)", edits, safe=False),),
            )
        fixes: tuple[Fix, ...] = ()
        if texts and len(refs) == 1:
            fix = self._without(group.root, refs[0])
            if fix is not None:
                fixes = (fix,)
        kind = "a date" if dates and not texts else "text"
        advice = (
            f"test `is_present(…)` first and say what the result is without it ({kind} cannot "
            + ("count as 0)" if kind == "a date" else "fall back to `''`, which is blank too)")
        )
        return codes.UNGUARDED_BLANK.at(
            refs[0].span, names=listed, verb=verb, advice=advice, related=related, fixes=fixes
        )

    def _without(self, root: Node, ref: Property) -> Fix | None:
        """`if is_present(r) then <join> else <join without r>` for a join where `r` is a
        direct part (`'Deal: ' + string(dealname)`, `concatenate(…)`)."""
        checker = self.checker
        if isinstance(root, Call):
            parts = list(root.args)
        elif isinstance(root, Binary) and root.op is BinaryOp.ADD:
            bottom, chain = left_spine(root)
            if any(link.op is not BinaryOp.ADD for link in chain):
                return None
            parts = [bottom, *(link.right for link in chain)]
        else:
            return None
        if not any(part is ref for part in parts):
            return None
        rest = [checker.source(p) for p in parts if p is not ref]
        if isinstance(root, Call) and len(rest) >= 2:
            without = f"concatenate({', '.join(rest)})"
        else:
            without = " + ".join(rest)
        whole = checker.source(root)
        reference = checker.source(ref)
        guarded = f"if is_present({reference}) then {whole} else {without}"
        if root is not checker.result.tree or root.parens:
            guarded = f"({guarded})"
        return Fix(
            f"Leave out `{ref.name}` when it is blank",
            (TextEdit(root.span, guarded),),
            safe=False,
        )

    def _is_date(self, node: Property) -> bool:
        info = self.checker.references.get(id(node))
        return info is not None and info.is_date

    def report(self) -> None:
        checker = self.checker
        for group in self.groups.values():
            if len(group.names) < 2 or not group.unguarded:
                continue
            names = sorted({p.name for p in group.unguarded})
            listed = ", ".join(f"`{n}`" for n in names[:4]) + (
                f" (or {len(names) - 4} more)" if len(names) > 4 else ""
            )
            if len(names) > 1:
                listed = "any of " + listed
            checker.report(self._unguarded(group, listed, names))
        for (if_id, name), ref in self.conditions.items():
            if self._blank_anyway(self.ifs[if_id], name):
                continue
            checker.report(
                codes.BLANK_CONDITION.at(ref.span, name=name, reference=checker.source(ref))
            )


def _precedence_lints(checker: _Checker, tree: Node) -> None:
    """Literal division by zero, and one CF403 per `+`/`-` chain that mixes in `*` or `/`
    without parentheses (with one fix that parenthesises every such term)."""
    from calcformula.nodes import walk

    sums = (BinaryOp.ADD, BinaryOp.SUB)
    inner: set[int] = set()
    nodes = list(walk(tree))
    for node in nodes:
        if isinstance(node, Binary) and node.op in sums:
            left = node.left
            if isinstance(left, Binary) and left.op in sums and left.parens == 0:
                inner.add(id(left))
    for node in nodes:
        if (
            isinstance(node, Binary)
            and node.op is BinaryOp.DIV
            and isinstance(node.right, Number)
            and node.right.value == 0
        ):
            checker.report(codes.DIVISION_BY_ZERO.at(node.right.span))
        if not (isinstance(node, Binary) and node.op in sums) or id(node) in inner:
            continue
        operands = _operands(node)
        mixed = [
            child
            for child in operands
            if isinstance(child, Binary)
            and child.op in (BinaryOp.MUL, BinaryOp.DIV)
            and child.parens == 0
            and not child.implicit
        ]
        if not mixed:
            continue
        first = mixed[0]
        explicit = "(" + checker.source(first) + ")"
        whole = checker.source(node) if node.parens == 0 else checker.source(node)[1:-1]
        shown = whole.replace(checker.source(first), explicit, 1)
        if len(mixed) > 1:
            shown = _short(shown, 40) + f" (and {len(mixed) - 1} more terms like it)"
        checker.report(
            codes.AMBIGUOUS_PRECEDENCE.at(
                first.span,
                text=_short(whole),
                explicit=_short(shown, 90),
                related=tuple(Related(m.span, "read as if in parentheses") for m in mixed[1:6]),
                fixes=(
                    Fix(
                        "Add parentheses",
                        tuple(TextEdit(m.span, "(" + checker.source(m) + ")") for m in mixed),
                    ),
                ),
            )
        )


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _result_literals(node: Node) -> Iterator[String]:
    """String literals the formula can return (through if branches and parentheses)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, String):
            yield current
        elif isinstance(current, If):
            stack.extend(b.value for b in current.branches)
            if current.else_branch is not None:
                stack.append(current.else_branch)
        elif isinstance(current, Call) and current.name == "coalesce" and current.args:
            stack.extend(current.args)


def check(
    source: str | bytes | ParseResult,
    schema: Schema | None = None,
    declared_type: str | None = None,
    options: tuple[str, ...] | None = None,
) -> CheckResult:
    """Type-check a formula; returns every diagnostic (syntax, types, lints).

    `schema` is HubSpot's property JSON of the object (see `calcformula.schema`);
    `declared_type` is the calculation property's `type` (number, bool, string, enumeration),
    and `options` the option values of an enumeration.

    >>> check("if is_present(amount) then amount * 2 else 0", declared_type="number").ok
    True
    >>> [d.code for d in check("'Number of cars: ' + num_cars").diagnostics]
    ['CF302']
    """
    result = source if isinstance(source, ParseResult) else parse(source)
    checker = _Checker(result, schema)
    tree = result.tree
    if isinstance(tree, Missing) and not result.ok:
        return CheckResult(result, result.diagnostics, Type.ERROR)
    result_type = checker.infer(tree)
    if declared_type is not None:
        expected = DECLARED_TYPES.get(declared_type)
        if (
            expected is not None
            and result_type not in (Type.ERROR, Type.ANY)
            and not ((expected.is_number and result_type.is_number) or expected is result_type)
        ):
            blanks = [s for s in _result_literals(tree) if s.value == ""]
            if blanks and expected is not Type.STRING and isinstance(tree, If):
                checker.report(checker._blank_branch(tree, expected))
            else:
                checker.report(
                    codes.RESULT_TYPE.at(
                        tree.span,
                        actual=result_type.words,
                        declared=f"{_article(declared_type)} {declared_type}",
                    )
                )
        if declared_type == "enumeration" and options:
            allowed = set(options)
            for literal in _result_literals(tree):
                if literal.value not in allowed:
                    shown = ", ".join(options[:8]) + (", …" if len(options) > 8 else "")
                    checker.report(
                        codes.NOT_AN_OPTION.at(
                            literal.span, value=format_tree(literal), options=shown
                        )
                    )
    if result.ok and not any(d.is_error for d in checker.diagnostics):
        guards = _Guards(checker)
        guards.visit(tree, frozenset(), True, None, None)
        guards.report()
        _precedence_lints(checker, tree)
    diagnostics = sort_diagnostics([*result.diagnostics, *checker.diagnostics])
    return CheckResult(result, tuple(diagnostics), result_type, checker.types, checker.references)


__all__ = ["DECLARED_TYPES", "CheckResult", "FormatError", "check", "precedence"]
