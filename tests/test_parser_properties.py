"""Hypothesis hunts for inputs that make the parser raise or report ranges outside the input,
and checks the formatter's guarantees on formulas generated from the grammar itself."""

from __future__ import annotations

import functools

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings
from hypothesis.extra.lark import from_lark
from lark import Lark

from calcformula import format, parse
from calcformula.formatter import stored_form
from calcformula.grammar import grammar_text
from calcformula.nodes import Node
from calcformula.parser import ParseResult


@functools.cache
def _grammar_for_generation() -> Lark:
    # Lark's Earley front end is what from_lark walks; MISSING (recovery-only) never appears.
    return Lark(grammar_text(), parser="lalr", lexer="basic")


def _spaced(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    # from_lark joins tokens with nothing between them, so `1` `2` would lex as `12`;
    # word-like tokens get a space on each side.
    return strategy.map(lambda token: f" {token} ")


def _any_case(word: str) -> st.SearchStrategy[str]:
    return _spaced(st.sampled_from([word, word.upper(), word.title()]))


def formulas() -> st.SearchStrategy[str]:
    explicit: dict[str, st.SearchStrategy[str]] = {
        "MISSING": st.just(" 1 "),
        "WHITESPACE": st.sampled_from([" ", "  ", "\n", "\t"]),
        "NAME": _spaced(
            # No keyword or function name starts with p_, so no filtering is needed.
            st.from_regex(r"[a-zA-Z0-9_]{0,6}", fullmatch=True).map(lambda n: "p_" + n)
        ),
        "NUMBER": _spaced(
            st.from_regex(r"[0-9]{1,4}(\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?", fullmatch=True)
        ),
        "STRING": st.from_regex(r"'[a-z \"]{0,5}'|\"[a-z ']{0,5}\"", fullmatch=True),
    }
    for terminal in _grammar_for_generation().terminals:
        value = getattr(terminal.pattern, "value", "")
        if terminal.name not in explicit and value.isalpha():
            explicit[terminal.name] = _any_case(value)
    return from_lark(_grammar_for_generation(), explicit=explicit)


_RESERVED = {
    "if",
    "then",
    "elseif",
    "else",
    "endif",
    "and",
    "or",
    "xor",
    "not",
    "equals",
    "true",
    "false",
    "e",
    "now",
    "target",
    "string",
    "bool",
    "timestamp",
}


def _expected_tree(tree: Node, style: str) -> Node:
    return stored_form(tree) if style == "hubspot" else tree


def _check_ranges(result: ParseResult) -> None:
    length = len(result.text)
    for diagnostic in result.diagnostics:
        span = diagnostic.span
        assert 0 <= span.start <= span.end <= length, diagnostic
        for related in diagnostic.related:
            assert 0 <= related.span.start <= related.span.end <= length
        for fix in diagnostic.fixes:
            for edit in fix.edits:
                assert 0 <= edit.span.start <= edit.span.end <= length


FORMULA_ALPHABET = st.sampled_from(
    [
        *"abcxyz_019.,()'\"+-*/<>=! \n\t{}[]&|^;#",
        *("if ", " then ", " else ", " elseif ", " endif ", " and ", " or ", " not "),
        *("max(", "string(", "bool(", "is_present(", "NOW", "e", "equals"),
        *("\x00", "\xa0", "‘", "🙂"),
    ]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_random_bytes_never_raise(data: bytes) -> None:
    _check_ranges(parse(data))


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FORMULA_ALPHABET, max_size=40).map("".join))
def test_formula_like_text_never_raises(text: str) -> None:
    result = parse(text)
    _check_ranges(result)
    if result.ok:
        # Whatever parses cleanly must format and round-trip: canonical to the same tree,
        # hubspot to the tree of HubSpot's stored form (decision C1).
        for style in ("canonical", "hubspot"):
            formatted = format(result.tree, style=style)
            assert parse(formatted).tree == _expected_tree(result.tree, style)


