"""Runs the checker conformance cases in tests/conformance/check/*.cases."""

from __future__ import annotations

import functools

import pytest

from calcformula.checker import CheckResult, check
from calcformula.diagnostics import apply_fixes
from calcformula.schema import Schema
from tests.cases import CONFORMANCE, Case, load_cases

CASES = load_cases("check")


@functools.cache
def schema(name: str) -> Schema:
    return Schema.load(CONFORMANCE / "schemas" / f"{name}.json")


def _check(case: Case) -> CheckResult:
    sections = case.sections
    options = None
    if "options" in sections:
        options = tuple(o.strip() for o in sections["options"].split(","))
    return check(
        case.formula,
        schema=schema(sections["object"]) if "object" in sections else None,
        declared_type=sections.get("type"),
        options=options,
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    result = _check(case)
    lines = [
        f"{d.code} {d.span.line}:{d.span.column}-{d.span.end_line}:{d.span.end_column}"
        for d in result.diagnostics
    ]
    if "diagnostics" in case.sections:
        expected = case.sections["diagnostics"].splitlines()
        assert lines == ([] if expected == ["ok"] else expected)
    if "result" in case.sections:
        assert result.result_type.value == case.sections["result"]
    if "fixed" in case.sections:
        fixed, _ = apply_fixes(case.formula, result.diagnostics)
        assert fixed == case.sections["fixed"]
