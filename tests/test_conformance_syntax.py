"""Runs the syntax conformance cases in tests/conformance/syntax/*.cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calcformula import dump, format, parse
from calcformula.diagnostics import apply_fixes
from tests.cases import Case, load_cases

CASES = load_cases("syntax")
CORPUS = Path(__file__).parent.parent.parent / "shared" / "corpus" / "field-formulas.jsonl"


def _diagnostic_lines(case: Case) -> list[str]:
    result = parse(case.formula)
    return [
        f"{d.code} {d.span.line}:{d.span.column}-{d.span.end_line}:{d.span.end_column}"
        for d in result.diagnostics
    ]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    assert case.sections, "a case needs at least one section"
    result = parse(case.formula)
    if "tree" in case.sections:
        if "diagnostics" not in case.sections:
            assert [d.code for d in result.diagnostics] == [], "expected a clean parse"
        assert dump(result.tree) == case.sections["tree"]
    if "diagnostics" in case.sections:
        expected = case.sections["diagnostics"].splitlines()
        assert _diagnostic_lines(case) == ([] if expected == ["ok"] else expected)
    if "fixed" in case.sections:
        fixed, _ = apply_fixes(case.formula, result.diagnostics)
        assert fixed == case.sections["fixed"]
    for style in ("canonical", "hubspot"):
        if style in case.sections:
            assert format(case.formula, style=style) == case.sections[style]


def test_every_corpus_formula_has_a_case() -> None:
    """The shared corpus and corpus.cases must not drift apart."""
    if not CORPUS.is_file():
        pytest.skip("the shared corpus is not beside this checkout")
    formulas = [json.loads(line)["formula"] for line in CORPUS.read_text().splitlines() if line]
    covered = {c.formula for c in CASES if c.path.name == "corpus.cases"}
    missing = [f for f in formulas if f not in covered]
    assert not missing, f"corpus formulas without a case: {missing[:3]}"
