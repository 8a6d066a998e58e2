"""The tricky corners: size, depth, bytes, recovery caps."""

from __future__ import annotations

from calcformula import dump, format, parse
from calcformula.parser import MAX_DEPTH, MAX_SHOWN


def test_formula_of_100_kb_parses() -> None:
    text = " + ".join(f"coalesce(score_{i}, 0)" for i in range(4500))
    assert len(text) > 100_000
    result = parse(text)
    assert result.ok
    assert format(result.tree).count("coalesce") == 4500


def test_5000_nested_parentheses() -> None:
    result = parse("(" * 5000 + "amount" + ")" * 5000)
    assert result.ok
    assert dump(result.tree) == "amount"


def test_5000_nested_parentheses_unclosed() -> None:
    result = parse("(" * 5000 + "amount")
    assert [d.code for d in result.diagnostics] == ["CF104"]
    assert result.diagnostics[0].span.start == 4999  # the innermost unclosed `(`


def test_deep_right_nesting_is_refused_with_a_diagnostic() -> None:
    text = "1 + (" * 1000 + "1" + ")" * 1000
    result = parse(text)
    assert [d.code for d in result.diagnostics] == ["CF115"]
    assert str(MAX_DEPTH) in result.diagnostics[0].message


def test_nul_bytes() -> None:
    result = parse("a\x00\x00 + b")
    assert [d.code for d in result.diagnostics] == ["CF102"]
    assert "U+0000" in result.diagnostics[0].message


def test_invalid_utf8_bytes() -> None:
    result = parse(b"amount + \xff\xfe 2")
    codes = [d.code for d in result.diagnostics]
    assert codes[0] == "CF001"
    assert result.diagnostics[0].span.start == 9


def test_utf8_bom_is_ignored() -> None:
    assert parse(b"\xef\xbb\xbfamount + 1").ok


def test_many_errors_are_capped_with_a_note() -> None:
    text = " ".join(["a + * b"] * 100)
    result = parse(text)
    errors = [d for d in result.diagnostics if d.code == "CF101"]
    assert len(errors) == MAX_SHOWN
    notes = [d for d in result.diagnostics if d.code == "CF199"]
    assert len(notes) == 1 and "75 more" in notes[0].message


def test_garbage_of_100_kb_finishes() -> None:
    result = parse(")(" * 50_000)
    assert not result.ok
    assert len(result.diagnostics) <= MAX_SHOWN + 2


def test_spans_of_every_node_are_inside_the_text() -> None:
    text = "if a > 1 then\n  max(b, string_length(string(c)))\nelse -d"
    result = parse(text)
    from calcformula.nodes import walk

    for node in walk(result.tree):
        assert 0 <= node.span.start < node.span.end <= len(text)
        assert (
            text[node.span.start : node.span.end].strip() == text[node.span.start : node.span.end]
        )