# from_lark discards expansions that grow too deep; that is its filtering, not ours.
@settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(formulas())
def test_grammar_generated_formulas_parse_and_round_trip(text: str) -> None:
    result = parse(text)
    _check_ranges(result)
    # The grammar's own sentences are valid formulas; the only diagnostics the parser may add
    # are about names (unknown functions, function names used as properties, keyword typos).
    assert {d.code for d in result.diagnostics if d.is_error} <= {"CF201", "CF202", "CF112"}, (
        text,
        result.diagnostics,
    )
    if result.ok:
        for style in ("canonical", "hubspot"):
            once = format(result.tree, style=style)
            again = parse(once)
            assert again.ok, (once, again.diagnostics)
            assert again.tree == _expected_tree(result.tree, style), (text, once)
            assert format(again.tree, style=style) == once


# Operands that make precedence matter: comparisons and `not` inside `=`, `+` inside `*`,
# string joins, `!=` (rewritten to `not (… equals …)`), `if` as an operand.
_LEAVES = st.sampled_from(
    ["a", "b", "1", "2.50", "'x'", "string(s)", "bool(f)", "true", "NOW", "10c", "-a"]
)


_OPERATORS = st.sampled_from(
    ["+", "-", "*", "/", "=", "!=", "<", ">=", "and", "or", "xor", "equals"]
)


def _soup(depth: int) -> st.SearchStrategy[str]:
    if depth == 0:
        return _LEAVES
    parts = _soup(depth - 1)
    binary = st.tuples(parts, _OPERATORS, parts).map(lambda t: f"{t[0]} {t[1]} {t[2]}")
    wrapped = st.tuples(parts, _OPERATORS, parts).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    negated = parts.map(lambda p: f"not {p}")
    call = st.tuples(parts, parts).map(lambda t: f"max({t[0]}, {t[1]})")
    branch = st.tuples(parts, parts, parts).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]})")
    # Binary operators carry the precedence questions: weight them up.
    return st.one_of(binary, wrapped, binary, wrapped, negated, call, branch, _LEAVES)


OPERATOR_SOUP = _soup(3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPERATOR_SOUP)
def test_hubspot_style_keeps_every_needed_parenthesis(text: str) -> None:
    """`fmt --style hubspot` output parses back to HubSpot's stored form of the same tree
    (parentheses kept wherever precedence needs them), and formatting it again changes
    nothing."""
    result = parse(text)
    if not result.ok:
        return  # chained comparisons and the like: nothing to format
    once = format(result.tree, style="hubspot")
    again = parse(once)
    assert again.ok, (text, once, again.diagnostics)
    assert again.tree == stored_form(result.tree), (text, once)
    assert stored_form(again.tree) == again.tree, (text, once)
    assert format(again.tree, style="hubspot") == once, (text, once)
    canonical = format(result.tree)
    assert parse(canonical).tree == result.tree, (text, canonical)


RANGE_ALPHABET = st.sampled_from(
    [
        *"ab019,()'+-*/<>= ",
        *("if(", "if ", " then ", " else ", " elseif ", " endif ", " an ", " and "),
        *("'big'", "string(", "max(", "is_present(", "TARGET", ".x", "**", "%", "^"),
    ]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RANGE_ALPHABET, max_size=30).map("".join))
def test_no_range_starts_inside_a_token(text: str) -> None:
    """A diagnostic's range starts where a token starts (or between tokens), never inside a
    token the user wrote (such as the `(` of a rewritten `if(`)."""
    from calcformula import check
    from calcformula.lexer import tokenize

    tokens, _ = tokenize(text)
    inside = {
        offset
        for token in tokens
        if not token.synthetic
        for offset in range(token.span.start + 1, token.span.end)
    }
    for diagnostic in check(text).diagnostics:
        assert diagnostic.span.start not in inside, (text, diagnostic)
