"""Hypothesis hunts for inputs that make the parser raise or report ranges outside the input,
and checks the formatter's guarantees on formulas generated from the grammar itself."""

from __future__ import annotations

import functools

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings
from hypothesis.extra.lark import from_lark
from lark import Lark

from calcformula import format, parse
from calcformula.grammar import grammar_text
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
        # Whatever parses cleanly must format and round-trip.
        for style in ("canonical", "hubspot"):
            formatted = format(result.tree, style=style)
            assert parse(formatted).tree == result.tree


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
            assert again.tree == result.tree, (text, once)
            assert format(again.tree, style=style) == once
